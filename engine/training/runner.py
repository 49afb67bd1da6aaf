"""Runs one experiment end to end: data, model, method, training loop, evaluation, store.

Everything a user can get wrong (config, dataset, model path, device) is checked before
the first row is written, so bad input leaves nothing half-written in the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np
import torch

from engine import baseline, methods
from engine.config import RunConfig
from engine.data import episodes_key
from engine.distributed import SINGLE, World, init_world
from engine.errors import OutOfMemory, UserError
from engine.events import EventWriter
from engine.models.encoder import TextEncoder
from engine.models.loading import check_quantization, resolve_model
from engine.catalog import get as get_spec
from engine.stats import paired_difference
from engine.store import Store
from engine.tasks import TaskData, build_task_data
from engine.training import devices, fingerprints, precision
from engine.training.checkpoints import KEEP_CHECKPOINTS, prune_checkpoints, save_checkpoint
from engine.training.evaluation import EvaluationStopped, evaluate_episodes, evaluate_rows
from engine.training.phase_bar import PhaseBar
from engine.training.progress_plan import ProgressPlan
from engine.training.recorder import EpisodeSaver, Recorder, RecorderLogHandler, versions
from engine.training.write_queue import RunVanished, StoreUnavailable
from engine.training.reporters import open_reporters

log = logging.getLogger("engine.run")


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM: the loop finishes its step, checkpoints and stops."""

    requested: bool = False
    signals: list[int] = field(default_factory=list)

    def install(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            if self.requested:  # a second signal: stop now
                raise KeyboardInterrupt
            self.requested = True
            self.signals.append(signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)


@dataclass
class StartPoint:
    """Where a resumed or forked run starts: a checkpoint's step, weights and optimizer state."""

    step: int
    weights: dict[str, Any]
    state: dict[str, Any] | None = None  # optimizer, scheduler, generator (resume only)
    lr_scale: float = 1.0  # a fork that keeps the optimizer state under a new learning rate


@dataclass
class RunOutcome:
    run_id: str
    status: str
    final_metrics: dict[str, Any]


class Pruned(Exception):
    """Raised by an ``on_validate`` callback (a study's pruner) to end a run early."""


# on_validate(step, metrics) is called after each validation; it may raise Pruned.
ValidateCallback = Callable[[int, dict[str, float]], None]


OOM_ADVICE = (
    "out of memory on {device}: try a smaller task (fewer queries or n_way), task.k_shot, "
    "first-order MAML, method.params.scope = 'lora', or a shorter model.max_length"
)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def prepare(config: RunConfig) -> tuple[TaskData, torch.device]:
    """All checks that need data or torch, before anything is written."""
    method_cls = methods.load(config.method.name)
    data = build_task_data(config, train_query=method_cls.train_query(method_cls.bind(config.method.params)))
    resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    methods.check_run_model(config, data)
    device = devices.resolve_device(config.train.device)
    check_quantization(config.model.quantize, device.type)  # train.device = "auto" resolved: CUDA or not
    return data, device


def training_episodes(config: RunConfig, method_cls: type[methods.Method]) -> int:
    """train.episodes, or none for a method that learns nothing from them (in-context learning)."""
    return config.train.episodes if method_cls.trains else 0


def run_experiment(
    config: RunConfig,
    *,
    db_path: Path,
    events_stream: IO[str] | None = None,
    run_id: str | None = None,
    stop: StopFlag | None = None,
    progress_bar: bool = False,
    on_validate: ValidateCallback | None = None,
    study: str | None = None,
    trial_number: int | None = None,
    start: StartPoint | None = None,
) -> RunOutcome:
    stop = stop or StopFlag()
    data, device = prepare(config)
    spec = get_spec(config.method.name)
    method_cls = methods.load(spec.name)
    world = init_world(device.type)  # a world of one unless torchrun started this process
    if world.active and start is not None:
        world.close()
        raise UserError("a data-parallel run cannot resume or fork yet: resume it in one process (without --nproc)")
    if world.active and device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
    with _loading_status(config.model.name, progress_bar):
        encoder = methods.build_run_model(config)
    if world.active and not world.is_main:
        return _follow(config, data, device, encoder, method_cls, world, stop)

    store = Store(db_path)
    if run_id is None:
        # owned by this process until it starts: a kill in between is seen, not left queued
        run_id = store.create_run(config.to_dict(), study=study, trial_number=trial_number, owner_pid=os.getpid())
    else:
        existing = store.get_run(run_id)
        if existing["status"] != "queued":
            raise UserError(f"run {run_id} is {existing['status']}, not queued", source=str(db_path))
        store.update_run(run_id, config=config.to_dict())
    # What it trains on, so resume and fork can tell when the data or model changed.
    model_source = resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
    store.update_run(run_id, **fingerprints.take(data.dataset, model_source).as_columns())
    events = EventWriter(events_stream, run_id)
    recorder = Recorder(store, events, run_id)
    handler = RecorderLogHandler(recorder)
    engine_log = logging.getLogger("engine")
    engine_log.addHandler(handler)
    engine_log.setLevel(logging.INFO)
    events.listeners.extend(open_reporters(config, run_id, db_path))  # train.report_to: warnings go to the run's log
    if progress_bar:
        events.listeners.append(PhaseBar())  # the untrained baseline and the meta-test on the terminal
    try:
        return _train_and_test(
            config, data, device, encoder, method_cls, store, events, recorder, run_id, stop, progress_bar, on_validate, start,
            world,
        )
    except Pruned:
        recorder.write(lambda: store.finish_run(run_id, "pruned", error="pruned by the study's pruner"))
        recorder.drain()
        events.emit("run_finished", status="pruned", final_metrics={})
        return RunOutcome(run_id, "pruned", {})
    except BaseException as exc:
        status, kind, message = _classify_failure(exc, device)
        if isinstance(exc, RunVanished):  # a checkpoint written since the delete would be left behind
            store.remove_orphan_folder(run_id)
        elif not isinstance(exc, StoreUnavailable):  # else it stays running; its dead pid marks it interrupted
            recorder.write(lambda: store.finish_run(run_id, status, error=message))
            recorder.drain()
        events.emit("error", message=message, kind=kind)
        events.emit("run_finished", status=status, final_metrics={})
        if kind == "oom":
            raise OutOfMemory(message) from None
        raise
    finally:
        engine_log.removeHandler(handler)
        store.close()
        world.close()


def _follow(
    config: RunConfig, data: TaskData, device: torch.device, encoder: TextEncoder, method_cls: type[methods.Method],
    world: World, stop: StopFlag,
) -> RunOutcome:
    """A data-parallel rank other than 0: the same training steps and collectives, and no writes.

    Rank 0 alone validates, checkpoints and runs the meta-test; between steps it meets the
    others at the next collective.
    """
    try:
        seed_everything(config.train.seed)
        encoder.to(device)
        total = training_episodes(config, method_cls)
        method = method_cls(encoder, dict(config.method.params), data, device=device, seed=config.train.seed, total_steps=total)
        method.world = world
        precision.setup_compute(encoder, method_cls, config.method.params, device)
        method.setup()
        for step in range(1, total + 1):
            method.train_step(step)
            if world.any(stop.requested):
                break
        return RunOutcome("", "follower", {})
    except BaseException as exc:
        text = str(exc).strip().splitlines()
        world.record_failure(f"{type(exc).__name__}: {text[0] if text else ''}")
        raise
    finally:
        world.close()


def _classify_failure(exc: BaseException, device: torch.device) -> tuple[str, str, str]:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted", "stopped by the user"
    if isinstance(exc, (torch.OutOfMemoryError, OutOfMemory)) or "out of memory" in str(exc).lower():
        return "failed", "oom", OOM_ADVICE.format(device=device)
    if isinstance(exc, UserError):
        return "failed", "user", str(exc)
    if isinstance(exc, StoreUnavailable):
        return "failed", "store", str(exc)
    text = str(exc).strip().splitlines()
    return "failed", "internal", f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _frozen_reference(
    config: RunConfig, data: TaskData, device: torch.device, on_batch: Callable[[int, int], None]
) -> baseline.Baseline | None:
    """The frozen base model on the test episodes: the reference a trained model has to beat
    (Compare draws it; the run's gain over it is paired). Scored after training, on a fresh
    copy of the base model, so that the first training point is not kept waiting (tens of
    seconds on CPU); the random generators are left as training left them, so the meta-test
    draws what it drew before."""
    if not baseline.applies(data):
        return None
    import random

    log.info("scoring the frozen base model on the test episodes (the reference)")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            frozen = methods.build_run_model(config).to(device)
            return baseline.score_test_episodes(frozen, data, config.task.test_episodes, on_batch=on_batch)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _train_and_test(
    config: RunConfig,
    data: TaskData,
    device: torch.device,
    encoder: TextEncoder,
    method_cls: type[methods.Method],
    store: Store,
    events: EventWriter,
    recorder: Recorder,
    run_id: str,
    stop: StopFlag,
    progress_bar: bool,
    on_validate: ValidateCallback | None,
    start: StartPoint | None = None,
    world: World = SINGLE,
) -> RunOutcome:
    seed_everything(config.train.seed)
    encoder.to(device)
    # a data-parallel run names its ranks wherever the device is shown (Monitor, Runs, runs show)
    where = devices.describe(device) + (f" × {world.size} ranks ({world.backend})" if world.active else "")
    store.start_run(run_id, device=where, versions=versions(), pid=os.getpid(), host=socket.gethostname())
    events.emit("run_started", name=config.name, method=config.method.name, config=config.to_dict(), device=where,
                processes=world.size)
    precision.setup_compute(encoder, method_cls, config.method.params, device)  # logs its choice: after run_started
    final: dict[str, Any] = {}
    log.info(
        "model %s: %.1fM parameters on %s; dataset %s: %s",
        config.model.name, encoder.parameter_count() / 1e6, where,
        data.dataset.source, data.task.dataset_summary(data.dataset),
    )
    if data.val_warning:  # in the run's log, and the Monitor's warning line
        log.warning(data.val_warning)
    total = training_episodes(config, method_cls)
    method = method_cls(encoder, dict(config.method.params), data, device=device, seed=config.train.seed, total_steps=total)
    method.world = world
    method.setup()
    if world.active:
        log.info("data parallel: %d processes (%s), this is rank 0", world.size, world.backend)
    first_step = 1
    if start is not None:
        _restore(method, start)
        first_step = start.step + 1
        log.info("continuing from the checkpoint at step %d", start.step)
    task = data.task
    headline = f"test_{task.headline}"
    untrained_results: list[dict[str, Any]] = store.episodes(run_id, split="untrained") if start else []
    score_untrained = not untrained_results and config.train.eval_untrained and data.mode == "episodic" and start is None
    recorder.plan = _plan(config, data, method_cls, total, first_step, score_untrained)
    if score_untrained:
        assert data.test_sampler is not None
        def untrained_progress(done: int, total: int) -> None:
            recorder.progress(done, total, force=done in (0, total), phase="untrained")

        try:
            _, untrained_results = evaluate_episodes(
                method, data.test_sampler, config.task.test_episodes, on_episode=untrained_progress,
                should_stop=lambda: stop.requested,
            )
        except EvaluationStopped as exc:  # nothing trained yet: nothing to keep or resume
            return _stopped(recorder, step=0, train_seconds=0.0,
                            reason=f"stopped by the user while scoring the untrained model ({len(exc.results)} of "
                                   f"{config.task.test_episodes} episodes), before training: launch it again")
        recorder.write(lambda: store.add_episodes(run_id, untrained_results, split="untrained"), rows=len(untrained_results))
        untrained = task.summarize(untrained_results, "test")
        log.info("untrained model: %s %.4f ± %.4f", headline, untrained[headline], untrained[f"{headline}_ci95"])
    if untrained_results:
        untrained = task.summarize(untrained_results, "test")
        final[f"untrained_{headline}"] = untrained[headline]
        final[f"untrained_{headline}_ci95"] = untrained[f"{headline}_ci95"]

    bar = _progress_bar(total) if progress_bar else None
    started = time.time()
    step = first_step - 1
    if total:
        recorder.progress(step, total, force=True)  # training's clock starts here, not after its first step
    try:
        for step in range(first_step, total + 1):
            values = method.train_step(step)
            recorder.metrics(values, step)
            if not np.isnan(method.current_lr):
                recorder.metric("lr", step, method.current_lr)
            validating = bool(config.train.eval_every) and step % config.train.eval_every == 0
            recorder.progress(step, total, force=step == total or validating)  # the step a validation follows is said
            if bar:
                bar.update(step, values.get("train_loss"))
            if config.train.eval_every and step % config.train.eval_every == 0 and step < total:
                try:
                    _validate(config, data, method, recorder, step, on_validate, stop)
                except EvaluationStopped:  # the checkpoint below keeps this step; its validation is dropped
                    log.info("stop requested during the validation at step %d", step)
            if config.train.checkpoint_every and step % config.train.checkpoint_every == 0:
                _checkpoint(config, method, recorder, step, elapsed=time.time() - started)
            if world.any(stop.requested):  # every rank stops at the same step
                if not stop.requested:  # another rank's stop (a study's own flag may be read-only)
                    stop.requested = True
                log.info("stop requested at step %d: writing a checkpoint", step)
                break
    except RunVanished:  # deleted: nothing of it is kept
        raise
    except StoreUnavailable:
        _checkpoint(config, method, recorder, step, elapsed=time.time() - started)  # files only: the lock holds
        raise
    finally:
        if bar:
            bar.close()
    earlier_seconds = float((start.state or {}).get("train_seconds", 0.0)) if start else 0.0
    train_seconds = time.time() - started + earlier_seconds
    if stop.requested:
        _checkpoint(config, method, recorder, step, elapsed=train_seconds)
        return _stopped(recorder, step=step, train_seconds=train_seconds, reason="stopped by the user")

    # The trained weights are kept before the evaluation, which can take longer than the
    # training (a MAML meta-test on CPU): a stop or a kill from here on loses no training,
    # and ``resume`` goes straight on to the evaluation.
    kept_for_evaluation = total > 0 and not (config.train.checkpoint_every and total % config.train.checkpoint_every == 0)
    if kept_for_evaluation and step >= first_step:  # (a run resumed for its evaluation has it already)
        _checkpoint(config, method, recorder, total, elapsed=train_seconds)
    phase = "validation"
    try:
        if config.train.eval_every and (total or not method_cls.trains):
            # a method that trains nothing is still scored on meta-val once (studies read val_<headline>)
            _validate(config, data, method, recorder, total, on_validate, stop)
        phase = "frozen reference"

        def reference_progress(done: int, count: int) -> None:
            recorder.progress(done, count, force=done in (0, count), phase="reference")
            if stop.requested:
                raise EvaluationStopped([])

        if baseline.applies(data):
            reference_progress(0, 1)  # said before the base model loads (seconds), not after
        reference = _frozen_reference(config, data, device, reference_progress)
        if reference is not None:
            final.update(baseline.final_metrics(reference))
            log.info("frozen encoder: nearest class mean %.4f, logistic regression %.4f on the test episodes",
                     final["baseline_ncm_accuracy"], final["baseline_logreg_accuracy"])
        phase = "meta-test"
        # a run stopped during its meta-test and resumed keeps the episodes it had scored
        scored = store.episodes(run_id, split="test") if start is not None and start.step >= total else []
        summary, test_results = _test(config, data, method, recorder, store, run_id, record=True, stop=stop, scored=scored)
    except EvaluationStopped as exc:
        kept = f"; {len(exc.results)} of {config.task.test_episodes} episodes scored and kept" if phase == "meta-test" else ""
        resumable = "resume finishes the evaluation" if total > 0 else "launch it again"
        return _stopped(recorder, step=total, train_seconds=train_seconds,
                        reason=f"stopped by the user during the {phase}{kept}: {resumable}")
    final.update(summary)
    if untrained_results:
        # Same episodes before and after training: a paired difference is the honest gain.
        trained = [r[task.headline] for r in sorted(test_results, key=lambda r: r["episode"])]
        gain = paired_difference([r[task.headline] for r in untrained_results], trained)
        final["gain_over_untrained"] = gain["mean_diff"]
        final["gain_over_untrained_ci95"] = gain["ci95"]
        final["gain_over_untrained_p_value"] = gain["p_value"]
    if reference is not None:
        # from the results in memory: the store's copy may still wait behind another program's lock
        trained = [r["accuracy"] for r in sorted(test_results, key=lambda r: r["episode"])]
        gain = paired_difference(reference.accuracies["ncm"], trained)
        final["gain_over_baseline_ncm"] = gain["mean_diff"]
        final["gain_over_baseline_ncm_ci95"] = gain["ci95"]
        final["gain_over_baseline_ncm_p_value"] = gain["p_value"]
    final.update(method.results())
    final["headline_metric"] = headline
    final["headline_direction"] = "maximize" if task.headline_metric.higher_is_better else "minimize"
    final["train_seconds"] = train_seconds
    final["train_episodes"] = total
    final["episodes_per_second"] = total / train_seconds if train_seconds > 0 else None
    _checkpoint(config, method, recorder, total, kind="weights")
    if kept_for_evaluation and not config.train.checkpoint_every:  # only kept for the evaluation: the weights replace it
        _drop_checkpoint(recorder, total)
    recorder.write(lambda: store.finish_run(run_id, "finished", final_metrics=final))
    recorder.drain()
    events.emit("run_finished", status="finished", final_metrics=final)
    return RunOutcome(run_id, "finished", final)


def _plan(
    config: RunConfig, data: TaskData, method_cls: type[methods.Method], total: int, first_step: int, score_untrained: bool
) -> ProgressPlan:
    """The phases this process will run, and their sizes (a resumed run's are fewer)."""
    every = config.train.eval_every
    validations = 0
    if every and data.mode == "episodic":
        validations = sum(1 for s in range(first_step, total) if s % every == 0)
        validations += 1 if (total or not method_cls.trains) else 0
    report = min(config.task.val_episodes, method_cls.INNER_LOOP_REPORT_EPISODES) if method_cls.reports_inner_loop() else 0
    episodic = data.mode == "episodic"
    test = config.task.test_episodes if episodic else 0
    return ProgressPlan.for_run(
        untrained=config.task.test_episodes if score_untrained else 0,
        train=max(0, total - first_step + 1),
        validations=validations, val_episodes=config.task.val_episodes + report,
        reference=test if baseline.applies(data) else 0,
        test=test,
    )


def _stopped(recorder: Recorder, *, step: int, train_seconds: float, reason: str) -> RunOutcome:
    """The run ends ``interrupted``, with what it did so far."""
    store, run_id = recorder.store, recorder.run_id
    stopped = {"train_episodes": step, "train_seconds": train_seconds}
    recorder.write(lambda: store.finish_run(run_id, "interrupted", final_metrics=stopped, error=reason))
    recorder.drain()
    recorder.events.emit("run_finished", status="interrupted", final_metrics=stopped)
    return RunOutcome(run_id, "interrupted", {})


def _validate(
    config: RunConfig,
    data: TaskData,
    method: methods.Method,
    recorder: Recorder,
    step: int,
    on_validate: ValidateCallback | None,
    stop: StopFlag,
) -> None:
    if data.mode == "supervised":
        metrics = {f"val_{k}": v for k, v in evaluate_rows(method, data.val_rows or [], data.label_names).items()}
    else:
        assert data.val_sampler is not None

        def progress(done: int, total: int) -> None:  # MAML's val episodes take minutes on CPU: say so
            recorder.progress(done, total, force=done in (0, total), phase="val")

        report_count = min(config.task.val_episodes, method.INNER_LOOP_REPORT_EPISODES) if method.reports_inner_loop() else 0
        episodes, results = evaluate_episodes(
            method, data.val_sampler, config.task.val_episodes, should_stop=lambda: stop.requested,
            on_episode=lambda done, count: progress(done, count + report_count),  # one validation: episodes and report
        )
        # the latest validation's episodes, for exports (through the lock-tolerant queue)
        recorder.write(lambda: recorder.store.add_episodes(recorder.run_id, results, split="val"), rows=len(results))
        metrics = {k: v for k, v in data.task.summarize(results, "val").items() if not k.endswith("_ci95")}
        report = episodes[:report_count]

        def report_progress(done: int) -> None:  # each adapts with gradients: seconds, so said and stoppable
            progress(len(results) + done, len(results) + len(report))
            if stop.requested:
                raise EvaluationStopped(results)

        metrics.update(method.inner_loop_report(report, on_episode=report_progress))
    recorder.metrics(metrics, step)
    if on_validate is not None:
        recorder.flush()
        on_validate(step, metrics)


def _test(
    config: RunConfig, data: TaskData, method: methods.Method, recorder: Recorder, store: Store, run_id: str, *, record: bool,
    stop: StopFlag | None = None, scored: Sequence[dict[str, Any]] = (),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, per-episode results) of the meta-test (no episodes in supervised mode)."""
    if data.mode == "supervised":
        metrics = evaluate_rows(method, data.test_rows or [], data.label_names)
        return {f"test_{k}": v for k, v in metrics.items()} | {f"test_{data.task.headline}_ci95": None}, []
    assert data.test_sampler is not None
    count = config.task.test_episodes

    def progress(done: int, total: int) -> None:
        recorder.progress(done, total, force=done in (0, total), phase="test")

    saver = EpisodeSaver(recorder, split="test")  # a kill keeps the episodes scored up to the last second
    try:
        episodes, results = evaluate_episodes(
            method, data.test_sampler, count, on_episode=progress if record else None, on_result=saver if record else None,
            should_stop=(lambda: stop.requested) if stop is not None else None, scored=scored,
        )
    finally:
        saver.flush()
    summary = data.task.summarize(results, "test")
    headline = f"test_{data.task.headline}"
    if record:
        key = episodes_key(data.dataset.fingerprint(), episodes)
        recorder.write(lambda: store.update_run(run_id, episodes_key=key))
        summary["test_episodes"] = len(results)
        curves = {f"test_{name}" for name in data.task.curve_metrics}
        recorder.metrics({k: v for k, v in summary.items() if k in curves}, training_episodes(config, type(method)))
        log.info("meta-test: %s %.4f ± %.4f over %d episodes", headline, summary[headline], summary[f"{headline}_ci95"], len(results))
    return summary, results


def _checkpoint(
    config: RunConfig, method: methods.Method, recorder: Recorder, step: int, *, kind: str = "checkpoint", elapsed: float = 0.0
) -> None:
    """Weights (safetensors) plus, for checkpoints, the optimizer state to resume exactly."""
    # Metrics first: a checkpoint at step N promises the curves up to N are stored, so a
    # run resumed from it has no gap.
    recorder.flush()
    store, events, run_id = recorder.store, recorder.events, recorder.run_id
    run_dir = store.claim_artifacts(run_id)
    folder = run_dir / ("weights" if kind == "weights" else f"checkpoint-{step:06d}")
    extra = None
    if kind == "checkpoint":
        extra = {
            "step": step,
            "train_seconds": elapsed,
            "saved_at": time.time(),  # rows of this step written after it are dropped on resume
            "generator": method.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout masks, so a resumed run matches an unbroken one
        }
        if method.optimizer is not None:
            extra["optimizer"] = method.optimizer.state_dict()
        if method.scheduler is not None:
            extra["scheduler"] = method.scheduler.state_dict()
    save_checkpoint(folder, method.state_dict(), step=step, config=config.to_dict(), extra=extra)
    recorder.write(lambda: store.add_artifact(run_id, kind, folder, step=step))
    events.emit("checkpoint", path=str(folder), step=step, kind=kind)
    if kind == "checkpoint":
        for removed in prune_checkpoints(run_dir, keep=KEEP_CHECKPOINTS):
            recorder.write(lambda removed=removed: store.remove_artifact(run_id, removed))


def _drop_checkpoint(recorder: Recorder, step: int) -> None:
    folder = recorder.store.claim_artifacts(recorder.run_id) / f"checkpoint-{step:06d}"
    shutil.rmtree(folder, ignore_errors=True)
    recorder.write(lambda: recorder.store.remove_artifact(recorder.run_id, folder))


def _restore(method: methods.Method, start: StartPoint) -> None:
    method.load_state_dict(start.weights)
    state = start.state or {}
    if method.optimizer is not None and "optimizer" in state:
        method.optimizer.load_state_dict(state["optimizer"])
    if method.scheduler is not None and "scheduler" in state:
        method.scheduler.load_state_dict(state["scheduler"])
    if start.lr_scale != 1.0 and method.optimizer is not None:
        for group in method.optimizer.param_groups:
            group["lr"] *= start.lr_scale
            if "initial_lr" in group:
                group["initial_lr"] *= start.lr_scale
        if method.scheduler is not None:
            method.scheduler.base_lrs = [lr * start.lr_scale for lr in method.scheduler.base_lrs]
    if "generator" in state:
        method.generator.set_state(state["generator"])
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])


def _loading_status(name: str, show: bool) -> Any:
    """A spinner on stderr while the model loads (seconds to minutes for a big one), for the terminal."""
    if not show:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(f"loading model {name}…")


class _progress_bar:
    """A terminal progress bar (rich) on stderr, for people running the CLI by hand."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self.task = self.progress.add_task("train", total=total, loss="-")
        self.progress.start()

    def update(self, done: int, loss: float | None) -> None:
        self.progress.update(self.task, completed=done, loss=f"{loss:.3f}" if loss is not None else "-")

    def close(self) -> None:
        self.progress.stop()
