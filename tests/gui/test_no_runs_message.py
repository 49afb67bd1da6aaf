"""'No finished run with saved weights yet' never stays beside a finished run (issue 27, case 18a)."""

from __future__ import annotations

import pytest

from engine.paths import artifacts_dir
from engine.store import Store
from tests.gui.store_fill import add_run, base_config


def _finish_a_run_with_weights(db) -> str:
    with Store(db) as store:
        run_id = add_run(store, base_config("proto-a"), accuracies=[0.6, 0.7, 0.65, 0.75])
        final = store.get_run(run_id)["final_metrics"]
        store.update_run(run_id, final_metrics={**final, "test_episodes": 4})  # what Inspect lists
    weights = artifacts_dir(db) / run_id / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    (weights / "model.safetensors").write_bytes(b"{}")
    return run_id


@pytest.mark.parametrize("page_name", ["try", "inspect"])
def test_the_no_runs_line_goes_once_a_finished_run_is_listed(qtbot, tmp_path, page_name):
    from gui.pages.inspect import InspectPage
    from gui.pages.try_model import TryModelPage

    db = tmp_path / "runs.db"
    Store(db).close()
    page = (TryModelPage if page_name == "try" else InspectPage)(db, command=["false"])
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: "yet" in page.message.text(), timeout=5000)  # nothing finished: said
    run_id = _finish_a_run_with_weights(db)
    page.refresh()  # the page shown again after the run finished
    qtbot.waitUntil(lambda: page.run_combo.currentData() == run_id, timeout=5000)
    assert "No finished" not in page.message.text()
