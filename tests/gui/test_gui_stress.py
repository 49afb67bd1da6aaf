"""Thousands of points a second into the live plots, for several seconds.

Guards the Qt binding pin: PySide6 6.12.0 with pyqtgraph 0.14.0 dies here with
``Fatal Python error: none_dealloc`` inside ``AxisItem.drawPicture`` as soon as plots
redraw repeatedly (6.11.3 and 6.10.3 do not). Upgrade PySide6 only if this passes.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QTimer

from gui.run_session import RunSession
from gui.metric_kinds import family
from gui.widgets.live_plot import LivePlot


def test_streaming_engine_into_the_window(qtbot, window, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "stream")
    monkeypatch.setenv("FAKE_RATE", "4000")
    monkeypatch.setenv("FAKE_SECONDS", "3")
    window.resize(1280, 820)
    window.new_page.request_launch()
    page = window.monitor_page
    session = page.session
    page.smoothing.setValue(60)
    grabs = []
    timer = QTimer(interval=150)
    timer.timeout.connect(lambda: grabs.append(page.plot.view.grab()))  # force real paints of axes and curves
    timer.timeout.connect(lambda: page.plot.show_readout(float(session.points_received // 3 // 2)))
    timer.start()
    qtbot.waitUntil(lambda: session.status == "finished", timeout=30_000)
    timer.stop()
    assert session.final_metrics["sent"] == 12_000
    assert session.points_received == 12_000  # no event lost
    assert page.plot.redraws >= 10
    assert len(grabs) >= 10
    page.plot.picker.set_picked(page.plot.picker.names)  # lr is not charted by default
    page.plot.redraw()
    assert page.plot.point_count() == 12_000
    assert "train_loss" in page.plot.readout.text()


def test_in_process_flood_with_repaints(qtbot):
    """No engine: 200k points appended in bursts while the plot is repainted and re-styled."""
    session = RunSession("flood", "flood")
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(1000, 700)
    plot.show()
    plot.set_session(session)
    step = 0
    deadline = time.time() + 3
    modes = ["step", "wall"]
    while time.time() < deadline:
        points = []
        for _ in range(500):
            step += 1
            points.append(("train_loss", step, float(np.sin(step / 50) + (5.0 if step % 997 == 0 else 0.0)), step / 100))
            points.append(("val_accuracy", step, step / 1e6, step / 100))
        session.add_points(points)
        if step % 20_000 == 0:
            plot.set_x_mode(modes[(step // 20_000) % 2])
            plot.set_smoothing(0.9 if plot.smoothing == 0 else 0.0)
        qtbot.wait(5)
        plot.view.grab()
    plot.redraw()
    assert plot.point_count() == 2 * step
    assert step >= 20_000


def test_peaks_survive_downsampling(qtbot):
    session = RunSession("spike", "spike")
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(600, 400)
    plot.show()
    plot.set_session(session)
    n = 200_000
    values = np.zeros(n)
    values[123_457] = 100.0  # one spike among 200k points, far more than pixels
    session.add_points([("train_loss", i, float(values[i]), float(i)) for i in range(n)])
    plot.redraw()
    plot.view.grab()
    curve = plot._curves["train_loss"].main
    _, shown = curve.getData()
    assert len(shown) < n  # it is downsampled for display ...
    assert shown.max() == 100.0  # ... and the spike is still there


def test_smoothing_is_a_debiased_ema(qtbot):
    session = RunSession("s", "s")
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_session(session)
    plot.set_smoothing(0.5)
    session.add_points([("train_loss", i, v, 0.0) for i, v in enumerate([1.0, 3.0])])
    plot.redraw()
    session.add_points([("train_loss", 2, float("nan"), 0.0), ("train_loss", 3, 5.0, 0.0)])
    plot.redraw()
    _, y = plot._curves["train_loss"].main.getOriginalDataset()
    # EMA with weight 0.5, debiased: 1, (0.25+0.75... ) computed by hand
    raw = [0.5 * 1.0]
    raw.append(0.5 * raw[-1] + 0.5 * 3.0)
    raw.append(0.5 * raw[-1] + 0.5 * 3.0)  # NaN carries the last value
    raw.append(0.5 * raw[-1] + 0.5 * 5.0)
    expected = [r / (1 - 0.5 ** (i + 1)) for i, r in enumerate(raw)]
    assert np.allclose(y, expected)


def test_metric_families():
    assert family("train_loss") == family("val_loss") == "loss"
    assert family("val_accuracy") == family("test_accuracy") == "accuracy"
    assert family("lr") == family("learning_rate") == "learning_rate"
    assert family("grad_norm") == "grad_norm"


def test_crosshair_readout(qtbot):
    session = RunSession("c", "c")
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(600, 400)
    plot.show()
    plot.set_session(session)
    session.add_points([("train_loss", i, i * 0.5, i * 2.0) for i in range(10)])
    plot.redraw()
    plot.show_readout(4.2)
    assert plot.readout.text() == "step 4.2  ·  train_loss 2"
    qtbot.wait(100)  # let the layout give the plot its size and range
    scene_point = plot._plots["loss"].vb.mapViewToScene(QPointF(6.0, 1.0))
    plot._on_mouse((scene_point,))
    assert "train_loss 3" in plot.readout.text()
