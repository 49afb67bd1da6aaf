"""``study show`` of a large study (docs/BENCHMARKS.md, "study show at 10,000 trials").

Builds a MetaLab study of N synthetic trials (4 float parameters, every tenth pruned, no
training: ``tests/study_fill.py``) in a journal, then times ``metalab-engine study show NAME
--json`` in a fresh process, without and with ``--importances``, and its peak memory.

    python benchmarks/study_show_scale.py --trials 10000 --out /tmp/study-show
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed_show(storage: str, *extra: str) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one ``study show`` in its own process."""
    command = [sys.executable, "-m", "engine", "study", "show", "big", "--storage", storage, "--json", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    shown = json.loads(done.stdout)
    return {"seconds": round(seconds, 1), "peak_mb_so_far": round(peak_mb), "trials": len(shown["trials"]),
            "importance_sample": shown.get("importance_sample")}


def main() -> None:
    from tests.study_fill import fill_study

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/study-show"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    journal = args.out / "studies.journal"
    journal.unlink(missing_ok=True)
    start = time.perf_counter()
    storage = fill_study(journal, args.trials)
    print(f"built {args.trials} trials in {time.perf_counter() - start:.1f} s", flush=True)
    print("study show:", timed_show(storage), flush=True)  # run first: its peak is its own
    print("study show --importances:", timed_show(storage, "--importances"), flush=True)


if __name__ == "__main__":
    main()
