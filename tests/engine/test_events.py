import io
import json
import math

import pytest

from engine.events import EVENT_FIELDS, PROTOCOL_VERSION, EventWriter, parse_line


def test_events_are_one_json_object_per_line_with_version_and_sequence():
    stream = io.StringIO()
    writer = EventWriter(stream, run_id="abc")
    writer.emit("metric", name="train_loss", step=1, value=0.5, wall_time=0.1)
    writer.emit("log", level="info", message="hello\nworld")
    writer.emit("metric", name="val_accuracy", step=2, value=math.nan, wall_time=0.2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert all(e["v"] == PROTOCOL_VERSION and e["run_id"] == "abc" for e in events)
    assert events[2]["value"] is None  # NaN is not JSON
    assert [parse_line(line) for line in lines] == events


def test_missing_fields_and_unknown_types_are_programming_errors():
    writer = EventWriter(None)
    with pytest.raises(ValueError):
        writer.emit("metric", name="x")
    with pytest.raises(ValueError):
        writer.emit("surprise")


@pytest.mark.parametrize("line", ["", "Some library warning", '{"type": "metric"', "[1,2]", '{"v": 1, "type": "nope"}', b"\xff\xfe"])
def test_parse_line_ignores_anything_that_is_not_an_event(line):
    assert parse_line(line) is None


def test_every_event_type_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md").read_text()
    for name, fields in EVENT_FIELDS.items():
        assert f"`{name}`" in doc
        for field in fields:
            assert f"`{field}`" in doc


def test_a_vanished_reader_does_not_stop_the_writer():
    import os

    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w")
    os.close(read_end)  # the GUI died
    writer = EventWriter(stream, run_id="abc")
    event = writer.emit("log", level="info", message="still running")
    assert event["seq"] == 0 and writer.stream is None
    assert writer.emit("log", level="info", message="and on")["seq"] == 1


def test_progress_rate_and_eta_are_per_phase(tmp_path, monkeypatch):
    """Training for 600 s, then a meta-test at 0.5 episodes/s: its ETA is its own, not the
    whole run's (the GUI read "ETA 1 h 16 min" with 5 min left)."""
    from engine.store import Store
    from engine.training import recorder as recorder_module

    clock = {"now": 1000.0}
    monkeypatch.setattr(recorder_module.time, "time", lambda: clock["now"])
    stream = io.StringIO()
    with Store(tmp_path / "runs.db") as store:
        run_id = store.create_run({"name": "r"})
        rec = recorder_module.Recorder(store, EventWriter(stream, run_id), run_id)
        clock["now"] += 30.0  # model loading
        for step in range(0, 601, 100):  # 1 episode/s
            rec.progress(step, 600, force=True)
            clock["now"] += 100.0
        for done in (0, 10, 20):  # 0.5 episodes/s
            rec.progress(done, 100, force=True, phase="test")
            clock["now"] += 20.0
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    train, test = events[6], events[-1]
    assert train["phase"] == "train" and math.isclose(train["rate"], 1.0)
    assert test["phase"] == "test" and math.isclose(test["rate"], 0.5) and math.isclose(test["eta_seconds"], 160.0)
