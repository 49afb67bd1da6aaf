"""Data parallelism over ``torch.distributed`` for one run (``metalab-engine run --nproc N``).

``torchrun`` starts N copies of ``metalab-engine run``; each finds ``RANK``/``WORLD_SIZE``
in its environment and joins one process group (``gloo`` on CPU, ``nccl`` on CUDA, one
GPU per process). Every rank draws the same training episodes (or batch) from the same
seed and works on its share of them:

- episodic methods with a meta-batch: rank r takes tasks ``r, r + N, ...`` of the
  meta-batch; a method with one task per step (protonet, nnshot) gives each rank its own
  episode, so a step then trains N episodes;
- supervised fine-tuning: rank r takes rows ``r, r + N, ...`` of the batch.

Each rank's loss is its share of the *global* mean loss, so after ``all_reduce(SUM)`` of the
gradients every rank holds the single-process gradient (to float rounding) and takes the
same optimizer step. Only rank 0 writes the store, events and checkpoints, and only rank 0
validates and runs the meta-test; the others wait for it at the next collective.

A rank that raises records its message in the rendezvous store before it exits, and a
heartbeat thread stamps each rank's liveness there, so rank 0 can name the rank that
failed or died (``PeerFailure``) instead of hanging: collectives time out after
``timeout`` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import torch

T = TypeVar("T")
BEAT_SECONDS = 1.0
DEAD_AFTER_SECONDS = 4.0
DEFAULT_TIMEOUT_SECONDS = 1800.0


class PeerFailure(RuntimeError):
    """Another rank of a data-parallel run failed or died."""


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


@dataclass
class World:
    """This process's place in a data-parallel run; the default is a world of one."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    _beat: threading.Event | None = field(default=None, repr=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def backend(self) -> str:
        import torch.distributed as dist

        return dist.get_backend() if self.active and dist.is_initialized() else "none"

    # --- sharing work -----------------------------------------------------------------
    def share(self, items: Sequence[T]) -> list[T]:
        """This rank's items: ``items[rank::size]``."""
        return list(items[self.rank :: self.size]) if self.active else list(items)

    def episode_index(self, step: int) -> int:
        """For one-task-per-step methods: each rank trains its own episode of the step."""
        return (step - 1) * self.size + self.rank

    # --- collectives --------------------------------------------------------------------
    def sum_gradients(self, params: Sequence[torch.Tensor]) -> None:
        """Gradients summed over ranks, in place (each rank computed its share of the mean loss)."""
        if not self.active:
            return
        import torch.distributed as dist

        # Every rank runs the same model on its share, so the same parameters have gradients
        # everywhere (unused ones, such as BERT's pooler, have none anywhere and stay None:
        # AdamW skips them, weight decay included, as in one process).
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        self._guard(dist.all_reduce, flat, op=dist.ReduceOp.SUM)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def sum_scalars(self, *values: float) -> list[float]:
        if not self.active:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        self._guard(dist.all_reduce, t, op=dist.ReduceOp.SUM)
        return [float(v) for v in t.tolist()]

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one (a stop request, say)."""
        return bool(self.sum_scalars(1.0 if flag else 0.0)[0] > 0) if self.active else flag

    def _collective_device(self) -> torch.device:
        import torch.distributed as dist

        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")

    def _guard(self, collective: Any, *args: Any, **kwargs: Any) -> None:
        try:
            collective(*args, **kwargs)
        except Exception as exc:  # a peer closed its connection or the collective timed out
            raise PeerFailure(self.describe_failure(exc)) from None

    # --- failure reports ------------------------------------------------------------------
    def record_failure(self, message: str) -> None:
        store = _store()
        if store is not None:
            try:
                store.set(f"metalab/failed/{self.rank}", message[:500])
            except Exception:
                pass

    def describe_failure(self, exc: BaseException) -> str:
        """Which rank failed (its own message) or died (no heartbeat), for rank 0's error."""
        store = _store()
        deadline = time.monotonic() + DEAD_AFTER_SECONDS + BEAT_SECONDS
        while store is not None and time.monotonic() < deadline:
            for rank in range(self.size):
                if rank == self.rank:
                    continue
                try:
                    if store.check([f"metalab/failed/{rank}"]):
                        return f"rank {rank} of {self.size} failed: {store.get(f'metalab/failed/{rank}').decode()}"
                except Exception:
                    break
            dead = self._silent_ranks(store)
            if dead:
                return f"rank {', '.join(map(str, dead))} of {self.size} died (no heartbeat for {DEAD_AFTER_SECONDS:.0f} s)"
            time.sleep(0.25)
        first = str(exc).strip().splitlines()
        return f"a peer rank of {self.size} stopped answering: {first[0] if first else type(exc).__name__}"

    def _silent_ranks(self, store: Any) -> list[int]:
        now = time.time()
        dead = []
        for rank in range(self.size):
            if rank == self.rank:
                continue
            try:
                beat = float(store.get(f"metalab/beat/{rank}").decode())
            except Exception:
                continue
            if now - beat > DEAD_AFTER_SECONDS:
                dead.append(rank)
        return dead

    def start_heartbeat(self) -> None:
        store = _store()
        if store is None or self._beat is not None:
            return
        self._beat = threading.Event()

        def beat() -> None:
            while not self._beat.wait(BEAT_SECONDS):
                try:
                    store.set(f"metalab/beat/{self.rank}", str(time.time()))
                except Exception:
                    return

        store.set(f"metalab/beat/{self.rank}", str(time.time()))
        threading.Thread(target=beat, name="rank-heartbeat", daemon=True).start()

    def close(self) -> None:
        if self._beat is not None:
            self._beat.set()
        import torch.distributed as dist

        if self.active and dist.is_initialized():
            dist.destroy_process_group()


SINGLE = World()


def _store() -> Any:
    import torch.distributed as dist

    if not dist.is_initialized():
        return None
    try:
        from torch.distributed.distributed_c10d import _get_default_store

        return _get_default_store()
    except Exception:
        return None


def init_world(device_kind: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> World:
    """Joins torchrun's process group when launched by it; a world of one otherwise."""
    if not under_torchrun():
        return SINGLE
    import torch.distributed as dist

    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
    world = World(rank=rank, size=size, local_rank=local_rank)
    world.start_heartbeat()
    return world
