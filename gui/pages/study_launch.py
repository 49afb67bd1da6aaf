"""Studies started from the app: a study created in the dialog (its base config from the New
experiment form or a past run) and run by ``study run``, and more trials by ``study worker``,
each in a background engine process. Mixed into ``StudiesPage``, which owns the message
line, the study details, the worker list and ``refresh``."""

from __future__ import annotations

from PySide6.QtCore import QProcess

from engine.config import RunConfig
from engine.errors import UserError
from engine.store import Store
from gui.engine_process import repo_root
from gui.widgets.study_dialog import StudyDialog

PAST_RUNS_AS_BASES = 30


class StudyLaunching:
    def study_bases(self, first: tuple[str, RunConfig] | None = None) -> list[tuple[str, RunConfig]]:
        """Where a study's base config can come from: the New experiment form, then past runs."""
        bases: list[tuple[str, RunConfig]] = [first] if first else []
        form = self.form_config()
        if form is not None and first is None:
            bases.append((f"New experiment form: {form.name} ({form.method.name})", form))
        try:
            with Store(self.db_path, readonly=self.db_path.exists()) as store:
                runs = store.list_runs(limit=PAST_RUNS_AS_BASES)
        except UserError:
            runs = []
        for run in runs:
            if run.get("study"):
                continue  # a trial's config is its study's base with sampled values
            try:
                bases.append((f"Run {run['name']} ({run.get('method')}, {run['id'][:8]})", RunConfig.from_dict(run["config"])))
            except UserError:
                continue  # a config from an older version
        return bases

    def new_study(self, base: RunConfig | None = None, label: str = "New experiment form") -> StudyDialog | None:
        """Opens the study dialog; ``base``: a config to start from (New experiment › Search…,
        Runs › Search around this run…), named ``label`` in its list of bases."""
        bases = self.study_bases((f"{label}: {base.name} ({base.method.name})", base) if base else None)
        if not bases:
            self.message.setText("No base config: fill in New experiment (or run something) first.")
            return None
        self.dialog = StudyDialog(bases, self.db_path, self.storage_environment(), self.command, self)
        self.dialog.study_created.connect(self.launch_study)
        self.dialog.open()
        return self.dialog

    def launch_study(self, name: str, path: str) -> None:
        """Runs a created study's trials here, in a background engine process."""
        self._wanted = name
        self.start_worker(["study", "run", path, "--db", str(self.db_path)],
                          f"Study {name} launched: its trials run in the background.")
        self.refresh()

    def worker_arguments(self) -> list[str]:
        d = self.details or {}
        so_far = sum(n for s, n in d.get("counts", {}).items() if s != "fail")
        budget = so_far + self.more_trials.value()
        return [*self.command[1:], "study", "worker", "--study", d["name"],
                "--db", str(self.db_path), "--n-trials", str(budget)]

    def launch_more_trials(self) -> None:
        if self.details is None:
            return
        self.start_worker(self.worker_arguments()[len(self.command) - 1:],
                          f"Worker started for {self.details['name']}: {self.more_trials.value()} more trials.")

    def start_worker(self, args: list[str], message: str) -> QProcess:
        """A study engine process (``study run`` / ``study worker``) that outlives no window."""
        process = QProcess(self)
        process.setWorkingDirectory(str(repo_root()))
        process.setProcessEnvironment(self.storage_environment())  # the storage URL: not in argv
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        lines: list[str] = []
        process.readyRead.connect(lambda: lines.extend(bytes(process.readAll().data()).decode("utf-8", "replace").splitlines()[-5:]))
        process.finished.connect(lambda code, _s: self._worker_finished(process, code, lines))
        process.start(self.command[0], [*self.command[1:], *args])
        self.workers.append(process)
        self.message.setText(message)
        self.live_timer.start()
        self.workers_changed.emit(self.running_workers())
        return process

    def running_workers(self) -> int:
        return sum(1 for p in self.workers if p.state() != QProcess.ProcessState.NotRunning)

    def _worker_finished(self, process: QProcess, code: int, lines: list[str]) -> None:
        self.workers = [p for p in self.workers if p is not process]
        error = next((l for l in reversed(lines) if l.startswith("error:")), "")
        self.message.setText("Study worker finished." if code == 0 else
                             f"Study worker stopped (exit code {code}){': ' + error.removeprefix('error:').strip() if error else ''}.")
        self.workers_changed.emit(self.running_workers())
        self.refresh()
