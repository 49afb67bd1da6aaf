"""The quickstart as a benchmark: wall time, and meta-test accuracy before and after training.

    .venv/bin/python benchmarks/quickstart.py [--config examples/quickstart.toml] [--set KEY=VALUE ...]

Runs the engine CLI in a subprocess on a temporary database and prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "examples" / "quickstart.toml"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        command = [sys.executable, "-m", "engine", "run", args.config, "--db", str(db)]
        for item in args.set:
            command += ["--set", item]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(result.stderr)
        run_id = result.stdout.strip().splitlines()[-1]
        shown = subprocess.run(
            [sys.executable, "-m", "engine", "runs", "show", run_id, "--db", str(db), "--json"],
            cwd=REPO, capture_output=True, text=True, check=True,
        )
    final = json.loads(shown.stdout)["final_metrics"]
    keys = ("test_accuracy", "test_accuracy_ci95", "untrained_test_accuracy", "untrained_test_accuracy_ci95",
            "gain_over_untrained", "gain_over_untrained_ci95", "gain_over_untrained_p_value", "train_seconds",
            "train_episodes", "test_episodes")
    print(json.dumps({
        "wall_seconds": round(wall, 1),
        **{k: final.get(k) for k in keys},
        "overrides": args.set,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }, indent=2))


if __name__ == "__main__":
    main()
