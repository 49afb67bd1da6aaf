"""The Studies page over a study made with Optuna directly in a journal file beside the run
database, its trials being runs in the store; the page reads it through the engine's CLI."""

from __future__ import annotations

import sys

import pytest

from engine.store import Store
from gui.pages.studies import StudiesPage
from tests.gui.store_fill import add_run, base_config

PARAMS = [(1e-4, 20.0, 0.61), (1e-3, 5.0, 0.72), (3e-3, 12.0, 0.68), (5e-4, 8.0, None)]


def make_study(db_path, name: str = "lr-search") -> dict[int, str]:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState, create_trial

    from engine.config import RunConfig

    base = RunConfig().with_values({"dataset.path": "data.csv", "name": name}).to_dict()
    space = {"method.params.lr": {"low": 1e-4, "high": 1e-2, "log": True, "type": "float"},
             "method.params.temperature": {"low": 1.0, "high": 30.0, "log": False, "type": "float"}}
    attr = {"version": 1, "base": base, "space": space, "sampler": "tpe", "pruner": "median", "n_trials": 8,
            "metric": "val_accuracy", "direction": "maximize", "seed": 0, "sampler_options": {}, "pruner_options": {}}
    storage = JournalStorage(JournalFileBackend(str(db_path.parent / "studies.journal")))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("metalab", attr)
    dists = {"method.params.lr": FloatDistribution(1e-4, 1e-2, log=True),
             "method.params.temperature": FloatDistribution(1.0, 30.0)}
    run_ids = {}
    with Store(db_path) as store:
        for number, (lr, temp, value) in enumerate(PARAMS):
            run_id = add_run(store, base_config(f"{name}-{number}", lr=lr), accuracies=[value or 0.5] * 3,
                             study=name, trial_number=number, status="finished" if value else "pruned")
            run_ids[number] = run_id
            state = TrialState.COMPLETE if value is not None else TrialState.PRUNED
            study.add_trial(create_trial(params={"method.params.lr": lr, "method.params.temperature": temp},
                                         distributions=dists, value=value, state=state, user_attrs={"run_id": run_id}))
    return run_ids


@pytest.fixture
def page(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    run_ids = make_study(db)
    page = StudiesPage(db, command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    page.resize(1300, 750)
    page.show()
    with qtbot.waitSignal(page.study_shown, timeout=60_000):
        page.refresh()
    page.run_ids = run_ids
    return page


def test_studies_page_shows_the_trials(qtbot, page):
    assert page.studies_model.rows[0][:4] == ["lr-search", "tpe", "4 / 8", "0.7200"]
    model = page.trials_model
    assert model.columns[:5] == ["#", "State", "Value", "Duration", "Run"]
    assert "lr" in model.columns and "temperature" in model.columns
    states = [row[1] for row in model.rows]
    assert states == ["complete", "complete", "complete", "pruned"]
    assert [row[4] for row in model.rows] == [page.run_ids[i] for i in range(4)]
    assert "Best: trial 1" in page.summary.text()
    history = page.history.getPlotItem().listDataItems()
    assert len(history) == 2  # complete trials and the best-so-far line (the pruned trial has no value)
    assert page.slice_param.count() == 2


def test_open_a_trials_run(qtbot, page):
    page.trials_view.selectRow(1)
    page.trials_view.setCurrentIndex(page.trials_proxy.index(1, 0))
    assert page.open_button.isEnabled()
    with qtbot.waitSignal(page.open_requested) as opened:
        page.open_button.click()
    assert opened.args[0] == page.run_ids[1]


def test_more_trials_raise_the_budget(page):
    page.more_trials.setValue(5)
    args = page.worker_arguments()
    assert args[args.index("--n-trials") + 1] == "9"  # 4 trials so far (none failed) + 5
    assert args[args.index("--study") + 1] == "lr-search" and "--storage" not in args  # in the environment instead
    assert page.storage_environment().value("METALAB_STUDY_STORAGE").startswith("journal:")


def test_best_so_far_is_a_step_line(page):
    best = page.history.getPlotItem().listDataItems()[-1]
    x, y = best.getData()
    # values 0.61, 0.72, 0.68 at trials 0, 1, 2: flat, a jump at trial 1, flat again (no diagonal)
    assert list(zip(x, y)) == [(0, 0.61), (1, 0.61), (1, 0.72), (2, 0.72), (2, 0.72)]


def test_slice_has_a_colour_key_for_trial_order(page):
    import pyqtgraph as pg

    assert isinstance(page.slice_color_bar, pg.ColorBarItem)
    assert page.slice_color_bar.scene() is page.slice.getPlotItem().scene()
    assert tuple(page.slice_color_bar.levels()) == (0.0, 2.0)  # complete trials 0..2


def test_dashboard_views_parallel_contour_pareto(page):
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert {"History", "Importances", "Slice", "Parallel coordinates", "Contour", "Pareto front"} <= set(titles)
    lines = page.parallel.getPlotItem().listDataItems()
    assert len(lines) == 3  # one per complete trial
    assert all(len(line.getData()[0]) == 3 for line in lines)  # lr, temperature, objective
    assert {page.contour_x.currentText(), page.contour_y.currentText()} == {"method.params.lr", "method.params.temperature"}
    assert "interpolated" in page.contour_note.text()
    assert "Pareto front: #" in page.pareto_note.text()


def test_trial_count_counts_what_the_budget_counts():
    from gui.pages.studies import trials_text

    # a failed trial and its retry: 4 trials in a 3-trial study
    assert trials_text({"n_trials": 4, "budget": 3, "counts": {"complete": 3, "fail": 1}}) == "3 / 3, 1 fail"
    assert trials_text({"n_trials": 3, "budget": 3, "counts": {"complete": 2, "running": 1}}) == "2 / 3, 1 running"


def test_a_late_answer_does_not_overwrite_a_newer_one(page):
    answers = []
    page._call = lambda args, on_done: answers.append(on_done)
    stale = dict(page.details, counts={"complete": 3, "running": 1})
    fresh = dict(page.details, counts={"complete": 3, "pruned": 1})
    page.show_study("lr-search")  # a live refresh, started while a trial was running
    page.show_study("lr-search")  # Refresh pressed after it finished
    answers[1](fresh, "")
    answers[0](stale, "")  # the slower first call answers last
    assert "running" not in page.summary.text()
    assert page.details["counts"] == {"complete": 3, "pruned": 1}
    assert not page.live_timer.isActive()


def test_status_bar_counts_study_workers(qtbot, window):
    page = window.studies_page
    page.command = [sys.executable]
    process = page.start_worker(["-c", "import time; time.sleep(60)"], "test worker")
    try:
        qtbot.waitUntil(lambda: "1 study worker" in window.engines_label.text(), timeout=10_000)
    finally:
        process.kill()
    qtbot.waitUntil(lambda: "study worker" not in window.engines_label.text(), timeout=10_000)


def test_importances_are_computed_on_request(qtbot, page):
    """#27.10a: the study opens without fANOVA importances; the Importances tab's button asks
    the engine for them, and a live refresh of the same study keeps them."""
    assert page.details["importances_computed"] is False and page.details["importances"] == {}
    assert page.importance_note.text().startswith("Not computed yet")
    assert page.importances.getPlotItem().listDataItems() == [] and page.importance_button.isEnabled()
    page.compute_importances()
    assert not page.importance_button.isEnabled()
    qtbot.waitUntil(lambda: page.importance_button.isEnabled(), timeout=120_000)
    assert set(page.details["importances"]) == {"method.params.lr", "method.params.temperature"}, page.importance_note.text()
    assert page.importance_note.text().startswith("Optuna's ")
    with qtbot.waitSignal(page.study_shown, timeout=60_000):
        page.show_study("lr-search")
    assert page.details["importances_computed"] and set(page.details["importances"]) == {"method.params.lr", "method.params.temperature"}
