"""The main window: navigation, menus, status bar, and the Launch/Stop paths.

Launch writes the run as queued in the store and its config beside the database, then
hands it to the ``RunQueue``; the Monitor page shows its ``RunSession``. The window only
reads the store otherwise (Runs, Studies).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from engine.config import RunConfig
from engine.errors import UserError
from engine.paths import artifacts_dir, default_db_path
from engine.store import Store
from gui.engine_info import EngineInfo
from gui.engine_process import repo_root
from gui.formatting import plural
from gui.pages.compare import ComparePage
from gui.pages.inspect import InspectPage
from gui.pages.monitor import MonitorPage
from gui.pages.new_experiment import NewExperimentPage
from gui.pages.runs import RunsPage
from gui.pages.studies import StudiesPage
from gui.pages.try_model import TryModelPage
from gui.reattach import Reattacher, followable
from gui.window_size import fitting_geometry, fitting_size
from gui.resume import resume_session
from gui.run_queue import RunQueue, describe
from gui.run_session import RunSession
from gui.settings import app_settings
from gui.widgets import plain_message
from gui.widgets.help_dialogs import AboutDialog, DocsViewer, ShortcutsDialog, about_text, docs_pages, shortcut_rows
from gui.widgets.wheel_guard import guard_wheel
from gui.warm_engine import ENV_SWITCH as WARM_SWITCH
from gui.warm_engine import WarmEngine

PAGES = ("New experiment", "Monitor", "Runs", "Compare", "Studies", "Try a model", "Inspect")
CONFIG_FILTER = "MetaLab config (*.toml);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(
        self,
        *,
        db_path: str | Path | None = None,
        engine_command: list[str] | None = None,
        stop_timeout: float = 20.0,
        restore: bool = True,
        warm_engine: bool | None = None,
    ):
        super().__init__()
        self.db_path = Path(db_path) if db_path else default_db_path()
        self.setWindowTitle("MetaLab")
        self.store_error = self._open_store()
        self.info = EngineInfo(command=engine_command, parent=self)
        self.queue = RunQueue(
            self.db_path, command=engine_command, resolve_auto=self.info.resolve_auto, stop_timeout=stop_timeout, parent=self
        )

        # One engine kept warm for the next Launch (gui/warm_engine.py); by default only with the
        # real engine: a stand-in (tests) need not know ``serve``.
        if warm_engine is None:
            warm_engine = engine_command is None and os.environ.get(WARM_SWITCH, "1") != "0"
        self.warm = WarmEngine(self.db_path, command=engine_command, stop_timeout=stop_timeout, parent=self) if warm_engine else None
        self.queue.warm = self.warm
        self.queue.run_finished.connect(lambda _id, _status: self._keep_warm())
        self.new_page = NewExperimentPage(self.info)
        self.monitor_page = MonitorPage()
        self.runs_page = RunsPage(self.db_path)
        self.compare_page = ComparePage(self.db_path)
        self.studies_page = StudiesPage(self.db_path)
        self.try_page = TryModelPage(self.db_path)
        self.inspect_page = InspectPage(self.db_path, command=engine_command)
        self.stack = QStackedWidget()
        for page in (self.new_page, self.monitor_page, self.runs_page, self.compare_page, self.studies_page, self.try_page,
                     self.inspect_page):
            self.stack.addWidget(page)
        guard_wheel(self.stack)  # scrolling a page never changes a field on the way
        self.nav = QListWidget()
        self.nav.addItems(list(PAGES))
        self.nav.setFixedWidth(150)
        self.nav.setObjectName("navigation")
        self.nav.currentRowChanged.connect(self.show_page)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._make_actions()
        self._make_status_bar()

        self.new_page.launch_requested.connect(self.launch)
        self.new_page.validity_changed.connect(lambda ok, _why: self.launch_action.setEnabled(ok))
        self.new_page.validity_changed.connect(lambda ok, _why: self.search_action.setEnabled(ok))
        self.new_page.open_button.clicked.connect(self.open_config_dialog)
        self.new_page.save_button.clicked.connect(self.save_config_dialog)
        self.monitor_page.stop_requested.connect(self.stop_run)
        self.runs_page.open_requested.connect(self.open_run)
        self.runs_page.clone_requested.connect(self.clone_config)
        self.runs_page.compare_requested.connect(self.compare_runs)
        self.studies_page.compare_requested.connect(self.compare_runs)
        self.studies_page.open_requested.connect(self.open_run)
        self.studies_page.form_config = self._form_config
        self.studies_page.workers_changed.connect(lambda _n: self._update_status())
        self.new_page.search_requested.connect(self.search)
        self.runs_page.search_requested.connect(self.search_around_run)
        self.runs_page.trial_requested.connect(self.open_trial)
        for page in (self.runs_page, self.monitor_page, self.compare_page):
            page.inspect_requested.connect(self.inspect_run)
        self.queue.queue_changed.connect(self._update_status)
        self.queue.queue_changed.connect(self._refresh_runs_if_shown)  # a new run's row and live clock
        self.queue.run_finished.connect(lambda _id, _status: self.runs_page.refresh())
        # Engines that outlived an earlier GUI: follow them from the store (docs/RELIABILITY.md).
        self.reattacher = Reattacher(self.db_path, stop_timeout=stop_timeout, parent=self)
        self.reattacher.run_finished.connect(lambda _id, _status: self.runs_page.refresh())
        self.reattacher.run_finished.connect(lambda _id, _status: self._update_status())
        for session in self.reattacher.attach_live_runs():
            self.monitor_page.add_session(session)
        self._update_status()
        self.monitor_page.resume_requested.connect(self.resume_run)
        self.runs_page.resume_requested.connect(self.resume_run)
        self.monitor_page.oom_panel.db_path = self.db_path
        self.monitor_page.db_path = self.db_path  # the newest run offered after a restart; renames
        self.monitor_page.open_requested.connect(self.open_run)
        self.monitor_page.oom_panel.relaunch_requested.connect(self.relaunch)
        self.info.devices_changed.connect(self._update_devices)

        if restore:
            self._restore()
        else:
            self.resize(fitting_size(self._available_geometry()))
            self.new_page.set_config(RunConfig())
        self.nav.setCurrentRow(0)
        QTimer.singleShot(0, self.info.refresh_devices)
        QTimer.singleShot(0, self._keep_warm)
        if self.store_error:  # once shown: a message set before show() is drawn over the database label
            QTimer.singleShot(0, lambda: self.statusBar().showMessage(self.store_error))

    # --- set-up -------------------------------------------------------------------------
    def _open_store(self) -> str:
        try:
            with Store(self.db_path) as store:
                stale = store.mark_stale_runs()
        except UserError as exc:
            return str(exc)
        return f"{plural(len(stale), 'run')} whose engine had stopped {'was' if len(stale) == 1 else 'were'} marked interrupted" if stale else ""

    def _make_actions(self) -> None:
        def action(text: str, shortcut: QKeySequence | str | None, slot, menu) -> QAction:  # noqa: ANN001
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        self.new_action = action("&New experiment", QKeySequence.StandardKey.New, self.new_experiment, file_menu)
        self.open_action = action("&Open config…", QKeySequence.StandardKey.Open, self.open_config_dialog, file_menu)
        self.save_action = action("&Save config…", QKeySequence.StandardKey.Save, self.save_config_dialog, file_menu)
        file_menu.addSeparator()
        self.quit_action = action("&Quit", "Ctrl+Q", self.close, file_menu)
        run_menu = self.menuBar().addMenu("&Run")
        self.launch_action = action("&Launch", "Ctrl+Return", self.new_page.request_launch, run_menu)
        self.stop_action = action("&Stop", "Ctrl+.", self.stop_current, run_menu)
        view_menu = self.menuBar().addMenu("&View")
        for index, name in enumerate(PAGES):
            action(name, f"Ctrl+{index + 1}", lambda _c=False, i=index: self.show_page(i), view_menu)
        view_menu.addSeparator()
        action("Refresh devices", None, self.info.refresh_devices, view_menu)
        self.search_action = action("Hyper-parameter searc&h…", "Ctrl+Shift+S", self.new_page.request_search, run_menu)
        help_menu = self.menuBar().addMenu("&Help")
        self.docs_menu = help_menu.addMenu("&Documentation")
        for page in docs_pages(repo_root()):
            action(page.name, None, lambda _c=False, name=page.name: self.show_docs(name), self.docs_menu)
        self.shortcuts_action = action("&Keyboard shortcuts", "Ctrl+/", self.show_shortcuts, help_menu)
        self.help_action = action("Parameter &help", QKeySequence.StandardKey.HelpContents,
                                  lambda: self.show_docs("CONFIG.md"), help_menu)
        help_menu.addSeparator()
        self.about_action = action("&About MetaLab", None, self.show_about, help_menu)

    def _make_status_bar(self) -> None:
        self.db_label = QLabel(f"Database: {self.db_path}")
        self.db_label.setToolTip(str(self.db_path))
        self.engines_label = QLabel(describe([]))
        self.devices_label = QLabel("Devices: asking the engine…")
        bar = self.statusBar()
        bar.addWidget(self.db_label, 1)
        bar.addPermanentWidget(self.engines_label)
        bar.addPermanentWidget(self.devices_label)
        if self.info.devices:
            self._update_devices(self.info.devices)

    def _update_status(self) -> None:
        text = describe(self.queue.jobs, followed=len(self.reattacher.active()))
        workers = self.studies_page.running_workers()
        if workers:
            text += f", {workers} study worker{'s' if workers != 1 else ''} running"
        self.engines_label.setText(text)

    def _refresh_runs_if_shown(self) -> None:
        if self.stack.currentWidget() is self.runs_page:
            self.runs_page.refresh()

    # --- help ---------------------------------------------------------------------------
    def show_docs(self, name: str = "README.md") -> DocsViewer:
        viewer = DocsViewer(docs_pages(repo_root()), self)
        viewer.open_name(name)
        viewer.show()
        self.docs_viewer = viewer
        return viewer

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(shortcut_rows(self.menuBar()), self)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(about_text(self.db_path, self.studies_page.storage_url()), self)
        dialog.show()
        self.about_dialog = dialog
        return dialog

    # --- studies ------------------------------------------------------------------------
    def _form_config(self) -> RunConfig | None:
        try:
            return self.new_page.build_config()
        except UserError:
            return None

    def search_around_run(self, config: dict) -> None:
        """Runs › Search around this run…: the study dialog with that run's config as its base."""
        try:
            base = RunConfig.from_dict(config)
        except UserError as exc:
            plain_message.warn(self, "Cannot search around this run", str(exc))
            return
        self.search(base, "Run")

    def search(self, config: RunConfig, label: str = "New experiment form") -> None:
        """New experiment › Search…: the study dialog with this config as its base."""
        self.show_page(PAGES.index("Studies"))
        self.studies_page.new_study(config, label)

    def _update_devices(self, devices: list[dict]) -> None:
        names = ", ".join(str(d.get("label") or d.get("name")) for d in devices) or "CPU"
        note = "" if self.info.devices_known else " (engine not reachable)"
        self.devices_label.setText(f"Devices: {names}{note}")

    def _keep_warm(self) -> None:
        """A warm engine for the next Launch whenever none is running (it would compete with a run for the CPU)."""
        if self.warm is None or self.queue.jobs:
            return
        try:
            model = self.new_page.build_config().model.name
        except UserError:
            model = ""
        self.warm.start(model)

    # --- pages --------------------------------------------------------------------------
    def show_page(self, index: int) -> None:
        if self.nav.currentRow() != index:
            self.nav.setCurrentRow(index)  # comes back here through currentRowChanged
            return
        self.stack.setCurrentIndex(index)
        self.setWindowTitle(f"MetaLab — {PAGES[index]}")
        if self.stack.currentWidget() in (self.runs_page, self.studies_page, self.try_page, self.inspect_page):
            self.stack.currentWidget().refresh()

    def new_experiment(self) -> None:
        self.show_page(0)

    def open_trial(self, study: str, number: int) -> None:
        """From a study's run to its trial: the other way of the Studies page's Open run."""
        self.studies_page.show_trial(study, number)
        self.show_page(PAGES.index("Studies"))

    def inspect_run(self, run_id: str, episode: int = 0) -> None:
        """A finished run on the Inspect page: the engine computes its maps and matrices."""
        self.show_page(PAGES.index("Inspect"))
        self.inspect_page.show_run(run_id, episode)

    def compare_runs(self, ids: list) -> None:
        self.compare_page.set_runs(ids)
        self.show_page(PAGES.index("Compare"))

    def clone_config(self, config: dict) -> None:
        """A past run's config into New experiment (Runs page: Clone config)."""
        try:
            self.new_page.set_config(RunConfig.from_dict(config))
        except UserError as exc:
            plain_message.warn(self, "Cannot clone the config", str(exc))
            return
        self.show_page(0)

    # --- configs ------------------------------------------------------------------------
    def open_config_dialog(self) -> None:
        folder = str(app_settings().value("last/config_folder", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open a run config", folder, CONFIG_FILTER)
        if path:
            self.open_config(path)

    def open_config(self, path: str | Path) -> bool:
        try:
            self.new_page.open_config(path)
        except UserError as exc:
            plain_message.warn(self, "Cannot open the config", str(exc))
            return False
        app_settings().setValue("last/config_folder", str(Path(path).parent))
        self.show_page(0)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save_config_dialog(self) -> None:
        folder = str(app_settings().value("last/config_folder", str(Path.home())))
        name = (self.new_page.name.text().strip() or "run") + ".toml"
        path, _ = QFileDialog.getSaveFileName(self, "Save the run config", str(Path(folder) / name), CONFIG_FILTER)
        if path:
            self.save_config(path)

    def save_config(self, path: str | Path) -> bool:
        try:
            self.new_page.save_config(path)
        except (UserError, OSError) as exc:
            plain_message.warn(self, "Cannot save the config", str(exc))
            return False
        app_settings().setValue("last/config_folder", str(Path(path).parent))
        self.statusBar().showMessage(f"Saved {path} (run it headless with: metalab-engine run {path})", 8000)
        return True

    # --- runs ---------------------------------------------------------------------------
    def launch(self, config: RunConfig) -> str | None:
        """Queues a run: a row in the store, its config file, then the engine when a device is free."""
        try:
            with Store(self.db_path) as store:
                run_id = store.create_run(config.to_dict(), status="queued", owner_pid=os.getpid())
            config_path = artifacts_dir(self.db_path) / run_id / "config.toml"
            config.save(config_path)
        except (UserError, OSError) as exc:
            plain_message.warn(self, "Cannot launch", str(exc))
            return None
        app_settings().setValue("last/config", config.to_toml())
        session = self.queue.submit(run_id, config.name, config_path, config.train.device)
        self.monitor_page.add_session(session)
        self.show_page(1)
        return run_id

    def stop_run(self, run_id: str) -> None:
        if not self.reattacher.stop(run_id):
            self.queue.stop(run_id)

    def resume_run(self, run_id: str) -> bool:
        """Continues an interrupted or failed run from its newest checkpoint (the same engine path)."""
        if self.queue.job(run_id) is not None or run_id in self.reattacher.active():
            self.statusBar().showMessage(f"Run {run_id} is already going", 8000)
            return False
        try:
            session, config_path, device = resume_session(self.db_path, run_id, parent=self)
        except UserError as exc:
            self.statusBar().showMessage(f"Cannot resume: {exc}", 15000)
            return False
        self.queue.submit(run_id, session.name, config_path, device, action="resume", session=session)
        self.monitor_page.add_session(session)
        self.show_page(1)
        return True

    def relaunch(self, config: dict) -> str | None:
        """A new run from a failed run's config with one setting changed (out of memory: one click)."""
        try:
            run_config = RunConfig.from_dict(config)
        except UserError as exc:
            self.statusBar().showMessage(f"Cannot relaunch: {exc}", 15000)
            return None
        return self.launch(run_config)

    def stop_current(self) -> None:
        session = self.monitor_page.session
        if session is not None:
            self.stop_run(session.run_id)

    def open_run(self, run_id: str) -> None:
        for session in reversed(self.monitor_page.sessions):
            live = self.queue.job(run_id) is not None or run_id in self.reattacher.followers
            if session.run_id == run_id and (session.is_over or live):
                self.monitor_page.show_session(session)
                self.show_page(1)
                return
        try:
            with Store(self.db_path) as store:
                run = store.get_run(run_id)
                if followable(run):  # a study trial (or another engine) writing it now: follow it to its end
                    what = f"study trial {run['trial_number']}" if run.get("study") else "run"
                    note = f"{what} run by another process (pid {run['pid']}); following its progress from the database"
                    session = self.reattacher.follow(run, note=note)
                else:
                    session = RunSession.from_store(store, run, parent=self)
        except UserError as exc:
            plain_message.warn(self, "Cannot open the run", str(exc))
            return
        self.monitor_page.add_session(session)
        self.show_page(1)

    def _available_geometry(self) -> QRect:
        """The screen it opens on, less its panels."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 860)

    # --- settings -----------------------------------------------------------------------
    def _restore(self) -> None:
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            self.setGeometry(fitting_geometry(self.geometry(), self._available_geometry()))
        else:
            self.resize(fitting_size(self._available_geometry()))
        splitter = settings.value("window/new_splitter")
        if isinstance(splitter, QByteArray):
            self.new_page.splitter.restoreState(splitter)
        config = RunConfig()
        last = settings.value("last/config")
        if last:
            try:
                config = RunConfig.from_toml(str(last))
            except UserError:
                pass  # a config from an older version: start from the defaults
        self.new_page.set_config(config)

    def _save_settings(self) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/new_splitter", self.new_page.splitter.saveState())
        try:
            settings.setValue("last/config", self.new_page.build_config().to_toml())
        except UserError:
            pass

    def confirm_quit(self, running: int) -> bool:
        """Asks before stopping runs; tests replace it."""
        answer = QMessageBox.question(
            self,
            "Runs in progress",
            f"{plural(running, 'run')} {'is' if running == 1 else 'are'} still going. Stop {'it' if running == 1 else 'them'} (each writes a checkpoint) and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.queue.jobs:
            if not self.confirm_quit(len(self.queue.jobs)):
                event.ignore()
                return
            self.queue.stop_all(wait_ms=int(self.queue.stop_timeout * 1000))
        self._save_settings()
        self.reattacher.shutdown()  # engines we only follow go on without us
        if self.warm is not None:
            self.warm.shutdown()
        self.info.shutdown()
        self.studies_page.shutdown()
        event.accept()
