"""Messages that said what the screen did not (issue 27, case 18, in part)."""

from importlib import metadata

from engine.catalog import get as get_spec
from gui.widgets.help_dialogs import versions


def test_reptiles_learning_rate_help_names_its_plain_sgd_not_adamw():
    params = {p.name: p for p in get_spec("reptile").params}
    assert "AdamW" not in params["lr"].help and "SGD" in params["lr"].help
    assert "AdamW" not in params["weight_decay"].help
    assert "AdamW" in {p.name: p for p in get_spec("protonet").params}["lr"].help  # the others' optimizer is AdamW


def test_about_names_the_pyside6_that_runs_it():
    found = versions()["PySide6"]
    assert found != "not installed"
    installed = [d for d in ("PySide6", "PySide6-Essentials") if _has(d)]
    assert found == metadata.version(installed[0])


def _has(distribution):
    try:
        metadata.version(distribution)
        return True
    except metadata.PackageNotFoundError:
        return False


def test_an_exported_run_file_carries_the_runs_current_name(tmp_path):
    import tomllib

    from engine.exports import export_run
    from engine.store import Store
    from tests.gui.store_fill import add_run, base_config

    with Store(tmp_path / "runs.db") as store:
        run_id = add_run(store, base_config("first name"))
        store.update_run(run_id, name="renamed on the Runs page")
        exported = tomllib.loads(export_run(store, run_id, "toml"))
    assert exported["name"] == "renamed on the Runs page"


def test_the_log_pane_follows_new_lines_unless_scrolled_up(qtbot):
    import time

    from gui.pages.monitor import MonitorPage
    from gui.run_session import RunSession

    page = MonitorPage()
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    session = RunSession("r1", "run")
    page.add_session(session)
    bar = page.log_view.verticalScrollBar()
    for i in range(200):
        session.log.append_rows([(time.time(), "info", f"line {i}")])
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=3000)
    assert bar.value() == bar.maximum()  # at the newest line
    bar.setValue(0)  # the user reads from the top
    session.log.append_rows([(time.time(), "info", "one more")])
    assert bar.value() == 0  # not pulled away
