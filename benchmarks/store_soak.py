"""Soak test of the run store: several engine-like writers and a GUI-like reader on one
database for a minute, then the writers are killed mid-write.

    .venv/bin/python benchmarks/store_soak.py [--writers 4] [--seconds 60]

Each writer commits 10-row metric batches (with a heartbeat) as fast as it can and reports
each committed batch on its stdout; the reader polls like the Runs page and the Monitor.
Prints one JSON object: rows committed vs rows found per writer, errors seen, the reader's
slowest query, and PRAGMA integrity_check after the kill.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WRITER = """
import sys
from engine.store import Store
store = Store(sys.argv[1]); run_id = sys.argv[2]; name = sys.argv[3]
batch = 0
while True:
    store.add_metrics(run_id, [(name, batch * 10 + i, float(i), 0.0, 0.0) for i in range(10)])
    store.heartbeat(run_id)
    batch += 1
    print(batch, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from engine.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "soak.db"
        with Store(db) as store:
            run_id = store.create_run({"name": "soak"})
        procs, committed = [], {}
        for w in range(args.writers):
            proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), run_id, f"w{w}"], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            committed[f"w{w}"] = 0
            procs.append((f"w{w}", proc))

        def follow(name: str, proc: subprocess.Popen) -> None:
            for line in proc.stdout:
                committed[name] = int(line)

        threads = [threading.Thread(target=follow, args=item, daemon=True) for item in procs]
        for t in threads:
            t.start()
        reader, errors, slowest, polls = Store(db, readonly=True), [], 0.0, 0
        end = time.time() + args.seconds
        while time.time() < end:
            started = time.perf_counter()
            try:
                reader.list_runs()
                reader.metrics(run_id, "w0")
                reader.conn.execute("SELECT name, count(*) FROM metrics GROUP BY name").fetchall()
            except sqlite3.Error as exc:
                errors.append(str(exc))
            slowest = max(slowest, time.perf_counter() - started)
            polls += 1
            time.sleep(0.05)
        for _, proc in procs:  # mid-write: they never stop writing
            os.kill(proc.pid, signal.SIGKILL)
        for _, proc in procs:
            proc.wait()
        for t in threads:
            t.join(5)
        writer_errors = [p.stderr.read().strip() for _, p in procs]
        reader.close()
        conn = sqlite3.connect(db)
        found = dict(conn.execute("SELECT name, count(*) FROM metrics GROUP BY name").fetchall())
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        per_writer = {name: {"committed_rows_reported": committed[name] * 10, "rows_found": found.get(name, 0)} for name, _ in procs}
        lost = sum(max(0, v["committed_rows_reported"] - v["rows_found"]) for v in per_writer.values())
        print(json.dumps({
            "writers": args.writers, "seconds": args.seconds, "per_writer": per_writer,
            "rows_lost": lost, "reader_polls": polls, "reader_errors": errors[:3], "reader_error_count": len(errors),
            "writer_errors": [e.splitlines()[-1] for e in writer_errors if e and "Killed" not in e][:3],
            "slowest_reader_query_ms": round(slowest * 1000, 1), "integrity_check": integrity,
        }, indent=2))


if __name__ == "__main__":
    main()
