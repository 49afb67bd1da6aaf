"""A stand-in for ``python -m engine`` that follows the same contract, for GUI tests and benchmarks.

    fake_engine.py run CONFIG --db DB --events --run-id ID
    fake_engine.py devices --json | model-info NAME --json | methods --json | baseline CONFIG --json | validate CONFIG --json

Behaviour comes from the environment (the GUI's QProcess passes its environment on):

    fake_engine.py resume ID --db DB --events
    fake_engine.py study create|run FILE --db DB (storage in $METALAB_STUDY_STORAGE; checks FILE with engine.study.load_spec;
                                                                  appends its argv to FAKE_STUDY_LOG)
    fake_engine.py study list --json                             (no studies)
    fake_engine.py serve --db DB [--preload MODEL]   (warm: reads one request line, then runs it)

    FAKE_ENGINE_MODE  ok | crash | abort | garbage | slow | ignore_term | stream | bad_input | silent_exit | oom
    FAKE_CHILDREN     worker processes to start (like data-loader workers; they outlive the engine)  default 0
    FAKE_CHECKPOINT_EVERY  write a (fake) checkpoint every N steps, for resume                       default 0
    FAKE_STEPS        training steps (ok, crash, garbage, slow)         default 40
    FAKE_STEP_SECONDS sleep per step                                    default 0.005
    FAKE_SERVE        serve: "ok", or "die" (exits before any request)    default ok
    FAKE_RATE         metric events per second (stream)                 default 2000
    FAKE_SECONDS      how long to stream (stream)                       default 3
    FAKE_METRICS      basic (train_loss, val_accuracy, lr) | maml (MAML's 20)   default basic

Like the real engine it writes its run's rows to the store (running, metrics in batches,
logs, finished/failed/interrupted), marks SIGTERM/SIGINT as a graceful stop (exit 130),
and exits 2 with one ``error:`` line for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.events import EventWriter  # noqa: E402
from engine.store import Store  # noqa: E402
from tests.gui.metric_runs import MAML_METRICS  # noqa: E402
from tests.gui.metric_runs import value as metric_value  # noqa: E402

STOP = False


def _on_term(_signum: int, _frame: object) -> None:
    global STOP
    STOP = True


STREAMED = {"basic": ("train_loss", "val_accuracy", "lr"), "maml": MAML_METRICS}

OOM_MESSAGE = (
    "out of memory on cuda:0: try a smaller task (fewer queries or n_way), task.k_shot, "
    "first-order MAML, method.params.scope = 'lora', or a shorter model.max_length"
)


def _checkpoints(db: str, run_id: str) -> Path:
    return Path(db).parent / "artifacts" / run_id


def _start_children() -> None:
    import subprocess

    for _ in range(int(os.environ.get("FAKE_CHILDREN", "0"))):
        # Not waited for and not killed: it outlives the engine unless its group is ended.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stdin=subprocess.DEVNULL)


def run(args: argparse.Namespace) -> int:
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    metric_set = os.environ.get("FAKE_METRICS", "basic")
    resume = args.command == "resume"
    if resume:
        args.run_id = args.id
    elif mode == "bad_input":
        print(f"error: {args.config}: unknown key 'task.n_wya'", file=sys.stderr)
        return 2
    elif not Path(args.config).exists():
        print(f"error: {args.config}: file not found", file=sys.stderr)
        return 2
    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, _on_term)
        signal.signal(signal.SIGINT, _on_term)
    steps = int(os.environ.get("FAKE_STEPS", "40"))
    pause = float(os.environ.get("FAKE_STEP_SECONDS", "0.005"))
    store = Store(args.db)
    run_id = args.run_id
    first = 1
    if resume:
        saved = store.artifacts(run_id, "checkpoint")
        if not saved:
            print(f"error: {args.db}: run {run_id} has no checkpoint", file=sys.stderr)
            return 2
        first = int(saved[-1]["step"]) + 1
        store.delete_metrics_after(run_id, first - 1)
        store.update_run(run_id, error=None, finished_at=None)
    every = int(os.environ.get("FAKE_CHECKPOINT_EVERY", "0"))
    _start_children()
    events = EventWriter(sys.stdout if args.events else None, run_id)
    store.start_run(run_id, device="cpu", versions={"metalab": "fake"}, pid=os.getpid(), host=socket.gethostname())
    events.emit("run_started", name="fake", method="protonet", config={}, device="cpu", processes=1)
    start = time.time()
    pending: list[tuple[str, int, float, float, float]] = []
    last_flush = time.time()

    def metric(name: str, step: int, value: float) -> None:
        wall = time.time() - start
        events.emit("metric", name=name, step=step, value=value, wall_time=wall)
        pending.append((name, step, value, wall, time.time()))

    def flush(force: bool = False) -> None:
        nonlocal last_flush
        if pending and (force or time.time() - last_flush > 1.0):
            store.add_metrics(run_id, pending)
            pending.clear()
            store.heartbeat(run_id)
            last_flush = time.time()

    if mode == "stream":
        rate = float(os.environ.get("FAKE_RATE", "2000"))
        seconds = float(os.environ.get("FAKE_SECONDS", "3"))
        sent, step, t0 = 0, 0, time.time()
        total = int(rate * seconds)
        names = STREAMED[metric_set]
        while sent < total and not STOP:
            due = min(total, int((time.time() - t0) * rate) + 1)
            while sent < due:
                name = names[sent % len(names)]
                value = 1e-4 if name == "lr" else (
                    0.2 + 0.7 * (1 - math.exp(-step / 3000)) if "accuracy" in name or "f1" in name else (
                        math.exp(-step / 2000) + 0.05 * math.sin(step)))
                if sent % len(names) == 0:
                    step += 1
                metric(name, step, value)
                sent += 1
                if sent % 200 == 0:
                    events.emit("progress", done=sent, total=total, eta_seconds=(total - sent) / rate, rate=rate)
            flush()
            time.sleep(0.002)
        flush(force=True)
        print(f"sent {sent}", file=sys.stderr, flush=True)
        status = "interrupted" if STOP else "finished"
        store.finish_run(run_id, status, final_metrics={"sent": sent})
        events.emit("run_finished", status=status, final_metrics={"sent": sent})
        return 130 if STOP else 0

    events.emit("log", level="info", message=f"training for {steps} steps")
    for step in range(first, steps + 1):
        if STOP:
            events.emit("checkpoint", path=f"/tmp/fake-{run_id}.ckpt", step=step - 1)
            events.emit("log", level="warning", message="stopped by request")
            flush(force=True)
            store.finish_run(run_id, "interrupted", error="stopped by request")
            events.emit("error", message="stopped by request", kind="interrupted")
            events.emit("run_finished", status="interrupted", final_metrics={})
            return 130
        time.sleep(pause)
        if metric_set == "maml":  # MAML's series, validation and inner loop every 10 steps
            for name in MAML_METRICS:
                if name.startswith(("val_", "inner_")) and step % 10 == 0 or name in ("train_loss", "train_accuracy", "lr"):
                    metric(name, step, metric_value(name, step, steps))
        else:
            noise = 0.15 * math.sin(step * 12.9898) * math.exp(-step / (steps * 2))  # deterministic wiggle
            metric("train_loss", step, 2.0 * math.exp(-step / max(steps / 3, 1)) + 0.1 + noise)
            metric("lr", step, 3e-5 * min(1.0, step / 5))
            if step % 10 == 0:
                metric("val_accuracy", step, 0.2 + 0.6 * (1 - math.exp(-step / max(steps / 3, 1))))
        events.emit("progress", done=step, total=steps, eta_seconds=(steps - step) * pause, rate=1 / max(pause, 1e-3))
        if mode == "garbage":
            _garbage(step)
        if mode in ("crash", "abort") and step == steps // 2:
            flush(force=True)
            print("Traceback (most recent call last):", file=sys.stderr)
            print('  File "fake.py", line 1, in <module>', file=sys.stderr)
            print("RuntimeError: CUDA error: an illegal memory access was encountered", file=sys.stderr, flush=True)
            if mode == "abort":
                os.kill(os.getpid(), signal.SIGKILL)
            return 1
        if mode == "silent_exit" and step == steps // 2:
            flush(force=True)
            return 0
        if mode == "oom" and step == steps // 2:
            flush(force=True)
            store.finish_run(run_id, "failed", error=OOM_MESSAGE)
            events.emit("error", message=OOM_MESSAGE, kind="oom")
            events.emit("run_finished", status="failed", final_metrics={})
            print(f"error: {OOM_MESSAGE}", file=sys.stderr)
            return 1
        if every and step % every == 0:
            flush(force=True)
            folder = _checkpoints(args.db, run_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"step-{step}").write_text("fake checkpoint")
            store.add_artifact(run_id, "checkpoint", folder / f"step-{step}", step=step)
            events.emit("checkpoint", path=str(folder / f"step-{step}"), step=step, kind="checkpoint")
        flush()
    if metric_set == "maml":
        metric("test_accuracy", steps, 0.71)
        metric("test_macro_f1", steps, 0.69)
    flush(force=True)
    final = {"test_accuracy": 0.71, "test_accuracy_ci95": 0.02, "test_episodes": 8, "headline_metric": "test_accuracy",
             "headline_direction": "maximize", "train_seconds": time.time() - start}
    events.emit("log", level="info", message="meta-test accuracy 0.710 ± 0.020")
    store.finish_run(run_id, "finished", final_metrics=final)
    events.emit("run_finished", status="finished", final_metrics=final)
    print(run_id)
    return 0


def _garbage(step: int) -> None:
    out = sys.stdout
    if step % 5 == 1:
        out.write("Some weights of BertModel were not initialized from the model checkpoint\n")
    if step % 5 == 2:
        out.write('{"not": "an event"}\n{broken json\n')
    if step % 5 == 3:  # an event torn over two writes
        line = json.dumps({"v": 1, "seq": -1, "type": "log", "run_id": None, "time": time.time(), "level": "info", "message": f"torn {step}"})
        out.write(line[:10])
        out.flush()
        time.sleep(0.01)
        out.write(line[10:] + "\n")
    if step % 5 == 4:
        out.flush()
        os.write(out.fileno(), b"\xff\xfe binary \x00 junk\r\n")
    out.flush()


def study(args: argparse.Namespace) -> int:
    """Enough of ``study`` for the GUI's study dialog: the file is checked as the engine would."""
    if args.action == "list":
        print("[]")
        return 0
    if args.action == "show":
        print(f"error: no study named {args.file!r}", file=sys.stderr)
        return 2
    from engine.errors import UserError
    from engine.study import load_spec

    try:
        spec = load_spec(args.file)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = os.environ.get("FAKE_STUDY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": sys.argv[1:], "name": spec.name, "n_trials": spec.n_trials,
                                     "storage_env": os.environ.get("METALAB_STUDY_STORAGE")}) + "\n")
    if args.action == "run":
        time.sleep(float(os.environ.get("FAKE_STUDY_SECONDS", "0.5")))
    return 0


def serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Like ``metalab-engine serve``: warm, then one request from stdin becomes a run or a resume."""
    if os.environ.get("FAKE_SERVE", "ok") == "die":
        print("error: the warm engine could not warm up", file=sys.stderr)
        return 1
    print("ready", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    if request["action"] == "resume":
        argv = ["resume", request["run_id"], "--db", args.db, "--events"]
    else:
        argv = ["run", request["config"], "--db", args.db, "--events", "--run-id", request["run_id"]]
    return run(parser.parse_args(argv))


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("config")
    p.add_argument("--db", required=True)
    p.add_argument("--events", action="store_true")
    p.add_argument("--run-id", required=True)
    r = sub.add_parser("resume")
    r.add_argument("id")
    r.add_argument("--db", required=True)
    r.add_argument("--events", action="store_true")
    sub.add_parser("devices").add_argument("--json", action="store_true")
    m = sub.add_parser("model-info")
    m.add_argument("name")
    m.add_argument("--json", action="store_true")
    sub.add_parser("methods").add_argument("--json", action="store_true")
    st = sub.add_parser("study")
    st.add_argument("action", choices=("create", "run", "list", "show"))
    st.add_argument("file", nargs="?")
    st.add_argument("--db")
    st.add_argument("--storage")
    st.add_argument("--json", action="store_true")
    b = sub.add_parser("baseline")
    b.add_argument("config")
    b.add_argument("--json", action="store_true")
    v = sub.add_parser("validate")
    v.add_argument("config")
    v.add_argument("--json", action="store_true")
    w = sub.add_parser("serve")
    w.add_argument("--db", required=True)
    w.add_argument("--preload")
    args = parser.parse_args()
    if args.command == "serve":
        return serve(parser, args)
    if args.command == "study":
        return study(args)
    if args.command == "baseline":
        if os.environ.get("FAKE_ENGINE_MODE") == "bad_input" or not Path(args.config).exists():
            print(f"error: {args.config}: the dataset has too few classes", file=sys.stderr)
            return 2
        print(json.dumps({"episodes": 200, "n_way": 5, "k_shot": 5, "ncm": {"accuracy": 0.7971, "ci95": 0.012},
                          "logreg": {"accuracy": 0.806, "ci95": 0.011}}))
        return 0
    if args.command == "validate":
        tokens = int(os.environ.get("FAKE_PROMPT_TOKENS", "100"))
        limit = int(re.search(r"max_length = (\d+)", Path(args.config).read_text()).group(1))
        if tokens > limit:
            print(f"error: the in-context prompt of meta-test episode 3 needs {tokens} tokens but model.max_length "
                  f"is {limit}; give fewer demonstrations per class", file=sys.stderr)
            return 2
        print(json.dumps({"ok": True, "checks": [f"every in-context prompt fits: the longest needs {tokens} tokens"]}))
        return 0
    if args.command in ("run", "resume"):
        return run(args)
    if args.command == "devices":
        print(json.dumps([{"name": "cpu", "label": "CPU (2 cores)", "memory_total": 8 << 30, "memory_free": 4 << 30}]))
        return 0
    if args.command == "model-info":
        if args.name.startswith("missing"):
            print(f"error: {args.name}: model not found", file=sys.stderr)
            return 2
        info = {"name": args.name, "path": "/models/x", "parameters": 22_700_000, "size_bytes": 90_900_000,
                "hidden_size": 384, "layers": 6, "kind": "decoder" if "gpt" in args.name else "encoder"}
        print(json.dumps(info))
        return 0
    from engine.catalog import all_specs

    print(json.dumps([s.to_json() for s in all_specs()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
