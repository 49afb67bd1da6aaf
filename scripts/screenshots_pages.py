"""Screenshots of the New experiment form (MAML), the Runs table's columns, the study
dialog and the Studies views, at 1024 x 700, into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots_pages.py

The database is filled through the store API (runs of several methods, as the GUI tests
do) with a 16-trial study made with Optuna in a journal file beside it. No engine run.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from pathlib import Path

from _screens import OUT, ROOT, SIZE, settle, wait  # noqa: E402,F401  (the scripts' shared helpers)




def make_study(db: Path, name: str = "maml-search", n: int = 16) -> None:
    """A MAML study with three parameters and a clear optimum, trials linked to runs."""
    import datetime as dt

    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState, create_trial

    from engine.config import RunConfig
    from engine.store import Store
    from tests.gui.store_fill import add_run, base_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = RunConfig().with_values({"name": name, "method.name": "maml"}).to_dict()
    space = {"method.params.inner_lr": {"low": 1e-4, "high": 1e-1, "log": True, "type": "float"},
             "method.params.inner_steps": {"low": 1, "high": 5, "type": "int"},
             "method.params.scope": {"choices": ["head", "lora"]}}
    attr = {"version": 1, "base": base, "space": space, "sampler": "nsga2", "pruner": "median", "n_trials": n,
            "metric": "val_accuracy", "direction": "maximize", "seed": 0, "sampler_options": {}, "pruner_options": {}}
    storage = JournalStorage(JournalFileBackend(str(db.parent / "studies.journal")))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("metalab", attr)
    dists = {"method.params.inner_lr": FloatDistribution(1e-4, 1e-1, log=True),
             "method.params.inner_steps": IntDistribution(1, 5),
             "method.params.scope": CategoricalDistribution(["head", "lora"])}
    rng = random.Random(3)
    with Store(db) as store:
        for number in range(n):
            lr, steps, scope = 10 ** rng.uniform(-4, -1), rng.randint(1, 5), rng.choice(["head", "lora"])
            value = 0.78 - 0.05 * (math.log10(lr) + 2) ** 2 + 0.015 * steps + (0.03 if scope == "lora" else 0) + rng.gauss(0, 0.01)
            pruned = value < 0.6 and number > 5
            config = base_config(f"{name}-{number}", method="maml")
            config["method"]["params"].update({"inner_lr": lr, "inner_steps": steps, "scope": scope})
            minutes = 2 + steps * (2.5 if scope == "lora" else 1.0) + rng.uniform(0, 1)
            finished = f"2026-11-20T10:{int(minutes):02d}:{int(minutes % 1 * 60):02d}.000Z"
            run_id = add_run(store, config, accuracies=[value] * 3, study=name, trial_number=number,
                             status="pruned" if pruned else "finished", finished=finished)
            trial = create_trial(params={"method.params.inner_lr": lr, "method.params.inner_steps": steps,
                                         "method.params.scope": scope}, distributions=dists,
                                 value=None if pruned else value, state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                                 user_attrs={"run_id": run_id})
            trial.datetime_start = dt.datetime(2026, 11, 20, 10, 0, 0)
            trial.datetime_complete = trial.datetime_start + dt.timedelta(minutes=minutes)
            study.add_trial(trial)


def main() -> None:
    os.environ["METALAB_DATA"] = tempfile.mkdtemp()
    from PySide6.QtWidgets import QApplication

    from engine.config import RunConfig
    from gui.main_window import PAGES, MainWindow
    from tests.gui.store_fill import fill_methods

    app = QApplication.instance() or QApplication([])
    db = Path(tempfile.mkdtemp()) / "runs.db"
    fill_methods(db)
    make_study(db)
    win = MainWindow(db_path=db, restore=False)
    win.resize(*SIZE)
    win.show()
    OUT.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(widget, name):  # noqa: ANN001, ANN202
        settle(app)
        widget.grab().save(str(OUT / f"{name}.png"))
        shots.append(OUT / f"{name}.png")

    # New experiment with MAML: grouped, labelled, scope = head disables the LoRA and top-k fields
    page = win.new_page
    page.set_config(RunConfig().with_values({"name": "maml-intents", "method.name": "maml", "train.device": "cpu"}))
    wait(app, lambda: not page.dataset_panel.is_busy())
    page.param_form.set_values({"scope": "head"})
    page.param_form.show_help("scope")
    page.validate()
    scroll = page.settings_scroll
    scroll.ensureWidgetVisible(page.param_form.editor("scope"), 0, 200)
    shot(win, "new_experiment_maml")

    # Runs with config and metric columns and the progress bar
    win.show_page(PAGES.index("Runs"))
    runs = win.runs_page
    wait(app, lambda: runs.model.rowCount() >= 4)
    runs.set_extra_columns(["config:method.params.inner_lr", "config:method.params.scope", "metric:test_loss"])
    wait(app, lambda: runs.model.columnCount() >= 19 and runs.model.rowCount() >= 4)
    for key in ("model", "dataset", "task", "tags", "created_at", "id"):
        runs.column_actions[key].setChecked(False)
    shot(win, "runs_columns")

    # Studies: every view of an NSGA-II study, then the study dialog from New experiment's config
    win.show_page(PAGES.index("Studies"))
    studies = win.studies_page
    wait(app, lambda: studies.details is not None)
    for index in range(1, studies.tabs.count()):
        studies.tabs.setCurrentIndex(index)
        name = studies.tabs.tabText(index).lower().replace(" ", "_")
        shot(win, f"study_{name}")
    dialog = studies.new_study(page.build_config())
    dialog.set_searched("inner_lr", low=1e-4, high=1e-1, log=True)
    dialog.set_searched("scope", choices=["head", "lora"])
    dialog.sampler.setCurrentIndex(dialog.sampler.findData("nsga2"))
    dialog.resize(720, 600)
    shot(dialog, "study_new")
    dialog.reject()

    viewer = win.show_docs("GUI.md")
    viewer.resize(900, 600)
    shot(viewer, "help_docs")
    viewer.close()
    win.close()
    print("\n".join(str(p) for p in shots))


if __name__ == "__main__":
    main()
