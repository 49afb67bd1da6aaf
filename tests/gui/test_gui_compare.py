"""The Compare page: config diff, results with CIs, paired statistics against a hand-computed
example, the unpaired fallback, and exports that parse back."""

from __future__ import annotations

import csv
import math

import pytest
from PySide6.QtCore import Qt

from gui.pages.compare import ComparePage
from tests.gui.store_fill import fill


@pytest.fixture
def page(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    ids = fill(db)
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    with qtbot.waitSignals([page.loaded, page.stats_shown], timeout=10_000):
        page.set_runs([ids["a"], ids["b"], ids["c"]])
    page.ids_by_name = ids
    return page


def cells(model) -> list[list[str]]:
    return model.to_rows()[1:]


def test_config_diff_shows_only_differing_keys(page):
    rows = {r[0]: r[1:] for r in cells(page.diff_model)}
    assert set(rows) == {"dataset.path", "method.name", "method.params.lr"}
    assert rows["method.name"] == ["protonet", "protonet", "finetune"]
    assert rows["method.params.lr"] == ["0.0001", "0.0003", "0.0001"]
    assert rows["dataset.path"] == ["bundled:intents", "bundled:intents", "data/other.csv"]
    assert page.diff_model.columns == ["Config key", "proto-a", "proto-b", "tune-c"]
    assert "3 of" in page.diff_label.text()


def test_paired_statistics_match_a_hand_computed_example(page):
    # b - a per episode: 0.10, 0.02, 0.10, 0.10 -> mean 0.08, sd 0.04, se 0.02, t = 4 with 3 dof
    # 95% CI half-width = 0.02 * t_{0.975,3} = 0.02 * 3.182446 = 0.063649; two-sided p = 0.02800
    paired = {r[0]: r for r in cells(page.paired_model)}
    row = paired["proto-b"]
    assert row[2] == "4"
    assert row[3] == "+0.0800"
    assert row[4] == f"[{0.08 - 0.063649:+.4f}, {0.08 + 0.063649:+.4f}]"
    assert math.isclose(float(row[5]), 0.0280, abs_tol=1e-4)
    assert row[6] == "paired t-test"


def test_unpaired_runs_fall_back_with_a_message(page):
    paired = {r[0]: r for r in cells(page.paired_model)}
    assert paired["tune-c"][6] == "Welch's t-test (not paired)"
    assert paired["tune-c"][2] == "4 / 4"
    assert "tune-c vs proto-a: not paired" in page.note.text()
    assert page.scatter_run.count() == 1 and page.scatter_run.currentText() == "proto-b"


def test_results_table_has_mean_and_ci(page):
    header = page.results_model.columns
    rows = {r[0]: r for r in cells(page.results_model)}
    acc = header.index("test_accuracy")
    assert rows["proto-a (reference)"][acc].startswith("0.675 ± ")
    assert rows["proto-b"][acc].startswith("0.755 ± ")


def test_curves_one_per_metric_with_a_legend(page):
    assert set(page.plot_items) == {"train_loss", "val_accuracy"}
    plot = page.plot_items["train_loss"]
    assert len(plot.listDataItems()) == 3
    legend = page.plots.legend.text()  # outside the data, every run
    assert all(name in legend for name in ("proto-a", "proto-b", "tune-c"))
def test_smoothing_and_alignment_redraw(qtbot, page):
    before = list(page.plot_items["train_loss"].listDataItems())
    with qtbot.waitSignal(page.curves_drawn, timeout=10_000):
        page.smoothing.setValue(0.6)
    items = page.plot_items["train_loss"].listDataItems()
    assert len(items) == 6  # faint raw + smoothed
    assert all(any(item is kept for item in items) for kept in before)  # the same items, new data
    with qtbot.waitSignal(page.curves_drawn, timeout=10_000):
        page.smoothing.setValue(0.0)
    assert len(page.plot_items["train_loss"].listDataItems()) == 3
    with qtbot.waitSignal(page.curves_drawn, timeout=10_000):
        page.align.setCurrentText("wall time")
    assert page.plot_items["train_loss"].getAxis("bottom").labelText == "wall time (s)"


def test_changing_the_reference_recomputes(qtbot, page):
    with qtbot.waitSignal(page.stats_shown, timeout=10_000):
        page.reference.setCurrentIndex(1)  # proto-b
    paired = {r[0]: r for r in cells(page.paired_model)}
    assert paired["proto-a"][3] == "-0.0800"


def test_exports_parse_back(page, tmp_path):
    assert page.export("csv", tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert [r["name"] for r in rows] == ["proto-a", "proto-b", "tune-c"]
    b = rows[1]
    assert b["paired"] == "True" and b["n_episodes"] == "4" and math.isclose(float(b["diff_test_accuracy"]), 0.08)
    assert page.export("png", tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.export("svg", tmp_path / "c.svg")
    import xml.etree.ElementTree as ET

    assert ET.parse(tmp_path / "c.svg").getroot().tag.endswith("svg")
    assert page.export("html", tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in text and "+0.0800" in text and "method.params.lr" in text
    assert "http://" not in text and "https://" not in text


def test_markdown_report_has_the_tables_and_a_plot_beside_it(page, tmp_path):
    assert page.export("md", tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text()
    assert "| proto-b | proto-a | 4 | +0.0800 |" in text
    assert "| method.params.lr | 0.0001 | 0.0003 | 0.0001 |" in text
    assert "![curves](report.png)" in text
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_curves_show_an_overview_first_then_every_point(qtbot, tmp_path):
    import numpy as np

    from engine.config import RunConfig
    from engine.store import Store
    from gui.pages import compare

    points = compare.OVERVIEW_POINTS + 2000
    rng = np.random.default_rng(1)
    values = {}
    with Store(tmp_path / "long.db") as store:
        for r in range(2):
            run_id = store.create_run(RunConfig().with_values({"name": f"long-{r}"}).to_dict(), status="finished")
            values[run_id] = rng.normal(0, 1, points)
            values[run_id][1234] = 9.0  # one spike the overview must keep
            store.add_metrics(run_id, [("train_loss", s, float(v), s * 0.1, 0.0) for s, v in enumerate(values[run_id])])
    page = ComparePage(tmp_path / "long.db")
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.details_loaded, timeout=20_000):
        with qtbot.waitSignal(page.loaded, timeout=10_000):
            page.set_runs(list(values))
        first = {rid: page.comparison.curves[rid]["train_loss"] for rid in values}
        for rid, curve in first.items():
            assert curve.overview and len(curve.values) <= compare.OVERVIEW_POINTS and curve.points == points
            assert curve.values.max() == 9.0 and curve.values.min() == values[rid].min()
    for rid, want in values.items():
        curve = page.comparison.curves[rid]["train_loss"]
        assert not curve.overview
        np.testing.assert_array_equal(curve.values, want)
        np.testing.assert_array_equal(curve.steps, np.arange(points))
    items = page.plot_items["train_loss"].listDataItems()
    assert sorted(len(item.xData) for item in items) == [points, points]


def test_scatter_draws_the_frozen_baseline_a_run_recorded(qtbot, tmp_path):
    import pyqtgraph as pg

    from engine.store import Store
    from tests.gui.store_fill import add_run, base_config

    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = [add_run(store, base_config(name), accuracies=acc) for name, acc in
               (("ref", [0.6, 0.7, 0.8, 0.7]), ("trained", [0.7, 0.8, 0.9, 0.8]))]
        for run_id in ids:  # what a run records before training (docs/EVENTS.md)
            final = store.get_run(run_id)["final_metrics"]
            store.finish_run(run_id, "finished", final_metrics={**final, "baseline_ncm_accuracy": 0.65,
                                                                "baseline_ncm_accuracy_ci95": 0.02})
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignals([page.loaded, page.stats_shown], timeout=10_000):
        page.set_runs(ids)
    qtbot.waitUntil(lambda: page.scatter_run.currentText() == "trained", timeout=10_000)
    lines = [i for i in page.scatter.getPlotItem().items if isinstance(i, pg.InfiniteLine)]
    assert [round(line.value(), 3) for line in lines] == [0.65]
    assert "frozen NCM" in lines[0].label.format


def test_inspect_menu_offers_each_compared_run(qtbot, page):
    page._fill_inspect_menu()
    actions = page.inspect_menu.actions()
    ids = page.ids_by_name
    assert len(actions) == 3 and all(any(ids[k] in a.text() for a in actions) for k in ("a", "b", "c"))
    with qtbot.waitSignal(page.inspect_requested, timeout=2000) as asked:
        next(a for a in actions if ids["b"] in a.text()).trigger()
    assert asked.args == [ids["b"]]


def test_ner_runs_are_paired_and_drawn_on_entity_f1(qtbot, tmp_path):
    """Two NER runs on the same episodes: the statistics, their titles and the per-episode
    scatter all read entity F1, not the token accuracy (mostly the O tag) each episode also has."""
    from engine.store import Store
    from tests.gui.store_fill import base_config

    db = tmp_path / "runs.db"
    f1s = {"ner-a": [0.20, 0.30, 0.25, 0.35], "ner-b": [0.30, 0.40, 0.30, 0.45]}
    ids = []
    with Store(db) as store:
        for name, scores in f1s.items():
            config = base_config(name, dataset="bundled:entities")
            config["task"]["type"] = "token_classification"
            run_id = store.create_run(config, status="queued")
            store.add_episodes(run_id, [{"episode": i, "accuracy": 0.8, "loss": 0.5, "f1": f, "precision": f, "recall": f,
                                         "n_query": 30, "key": f"K{i}"} for i, f in enumerate(scores)])
            store.finish_run(run_id, "finished", final_metrics={"headline_metric": "test_f1", "test_f1": sum(scores) / 4,
                                                                "test_accuracy": 0.8})
            store.update_run(run_id, episodes_key="K")
            ids.append(run_id)
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignals([page.loaded, page.stats_shown], timeout=10_000):
        page.set_runs(ids)
    (row,) = cells(page.paired_model)
    assert row[2] == "4" and row[3] == "+0.0875" and row[6] == "paired t-test"
    assert "test F1" in page.paired_title.text() and "test F1" in page.scatter_title.text()
    assert page.comparison.episodes[ids[1]] == f1s["ner-b"]


def test_curves_show_before_the_statistics(qtbot, tmp_path, monkeypatch):
    """scipy's tests (and its import, seconds on a cold start) never hold up the curves."""
    import threading

    from gui.pages import compare

    ids = fill(tmp_path / "runs.db")
    release = threading.Event()
    real = compare.load_stats
    monkeypatch.setattr(compare, "load_stats", lambda *a: (release.wait(30), real(*a))[1])  # as if scipy were importing
    page = ComparePage(tmp_path / "runs.db")
    qtbot.addWidget(page)
    page.show()
    try:
        with qtbot.waitSignal(page.loaded, timeout=10_000):
            page.set_runs([ids["a"], ids["b"]])
        assert set(page.plot_items) == {"train_loss", "val_accuracy"}
        assert page.comparison.stats_pending and cells(page.paired_model) == []
        assert not page.export_button.isEnabled() and not page.export("csv", tmp_path / "c.csv")
        assert "Computing" in page.note.text()
        with qtbot.waitSignal(page.stats_shown, timeout=10_000):
            release.set()
    finally:
        release.set()
    assert [r[0] for r in cells(page.paired_model)] == ["proto-b"]
    assert page.export_button.isEnabled() and page.export("csv", tmp_path / "c.csv")


def test_a_run_with_20000_metrics_charts_a_default_set_and_the_picker_finds_the_rest(qtbot, tmp_path):
    """#27.10b: a TensorBoard import with 20,000 tags froze Compare for 30 s, every metric
    charted. Now at most ``DEFAULT_CHARTS`` are, and the picker's search finds any other."""
    from engine.store import Store
    from gui.metric_kinds import DEFAULT_CHARTS
    from gui.widgets.metric_picker import MENU_NAMES

    names = [f"layer_{i:05d}/grad_norm" for i in range(20_000)]
    db = tmp_path / "many.db"
    with Store(db) as store:
        wide = store.create_run({"name": "tensorboard import", "tags": ["imported"]}, status="imported")
        store.add_metrics(wide, [(name, step, 0.1 * step, step, 1e9 + step) for name in names for step in (1, 2)])
        narrow = store.create_run({"name": "other"}, status="imported")
        store.add_metrics(narrow, [(names[0], step, 0.2 * step, step, 1e9 + step) for step in (1, 2)])
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    with qtbot.waitSignal(page.details_loaded, timeout=120_000):
        page.set_runs([wide, narrow])
    qtbot.waitUntil(lambda: 0 < len(page.plot_items) <= DEFAULT_CHARTS, timeout=60_000)
    picker = page.plots.picker
    assert len(picker.names) == 20_000 and len(picker.picked) <= DEFAULT_CHARTS
    assert picker.text() == f"Metrics ({len(picker.picked)} of 20000)"
    picker._fill()  # the menu lists a bounded number of metrics, and the search field
    checkable = [a for a in picker.menu().actions() if a.isCheckable()]
    assert len(checkable) <= MENU_NAMES and picker.menu().actions()[0].defaultWidget() is picker.search
    assert "All" not in [a.text() for a in picker.menu().actions()]

    wanted = "layer_12345/grad_norm"
    assert picker.matches("12345/GRAD") == [wanted]
    assert picker.search.completer().filterMode() == Qt.MatchFlag.MatchContains
    picker.search.setText(wanted)
    with qtbot.waitSignal(page.curves_drawn, timeout=60_000):
        picker.search.returnPressed.emit()
    assert wanted in page.plot_items and wanted in page.picked_metrics() and picker.search.text() == ""
    assert len(page.plot_items) <= DEFAULT_CHARTS + 1
