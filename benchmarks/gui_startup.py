"""Time from starting ``metalab`` to its window shown (goal: under 2 s).

Runs ``python -m gui --quit-after-shown`` (the same code as the ``metalab`` command) a
few times on a fresh database each time; the app prints a timestamp once the window has
been shown and the event loop has run, then quits. Reported: each run and the median.

    python benchmarks/gui_startup.py                          # offscreen platform
    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/gui_startup.py --platform xcb
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def one_start(platform: str, folder: Path) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM=platform, METALAB_DB=str(folder / "runs.db"), METALAB_DATA=str(folder))
    env["XDG_CONFIG_HOME"] = str(folder / "config")  # fresh settings: no cached devices
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "gui", "--quit-after-shown"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    ended = time.time()
    line = next((l for l in out.stdout.splitlines() if l.startswith("shown ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"the GUI did not start:\n{out.stderr}")
    shown = float(line.split()[1])
    return {"to_window_s": round(shown - started, 3), "process_s": round(ended - started, 3)}


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import gui.main_window; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    return round(float(out.stdout.strip()), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(one_start(args.platform, Path(folder)))
    times = [r["to_window_s"] for r in runs]
    result = {
        "platform": args.platform,
        "runs": times,
        "median_s": round(statistics.median(times), 3),
        "max_s": max(times),
        "import_gui_s": import_time(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
