"""Terminal progress for the phases after training (the untrained baseline, the meta-test).

An event listener (engine.events): it draws the ``progress`` events of every phase but
``train`` (which has its own bar with the loss) on stderr, for people running the CLI by hand.
"""

from __future__ import annotations

from typing import Any

PHASE_LABELS = {"test": "meta-test", "untrained": "untrained baseline", "val": "validation", "reference": "frozen reference"}


class PhaseBar:
    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.progress: Any = None
        self.task: Any = None
        self.phase: str | None = None
        self.training = False  # a training bar is being drawn

    def __call__(self, event: dict[str, Any]) -> None:
        if event["type"] == "run_finished":
            self.close()
        if event["type"] != "progress":
            return
        phase = event.get("phase", "train")
        if phase == "train":
            self.training = event["done"] < event["total"]
            return
        if phase == "val" and self.training:  # the training bar is on screen: no second bar under it
            return
        if event["phase"] != self.phase:
            self.close()
            self._open(event["phase"], event["total"])
        self.progress.update(self.task, completed=event["done"])
        if event["done"] >= event["total"]:
            self.close()

    def _open(self, phase: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.phase = phase
        self.progress = Progress(
            TextColumn(PHASE_LABELS.get(phase, phase)), BarColumn(), MofNCompleteColumn(),
            TextColumn("sentences" if phase == "reference" else "episodes"),
            TimeRemainingColumn(), console=self.console, transient=True,
        )
        self.task = self.progress.add_task(phase, total=total)
        self.progress.start()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress, self.task, self.phase = None, None, None
