"""``metalab-engine run --nproc N``: the same command again under ``torchrun``, N processes.

The launcher waits for torchrun and passes SIGINT/SIGTERM on, so a stop from the terminal
or the GUI reaches every rank (they stop at the same step; rank 0 writes the checkpoint).
torchrun names a rank that failed in its own report on stderr; rank 0 names it in the run's
error (``engine.distributed``).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

from engine.errors import UserError


def torchrun_command(args: argparse.Namespace, processes: int) -> list[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        "-m", "engine", "run", str(args.config),
    ]
    if args.db:
        command += ["--db", str(args.db)]
    for item in args.set or []:
        command += ["--set", item]
    command += ["--set", f"train.devices={processes}"]  # the stored config says how it ran
    if args.events:
        command.append("--events")
    if args.run_id:
        command += ["--run-id", args.run_id]
    return command


def launch_data_parallel(args: argparse.Namespace, processes: int, *, device: str) -> int:
    if device.startswith("cuda"):
        import torch

        if torch.cuda.device_count() < processes:
            raise UserError(f"--nproc {processes} on CUDA needs {processes} GPUs; this machine has {torch.cuda.device_count()}")
    proc = subprocess.Popen(torchrun_command(args, processes))

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    return proc.wait()
