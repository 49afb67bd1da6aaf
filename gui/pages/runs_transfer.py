"""Runs in and out of the Runs page: one run to a CSV, JSON or TOML file, runs to TensorBoard
or MLflow and back (engine calls through ``gui.run_exchange``). Mixed into ``RunsPage``,
which owns the selection, the message line, ``refresh`` and the dialogs tests answer."""

from __future__ import annotations

from pathlib import Path


from engine.errors import UserError
from engine.exports import export_run
from engine.external import AGAIN_FLAG
from engine.fileio import atomic_write_text
from engine.store import Store
from gui.export_places import exported, remember_folder, suggested
from gui.run_exchange import export_mlflow_args, export_tensorboard_args, import_mlflow_args, import_tensorboard_args
from gui.widgets import plain_message

EXPORT_FILTERS = {"csv": "CSV (*.csv)", "json": "JSON (*.json)", "toml": "TOML config (*.toml)"}


class RunTransfers:
    def export_selected(self, fmt: str) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        start = suggested(f"{runs[0]['name']}-{runs[0]['id']}.{fmt}")
        path = self.ask_save_path(f"Export {runs[0]['name']}", start, EXPORT_FILTERS[fmt])
        if path:
            self.export_run(runs[0]["id"], fmt, Path(path))

    def export_run(self, run_id: str, fmt: str, path: Path) -> bool:
        try:
            with Store(self.db_path, readonly=True) as store:
                text = export_run(store, run_id, fmt)
            atomic_write_text(path, text)
        except (UserError, OSError) as exc:
            plain_message.warn(self, "Cannot export", str(exc))
            return False
        self.message.setText(exported(self, path, f"run {run_id}"))
        return True

    # --- TensorBoard and MLflow (engine calls: gui.run_exchange) --------------------------------
    def export_selected_to_tensorboard(self) -> None:
        ids = self.selected_ids()
        folder = self.ask_folder("Export to TensorBoard: a log folder (one sub-folder per run)") if ids else None
        if folder:
            remember_folder(folder)
            self._exchange(export_tensorboard_args(ids, Path(folder), self.db_path))

    def export_selected_to_mlflow(self) -> None:
        ids = self.selected_ids()
        uri = self.ask_text("Export to MLflow", "Tracking URI (sqlite:///mlflow.db, http://host:5000):", "") if ids else None
        if uri and uri.strip():
            self._exchange(export_mlflow_args(ids, uri.strip(), self.db_path))

    def import_tensorboard(self) -> None:
        folder = self.ask_folder("Import TensorBoard runs: a log folder")
        if folder:
            self._exchange(import_tensorboard_args(Path(folder), self.db_path))

    def import_mlflow(self) -> None:
        uri = self.ask_text("Import from MLflow", "Tracking URI (sqlite:///mlflow.db, http://host:5000):", "")
        if uri and uri.strip():
            self._exchange(import_mlflow_args(uri.strip(), self.db_path))

    def _exchange(self, args: list[str]) -> None:
        if self.exchange.busy:
            self.message.setText("An export or import is still going")
            return
        self.message.setText("Working…")
        self.exchange.start(args)

    def _exchange_finished(self, ok: bool, text: str) -> None:
        if not ok and self._refused_as_imported_before(text):
            if self.confirm("Import again", f"{text}\n\nImport a second copy of these runs?"):
                self._exchange([*self.exchange.args, AGAIN_FLAG])
            else:
                self.message.setText("Not imported: already imported before")
            return
        self.message.setText(text if ok else f"Failed: {text}")
        if ok:
            self.refresh()

    def _refused_as_imported_before(self, text: str) -> bool:
        """The engine refuses a source imported before and names the flag that imports it again."""
        args = self.exchange.args
        return args[:2] == ["runs", "import"] and AGAIN_FLAG not in args and AGAIN_FLAG in text
