"""One progress model for a whole run: every phase, its size, one ETA.

A run is several phases in turn: the untrained model scored on the meta-test episodes,
training (with validations in between), the final validation, the frozen reference and
the meta-test. Each phase's cost per item is measured while it runs; a phase not reached
yet is estimated from one that is alike (an evaluation episode costs about what another
evaluation episode costs; the reference about what an untrained evaluation costs). The
run's ETA is the sum over what is left of every phase, and its share done is by time,
so "100 %" is never shown while the meta-test still has minutes to go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EVALUATIONS = ("untrained", "val", "test")  # phases that score episodes: alike in cost per episode
PHASE_ORDER = ("untrained", "train", "val", "reference", "test")


@dataclass
class _Phase:
    size: float  # items planned in this phase (all its validations for "val")
    done: float = 0.0  # items measured so far
    seconds: float = 0.0  # time spent on them
    current: float = 0.0  # done in the current pass (a validation, the training), as last reported
    last: float | None = None  # time of the last report in this pass
    pass_done: float = 0.0  # items and seconds of the current pass
    pass_seconds: float = 0.0
    whole_done: float = 0.0  # items and seconds of the passes that ran to their end
    whole_seconds: float = 0.0

    def whole_cost(self) -> float | None:
        return self.whole_seconds / self.whole_done if self.whole_done > 0 else None

    def partial_cost(self, *, trusted_after: float) -> float | None:
        """The current measure, once enough of a pass ran: an evaluation's first episode
        also carries the encoding of every sentence of the pass."""
        return self.seconds / self.done if self.done >= trusted_after and self.done > 0 else None


class ProgressPlan:
    def __init__(self, sizes: dict[str, float]):
        """``sizes``: items per phase still to do in this process (a resumed run's are fewer)."""
        self.phases = {name: _Phase(float(size)) for name, size in sizes.items() if size > 0}
        self.passes: dict[str, float] = {}  # phase -> items of one pass (its ``total``)
        self.phase: str | None = None

    @classmethod
    def for_run(cls, *, untrained: int, train: int, validations: int, val_episodes: int, reference: int, test: int
                ) -> ProgressPlan:
        return cls({"untrained": untrained, "train": train, "val": validations * val_episodes,
                    "reference": reference, "test": test})

    def update(self, phase: str, done: int, total: int, now: float | None = None) -> None:
        """A progress report: ``done`` of ``total`` items of ``phase`` (reference: sentences)."""
        now = time.monotonic() if now is None else now
        state = self.phases.get(phase)
        if state is None:
            return
        if phase == "reference" and total:  # reported in sentences, planned in episodes
            done, total = done * state.size / total, state.size
        self.passes[phase] = float(total)
        if self.phase != phase or done < state.current or state.last is None:  # a new pass of this phase
            state.current, state.last, state.pass_done, state.pass_seconds = float(done), now, 0.0, 0.0
        else:
            step_seconds, step_done = now - state.last, done - state.current
            state.seconds += step_seconds
            state.done += step_done
            state.pass_seconds += step_seconds
            state.pass_done += step_done
            state.current, state.last = float(done), now
            if total and done >= total:  # a whole pass: its cost per item counts every overhead in it
                state.whole_done += state.pass_done
                state.whole_seconds += state.pass_seconds
                state.pass_done = state.pass_seconds = 0.0
        self.phase = phase

    def _cost(self, name: str) -> float | None:
        """Seconds per item of ``name``: measured, or borrowed from a phase alike."""
        own = self.phases.get(name)
        if name == "train" or name not in (*EVALUATIONS, "reference"):
            return own.partial_cost(trusted_after=1) if own is not None else None
        trusted = max(5.0, 0.25 * self.passes.get(name, 0.0))
        alike = [self.phases[n] for n in (name, *EVALUATIONS) if n in self.phases]
        for measure in (
            *(p.whole_cost() for p in alike),
            own.partial_cost(trusted_after=trusted) if own is not None else None,
            *(p.partial_cost(trusted_after=1) for p in alike),
        ):
            if measure is not None:
                return measure
        train = self.phases.get("train")
        return train.partial_cost(trusted_after=1) if train is not None else None

    def eta(self) -> float | None:
        """Seconds left in the whole run; None until every phase left has a cost to go by."""
        left = 0.0
        for name in PHASE_ORDER:
            state = self.phases.get(name)
            if state is None:
                continue
            remaining = state.size - state.done
            if remaining <= 0:
                continue
            cost = self._cost(name)
            if cost is None:
                return None
            left += remaining * cost
        return left

    def fraction(self) -> float | None:
        """Share of the run done, by time: elapsed over elapsed plus what is left."""
        eta = self.eta()
        if eta is None:
            return None
        elapsed = sum(state.seconds for state in self.phases.values())
        return elapsed / (elapsed + eta) if elapsed + eta > 0 else 1.0
