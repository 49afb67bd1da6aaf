"""The Studies page's Population tab over a population-based training study written with
Optuna directly (members, generations, one exploit), read through ``study show --json``."""

from __future__ import annotations

import sys

import pytest

from engine.store import Store
from gui.pages.studies import StudiesPage
from tests.gui.store_fill import add_run, base_config

# member -> (lr, value) per generation; member 1 exploits member 0 at generation 1 (step 10)
PLAN = {0: [(1e-3, 0.60), (1e-3, 0.70)], 1: [(1e-4, 0.40), (1.2e-3, 0.72)]}


def make_population(db_path, name: str = "pop") -> dict[tuple[int, int], str]:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState, create_trial

    from engine.config import RunConfig

    base = RunConfig().with_values({"dataset.path": "data.csv", "name": name}).to_dict()
    space = {"method.params.lr": {"low": 1e-5, "high": 1e-2, "log": True, "type": "float"}}
    attr = {"version": 1, "base": base, "space": space, "sampler": "pbt", "pruner": "none", "n_trials": 4,
            "metric": "val_accuracy", "direction": "maximize", "seed": 0,
            "sampler_options": {"population": 2, "ready_every": 50}, "pruner_options": {}}
    storage = JournalStorage(JournalFileBackend(str(db_path.parent / "studies.journal")))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("metalab", attr)
    dist = {"method.params.lr": FloatDistribution(1e-5, 1e-2, log=True)}
    runs: dict[tuple[int, int], str] = {}
    with Store(db_path) as store:
        for generation in (0, 1):
            for member, history in PLAN.items():
                lr, value = history[generation]
                if generation == 0:
                    run_id = add_run(store, base_config(f"{name} member {member}", lr=lr), accuracies=[value] * 2, study=name)
                    start = {"kind": "start"}
                elif member == 1:
                    run_id = add_run(store, base_config(f"{name} member 1 (gen 1)", lr=lr), accuracies=[value] * 2, study=name)
                    start = {"kind": "exploit", "step": 10, "from_member": 0, "from_run": runs[(0, 0)], "from_value": 0.60,
                             "replaced_run": runs[(1, 0)], "replaced_value": 0.40,
                             "params_before": {"method.params.lr": 1e-4}, "params_after": {"method.params.lr": lr}}
                else:
                    run_id = runs[(0, 0)]
                    start = {"kind": "continue", "step": 10, "run": run_id}
                runs[(member, generation)] = run_id
                steps = (5, 10) if generation == 0 else (15, 20)
                study.add_trial(create_trial(
                    params={"method.params.lr": lr}, distributions=dist, value=value, state=TrialState.COMPLETE,
                    intermediate_values={steps[0]: value - 0.05, steps[1]: value},
                    user_attrs={"run_id": run_id, "pbt_member": member, "pbt_generation": generation, "pbt_start": start},
                ))
    return runs


@pytest.fixture
def page(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    runs = make_population(db)
    page = StudiesPage(db, command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    with qtbot.waitSignal(page.study_shown, timeout=60_000):
        page.refresh()
    page.runs = runs
    return page


def test_the_population_tab_draws_members_exploits_and_the_best_schedule(page, qtbot) -> None:
    population = page.details["population"]
    assert population["best_member"] == 1 and len(population["events"]) == 1
    page.tabs.setCurrentWidget(page.population_tab)
    curves = [item for item in page.population.getPlotItem().listDataItems()]
    member_lines = [c for c in curves if c.name()]
    assert sorted(c.name() for c in member_lines) == ["member 0", "member 1 (best)"]
    # 2 members x 2 generations of points, plus one dashed exploit link from member 0 at step 10
    links = [c for c in curves if c.opts["pen"].style() == pg_dash()]
    assert len(links) == 1
    x, y = links[0].getData()
    assert list(x) == [10.0, 15.0] and list(y) == pytest.approx([0.60, 0.67])
    assert "1 exploits" in page.population_note.text()
    # the schedule of lr along the best lineage: member 0's lr in generation 0, then the explored lr
    assert page.schedule_param.currentText() == "method.params.lr"
    step_line = page.schedule.getPlotItem().listDataItems()[0]
    assert list(step_line.getData()[1]) == pytest.approx([1e-3, 1.2e-3])
    assert "m0 → m1" in page.schedule_note.text()


def test_compare_the_best_lineage_opens_its_runs(page, qtbot) -> None:
    assert page.compare_lineage_button.isEnabled()
    with qtbot.waitSignal(page.compare_requested, timeout=5000) as signal:
        page.compare_lineage_button.click()
    assert signal.args[0] == [page.runs[(0, 0)], page.runs[(1, 1)]]


def pg_dash():
    from PySide6.QtCore import Qt

    return Qt.PenStyle.DashLine
