"""Monitor and Compare charts with MAML's twenty metrics next to protonet's: the window
stays narrow, plots stay readable and scroll, single points show, log scale works with
non-positive values, the x axis spans the run, colours follow the run, exports render
outside Qt."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage

from engine.store import Store
from gui.pages.compare import ComparePage
from gui.run_session import RunSession
from gui.widgets.live_plot import LivePlot
from gui.widgets.plot_grid import MIN_PLOT_HEIGHT
from tests.gui.metric_runs import MAML_METRICS, add_method_run, metric_rows

SCREEN_WIDTH = 1024


@pytest.fixture
def runs_db(tmp_path):
    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = {
            "proto": add_method_run(store, "protonet-a", "protonet", seed=1),
            "maml": add_method_run(store, "maml-b", "maml", seed=2),
            "maml2": add_method_run(store, "maml-c", "maml", seed=3),
            "maml3": add_method_run(store, "maml-d", "maml", seed=4),
            "proto2": add_method_run(store, "protonet-e", "protonet", seed=5),
        }
    return db, ids


@pytest.fixture
def main_window(qtbot, runs_db, fake_cmd):
    from gui.main_window import MainWindow

    db, ids = runs_db
    win = MainWindow(db_path=db, engine_command=fake_cmd, stop_timeout=3.0, restore=False)
    win.confirm_quit = lambda running: True
    qtbot.addWidget(win)
    win.resize(SCREEN_WIDTH, 700)
    win.show()
    win.ids = ids
    yield win
    win.close()


def session_of(points: list[tuple[str, int, float, float]], name: str = "s") -> RunSession:
    session = RunSession(name, name)
    session.add_points(points)
    return session


def live_plot(qtbot, session: RunSession | None = None) -> LivePlot:
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(900, 600)
    plot.show()
    if session is not None:
        plot.set_session(session)
        plot.redraw()
    return plot


def drain(qtbot, plot: LivePlot) -> None:
    """Every held-back plot made (one per redraw)."""
    for _ in range(30):
        plot.redraw()
        if not plot._dirty:
            break
    qtbot.wait(50)


# --- defect 1: the window's width --------------------------------------------------------
def test_hovering_a_maml_plot_does_not_widen_the_window(qtbot, main_window):
    win = main_window
    monitor = win.monitor_page
    win.open_run(win.ids["maml"])
    qtbot.waitUntil(lambda: monitor.session is not None and monitor.session.run_id == win.ids["maml"])
    plot = monitor.plot
    plot.picker.set_picked(plot.picker.names)  # all 20 metrics
    drain(qtbot, plot)
    qtbot.wait(100)
    before, window_before = monitor.minimumSizeHint().width(), win.minimumSizeHint().width()
    for key in plot.grid.order:
        item = plot.grid.plots[key]
        plot._on_mouse((item.vb.mapViewToScene(QPointF(100.0, 0.5)),))
    plot.show_readout(100.0)  # every metric of the run
    qtbot.wait(100)
    assert "inner_support_loss_step_5" in plot.readout.text()
    assert monitor.minimumSizeHint().width() == before
    assert win.minimumSizeHint().width() == window_before  # (3,000+ px before the fix)
    assert win.nav.width() + monitor.minimumSizeHint().width() + 40 <= SCREEN_WIDTH
    assert win.width() <= SCREEN_WIDTH + 200  # (other pages' minimums are theirs; this page adds nothing)
    assert plot.readout.width() <= monitor.width()


def test_compare_and_monitor_fit_a_1024_px_screen(qtbot, main_window):
    win = main_window
    win.compare_runs([win.ids["proto"], win.ids["maml"]])
    qtbot.waitUntil(lambda: win.compare_page.comparison is not None, timeout=10_000)
    for page in (win.compare_page, win.monitor_page):
        assert win.nav.width() + page.minimumSizeHint().width() + 40 <= SCREEN_WIDTH


# --- defect 3: Compare with many metrics ---------------------------------------------------
def test_compare_with_20_metrics_scrolls_with_readable_plots(qtbot, runs_db):
    db, ids = runs_db
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    run_ids = [ids[k] for k in ("proto", "maml", "maml2", "maml3", "proto2")]
    with qtbot.waitSignals([page.loaded, page.stats_shown], timeout=20_000):  # (the report below needs both)
        page.set_runs(run_ids)
    assert set(page.plot_items) == {"train_loss", "val_accuracy", "inner_query_accuracy_before",
                                    "inner_query_accuracy_after"}  # the defaults
    page.plots.picker.set_picked(page.plots.picker.names)
    # 20 metrics; the two final ones are stars on their validation plots. Waited for as a
    # condition: a curves_drawn of the earlier load may still be on its way.
    qtbot.waitUntil(lambda: len(page.plot_items) == 18, timeout=20_000)
    plots = page.plot_items
    # (the layout settles in the event loop)
    qtbot.waitUntil(lambda: min(p.size().height() for p in plots.values()) >= MIN_PLOT_HEIGHT - 20, timeout=10_000)
    qtbot.waitUntil(lambda: page.plots.grid.verticalScrollBar().maximum() > 0, timeout=10_000)  # it scrolls
    legend = page.plots.legend.text()
    assert all(name in legend for name in ("protonet-a", "maml-b", "maml-c", "maml-d", "protonet-e"))
    # the picks drive the reports
    page.plots.picker.set_picked(["train_loss", "val_loss"])
    assert r"Metrics charted: train\_loss, val\_loss." in _report(page, tmp=db.parent)  # Markdown-escaped


def open_compare(qtbot, db, run_ids):  # noqa: ANN001, ANN201
    """Compare with ``run_ids`` loaded, on screen at 1000 x 700."""
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.set_runs(run_ids)
    return page


def test_compare_shows_a_changed_grid_plot_by_plot_and_leaves_none_hidden(qtbot, runs_db):
    db, ids = runs_db
    page = open_compare(qtbot, db, [ids["proto"], ids["maml"]])
    seen: list[list[float]] = []
    page.plots.grid.view.scene().changed.connect(lambda _r: seen.append([p.opacity() for p in page.plot_items.values()]))
    page.plots.picker.set_picked(page.plots.picker.names)
    qtbot.waitUntil(lambda: len(page.plot_items) == 18, timeout=20_000)
    with qtbot.waitSignal(page.curves_drawn, timeout=20_000):
        page.plots.picker.set_picked(["train_loss", "val_loss"])  # a new grid while the last one is still showing
    qtbot.wait(100)
    assert all(p.opacity() == 1.0 for p in page.plot_items.values())
    assert all(p.opacity() == 1.0 for p in page.plots.grid.plots.values())  # (off the grid too)
    assert any(0 < sum(o == 1.0 for o in shown) < len(shown) for shown in seen)  # some shown, some still to come


def _report(page, tmp) -> str:
    assert page.export("md", tmp / "report.md")
    return (tmp / "report.md").read_text()


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert (Debian librsvg2-bin) is not installed")
def test_svg_export_renders_the_same_outside_qt(qtbot, runs_db, tmp_path):
    db, ids = runs_db
    page = open_compare(qtbot, db, [ids["proto"], ids["maml"]])
    qtbot.wait(100)
    for key in (None, "val_accuracy"):
        svg = tmp_path / "plots.svg"
        svg.write_bytes(page.plots.export("svg", key))
        png = tmp_path / "plots.png"
        subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True, timeout=60)
        image = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB32)  # (kept: the array views its bits)
        assert image.width() > 300 and image.height() > 200
        colours = [QColor(c).rgb() & 0xFFFFFF for _name, c in page.plots.grid.export_legend()]
        assert len(colours) == 2
        pixels = np.frombuffer(image.constBits(), dtype=np.uint32).copy()
        pixels = pixels.reshape(image.height(), -1)[:, : image.width()] & 0xFFFFFF
        coloured = np.isin(pixels, colours).mean()
        # Thin curves cover a few percent of the image; the bands rsvg drew before covered a third.
        assert 0 < coloured < 0.05, coloured


# --- defect 4: single points --------------------------------------------------------------
def test_single_points_are_drawn_as_markers(qtbot):
    session = session_of([("train_loss", s, 1.0 / s, float(s)) for s in range(1, 200)]
                         + [("val_accuracy", 100, 0.6, 100.0), ("val_macro_f1", 100, 0.55, 100.0),
                            ("test_accuracy", 200, 0.7, 200.0)])
    plot = live_plot(qtbot, session)
    plot.picker.set_picked(["train_loss", "val_accuracy", "val_macro_f1", "test_accuracy"])
    drain(qtbot, plot)
    curves = plot._curves
    assert curves["val_macro_f1"].main.opts["symbol"] is not None  # one point: a marker
    assert curves["val_accuracy"].main.opts["symbol"] is not None
    assert curves["test_accuracy"].main.opts["symbol"] == "star"
    assert curves["test_accuracy"].label.toPlainText() == "test 0.7"
    assert curves["train_loss"].main.opts["symbol"] is None  # a long curve stays a line


def test_compare_draws_single_points_and_final_values(qtbot, runs_db):
    db, ids = runs_db
    page = open_compare(qtbot, db, [ids["proto"], ids["maml"]])
    items = page.plot_items["val_accuracy"].listDataItems()
    stars = [i for i in items if i.opts["symbol"] == "star"]
    assert len(stars) == 2  # each run's test_accuracy on its validation plot
    assert all(i.opts["symbol"] is not None for i in items)  # ten validation points: markers


# --- defect 5: log scale ------------------------------------------------------------------
def test_log_toggle_shows_the_positive_data(qtbot):
    values = [2.0, 1.0, 0.0, -0.5, 0.1, 0.01]
    session = session_of([("train_loss", i + 1, v, float(i)) for i, v in enumerate(values)])
    plot = live_plot(qtbot, session)
    item = plot.grid.plots["loss"]
    plot.set_log(True)
    qtbot.wait(50)
    (_x0, _x1), (y0, y1) = item.vb.viewRange()
    assert y0 <= math.log10(0.01) and y1 >= math.log10(2.0)  # in log units, every positive point
    assert y1 - y0 < 4  # not stretched to -inf by the zero
    session.add_points([("train_loss", 7, 10.0, 6.0)])
    plot.redraw()
    assert item.vb.viewRange()[1][1] >= 1.0  # follows new data in log scale too
    item.ctrl.logYCheck.setChecked(False)  # the per-plot toggle (right-click menu)
    qtbot.wait(50)
    (_x0, _x1), (y0, y1) = item.vb.viewRange()
    assert y0 <= -0.5 and y1 >= 10.0


def test_compare_log_toggle(qtbot, runs_db):
    db, ids = runs_db
    page = open_compare(qtbot, db, [ids["proto"], ids["maml"]])
    page.log_y.setChecked(True)
    plot = page.plot_items["train_loss"]
    assert plot.ctrl.logYCheck.isChecked()
    (_x0, _x1), (y0, y1) = plot.vb.viewRange()
    assert -1 < y0 < y1 < 1  # log10 of losses between ~0.3 and ~2.1


# --- defect 6: the x axis -----------------------------------------------------------------
def test_x_axis_spans_the_run_and_never_collapses(qtbot):
    session = session_of([("val_accuracy", 10, 0.5, 5.0)])
    plot = live_plot(qtbot, session)
    plot.picker.set_picked(["val_accuracy", "train_loss"])
    x0, x1 = plot.grid.plots["accuracy"].vb.viewRange()[0]
    assert x1 - x0 >= 1.0 and x0 < 10 < x1  # one step wide at least, the point inside
    session.add_points([("train_loss", s, 1.0, float(s)) for s in range(1, 11)])
    drain(qtbot, plot)
    x0, x1 = plot.grid.plots["accuracy"].vb.viewRange()[0]
    assert x0 <= 1 and x1 >= 10  # the validation plot spans the run's steps


def test_the_x_range_holds_while_new_steps_fit_in_it(qtbot):
    """A live plot keeps its ranges (and its axes' cached pictures) until the data outgrows
    them: its left edge stays put as the span, and with it the margin, grows."""
    session = session_of([("train_loss", s, 1.0 + (s % 2), float(s)) for s in range(1, 101)])
    plot = live_plot(qtbot, session)
    before = plot.grid.plots["loss"].vb.viewRange()
    changes = []
    plot.grid.plots["loss"].vb.sigRangeChanged.connect(lambda *_a: changes.append(1))
    for first in range(101, 121, 5):  # within the headroom left for points to come
        session.add_points([("train_loss", s, 1.0 + (s % 2), float(s)) for s in range(first, first + 5)])
        plot.redraw()
    assert changes == [] and plot.grid.plots["loss"].vb.viewRange() == before
    session.add_points([("train_loss", s, 1.0, float(s)) for s in range(121, 401)])  # past it
    plot.redraw()
    x0, x1 = plot.grid.plots["loss"].vb.viewRange()[0]
    assert x0 <= 1 and x1 >= 400


def test_a_rising_curve_moves_the_y_range_now_and_then_not_every_redraw(qtbot):
    session = session_of([("train_accuracy", s, 0.2 + 0.005 * s, float(s)) for s in range(1, 21)])
    plot = live_plot(qtbot, session)
    vb = plot.grid.plots["accuracy"].vb
    changes = []
    vb.sigYRangeChanged.connect(lambda *_a: changes.append(vb.viewRange()[1]))
    for first in range(21, 61, 2):  # 20 redraws, each with a new highest point
        session.add_points([("train_accuracy", s, 0.2 + 0.005 * s, float(s)) for s in (first, first + 1)])
        plot.redraw()
        assert vb.viewRange()[1][1] >= 0.2 + 0.005 * (first + 1)  # the newest point is always in view
    assert 1 <= len(changes) <= 7


def test_wall_time_starts_at_the_run_start(qtbot):
    session = session_of([("train_loss", s, 1.0, 120.0 + s) for s in range(10)])  # first point after 2 min
    plot = live_plot(qtbot, session)
    plot.set_x_mode("wall")
    x0, x1 = plot.grid.plots["loss"].vb.viewRange()[0]
    assert x0 <= 0 and x1 >= 129


# --- defect 7: smoothing and colours --------------------------------------------------------
def test_learning_rate_is_not_smoothed(qtbot):
    session = session_of([("lr", s, 1e-4 * min(1, s / 5), float(s)) for s in range(1, 30)]
                         + [("train_loss", s, float(s % 3), float(s)) for s in range(1, 30)])
    plot = live_plot(qtbot, session)
    plot.picker.set_picked(["lr", "train_loss"])
    plot.set_smoothing(0.9)
    drain(qtbot, plot)
    _, lr = plot._curves["lr"].main.getOriginalDataset()
    assert np.array_equal(lr, session.series["lr"].values)
    _, loss = plot._curves["train_loss"].main.getOriginalDataset()
    assert not np.array_equal(loss, session.series["train_loss"].values)


def test_a_run_looks_the_same_live_and_stored(qtbot, tmp_path):
    rows = metric_rows(MAML_METRICS, 40)
    live = session_of([(n, s, v, w) for n, s, v, w, _ in rows])  # in the order they were logged
    stored = session_of([(n, s, v, w) for n, s, v, w, _ in sorted(rows, key=lambda r: (r[1], r[0]))], "t")
    colours = []
    for session in (live, stored):
        plot = live_plot(qtbot, session)
        plot.picker.set_picked(MAML_METRICS)
        drain(qtbot, plot)
        colours.append({n: c.color.name() for n, c in plot._curves.items()})
    assert colours[0] == colours[1] and len(colours[0]) == 20


# --- defects 8 and 9: progress, the latest run, renames -------------------------------------
def test_progress_bar_for_starting_finished_and_reopened_runs(qtbot, main_window):
    monitor = main_window.monitor_page
    session = RunSession("x", "starting-run")
    session.status = "starting"
    monitor.add_session(session)
    assert monitor.progress.maximum() == 0 and monitor.progress.format() == "starting"  # busy, not "0 / 1"
    assert monitor.progress_text.text() == "loading the dataset and the model…"  # the busy bar shows no text
    session.set_progress({"done": 5, "total": 50, "phase": "train", "rate": 0.0})
    monitor._show_latest_progress()
    assert "0.0 episodes/s" not in monitor.progress_text.text()
    main_window.open_run(main_window.ids["maml"])  # reopened from the store, finished
    assert monitor.progress.value() == monitor.progress.maximum() > 0
    assert monitor.progress.format().startswith("finished")


def test_monitor_offers_the_latest_run_after_a_restart(qtbot, main_window):
    monitor = main_window.monitor_page
    main_window.show_page(1)
    qtbot.waitUntil(monitor.latest_button.isVisible)
    assert "protonet-e" in monitor.latest_button.text()  # the newest
    monitor.latest_button.click()
    assert monitor.session is not None and monitor.session.run_id == main_window.ids["proto2"]
    assert not monitor.latest_button.isVisible()


def test_run_selector_follows_a_rename(qtbot, main_window):
    monitor = main_window.monitor_page
    main_window.open_run(main_window.ids["maml"])
    with Store(main_window.db_path) as store:
        store.update_run(main_window.ids["maml"], name="maml-renamed")
    main_window.show_page(2)
    main_window.show_page(1)
    assert monitor.picker.currentText().startswith("maml-renamed")


def test_monitor_exports_every_chart_and_one(qtbot, main_window, tmp_path):
    monitor = main_window.monitor_page
    main_window.open_run(main_window.ids["maml"])
    plot = monitor.plot
    drain(qtbot, plot)
    monitor.export_charts("png", tmp_path / "all.png")
    monitor.export_charts("svg", tmp_path / "all.svg")
    whole = QImage(str(tmp_path / "all.png"))
    assert whole.height() >= 2 * MIN_PLOT_HEIGHT  # both rows, not only the scrolled-to part
    one = plot.grid.export("png", "loss")
    image = QImage.fromData(one)
    assert 0 < image.width() < whole.width() and image.height() < whole.height()
    assert b"<svg" in (tmp_path / "all.svg").read_bytes()[:400]


def test_a_first_paint_reads_only_the_charted_curves(runs_db):
    from gui.compare_data import load_runs_data

    db, ids = runs_db
    _runs, curves, _episodes, names = load_runs_data(db, [ids["maml"], ids["proto"]], picks=None)
    assert len(names) == 20  # the picker still lists every metric
    assert set(curves[ids["maml"]]) == {"train_loss", "val_accuracy", "test_accuracy", "inner_query_accuracy_before",
                                        "inner_query_accuracy_after"}
    _runs, curves, _episodes, _names = load_runs_data(db, [ids["maml"]], picks={"val_loss"})
    assert set(curves[ids["maml"]]) == {"val_loss"}  # (no test_loss logged)
    _runs, curves, _episodes, _names = load_runs_data(db, [ids["maml"]])
    assert len(curves[ids["maml"]]) == 20


def test_picks_are_remembered_until_defaults(qtbot):
    first = live_plot(qtbot)
    first.picker.set_picked(["val_loss", "lr"])
    second = live_plot(qtbot, session_of([("train_loss", 1, 1.0, 0.0), ("lr", 1, 1e-4, 0.0), ("val_loss", 1, 1.0, 0.0)]))
    assert second.picker.picked == {"val_loss", "lr"}  # (a new window: the picks come from QSettings)
    assert set(second._curves) == {"val_loss", "lr"}
    second.picker._defaults()
    assert live_plot(qtbot).picker.customised is False


def test_default_picks_follow_metrics_as_they_arrive(qtbot):
    session = session_of([("train_loss", 1, 1.0, 0.0), ("val_loss", 10, 1.2, 1.0)])
    plot = live_plot(qtbot, session)
    assert set(plot._curves) == {"train_loss", "val_loss"}  # no accuracy yet: the validation loss leads
    session.add_points([("val_accuracy", 10, 0.5, 1.0)])
    drain(qtbot, plot)
    assert set(plot._curves) == {"train_loss", "val_accuracy"}
    assert plot.plot_names() == ["loss", "accuracy"]


def test_a_reopened_run_gets_ranges_of_its_own(qtbot):
    long_run = session_of([("train_loss", s, 5.0, float(s)) for s in range(1, 1001)], "long")
    plot = live_plot(qtbot, long_run)
    short = session_of([("train_loss", s, 0.5, float(s)) for s in range(1, 11)], "short")
    short.status = "finished"
    plot.set_session(short)
    drain(qtbot, plot)
    (x0, x1), (y0, y1) = plot.grid.plots["loss"].vb.viewRange()
    assert x1 < 20 and y1 < 1.0  # not the last run's 1,000 steps and values of 5


def test_a_language_model_run_plots_its_perplexity_on_a_log_scale(qtbot):
    """Monitor on an LM run: validation and final perplexity share a plot that starts on a
    log scale (its values span orders of magnitude), beside the adaptation's before/after."""
    points = [("train_loss", s, 9.0 - s * 0.1, float(s)) for s in range(1, 21)]
    points += [("val_perplexity", s, 20000.0 / s, float(s)) for s in (5, 10, 15, 20)]
    points += [("val_token_accuracy", s, 0.01 * s, float(s)) for s in (5, 10, 15, 20)]
    points += [("inner_query_perplexity_before", s, 3000.0, float(s)) for s in (5, 10, 15, 20)]
    points += [("inner_query_perplexity_after", s, 900.0, float(s)) for s in (5, 10, 15, 20)]
    points += [("test_perplexity", 20, 1100.0, 21.0)]
    plot = live_plot(qtbot, session_of(points))
    drain(qtbot, plot)
    assert set(plot._curves) == {"train_loss", "val_perplexity", "test_perplexity",
                                 "inner_query_perplexity_before", "inner_query_perplexity_after"}
    assert {"perplexity", "inner_query_perplexity"} <= set(plot.plot_names())
    item = plot.grid.plots["perplexity"]
    assert item.ctrl.logYCheck.isChecked() and not plot.grid.plots["loss"].ctrl.logYCheck.isChecked()
    (_x0, _x1), (y0, y1) = item.vb.viewRange()
    assert y0 <= math.log10(1000.0) and y1 >= math.log10(4000.0)  # every value (1100 to 4000), in log units


def test_the_plot_hint_ends_in_an_ellipsis_when_short_of_room(qtbot):
    from gui.widgets.elided_label import ElidedLabel

    label = ElidedLabel("Drag to pan, wheel to zoom, right-click for options")
    qtbot.addWidget(label)
    label.resize(900, 30)
    assert label.shown_text() == label.text()
    label.resize(120, 30)
    shown = label.shown_text()
    assert shown.endswith("…") and label.text().startswith(shown[:-1]) and label.toolTip() == label.text()
    assert label.minimumSizeHint().width() < 120  # it never asks the window for more room


def test_plots_made_ahead_are_used_first(qtbot):
    """The grid makes a few plots while the app idles; the first ones a run asks for are those."""
    from gui.widgets.plot_grid import SPARE_PLOTS, PlotGrid

    grid = PlotGrid()
    qtbot.addWidget(grid)
    qtbot.waitUntil(lambda: len(grid._spares) == SPARE_PLOTS, timeout=10_000)
    spares = list(grid._spares)
    made = [grid.plot(f"k{i}", f"plot {i}") for i in range(SPARE_PLOTS + 1)]
    assert made[:SPARE_PLOTS] == spares and made[-1] not in spares
    assert [p.titleLabel.text for p in made] == [f"plot {i}" for i in range(SPARE_PLOTS + 1)]
    assert all(not p.getAxis("left").autoSIPrefix for p in made)  # set up as a new one would be
    qtbot.wait(50)
    assert grid._spares == []  # (not made again: the next plots cost their set-up where they are needed)
