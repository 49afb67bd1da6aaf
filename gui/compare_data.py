"""What the Compare page shows, computed off the UI thread, and its exports.

``load_comparison`` reads the runs, their curves and per-episode results through the store
and the engine's one statistics module (``engine.compare``); nothing here does statistics
of its own. ``report_html`` writes a
self-contained report (plots inlined as a base64 PNG).
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from engine.compare import compare_runs, config_diff, headline
from engine.csv_cells import csv_text
from engine.store import Store
from engine.text_escape import html_text, markdown_text
from gui.metric_kinds import default_picks, final_partner


@dataclass
class Curve:
    steps: np.ndarray
    walls: np.ndarray
    values: np.ndarray
    points: int = -1  # rows in the store; more than len(values) when this is an overview

    def __post_init__(self) -> None:
        if self.points < 0:
            self.points = len(self.values)

    @property
    def overview(self) -> bool:
        return self.points > len(self.values)


@dataclass
class Comparison:
    runs: list[dict[str, Any]]  # store rows, in the order asked
    curves: dict[str, dict[str, Curve]]  # run id -> metric -> curve
    episodes: dict[str, list[float]]  # run id -> per-episode test accuracy
    stats: dict[str, Any]  # engine.compare.compare_runs
    diff: list[tuple[str, list[Any]]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # every metric the runs logged, read or not yet
    partial: bool = False  # only the charted metrics' curves are read so far

    @property
    def overview(self) -> bool:
        """Some curves are min/max overviews or not read yet; the full ones are still to come."""
        return self.partial or any(c.overview for per in self.curves.values() for c in per.values())

    @property
    def reference(self) -> str:
        return self.stats["reference"]

    @property
    def stats_pending(self) -> bool:
        """The statistics are still being computed (the curves show first)."""
        return bool(self.stats.get("pending"))

    def metric_names(self) -> list[str]:
        if self.names:
            return list(self.names)
        names: set[str] = set()
        for per_run in self.curves.values():
            names.update(per_run)
        return sorted(names)

    def run(self, run_id: str) -> dict[str, Any]:
        return next(r for r in self.runs if r["id"] == run_id)


# The first paint draws an overview of long curves: the minimum and the maximum of each of
# max_points / 2 step ranges, aggregated by SQLite (in C, GIL released), which is what
# pyqtgraph's "peak" downsampling would draw at this width anyway. The full curves follow.
OVERVIEW_SQL = (
    "SELECT min(step), min(wall_time), min(value), max(value) FROM metrics WHERE run_id = ? AND name = ?"
    " GROUP BY (step - ?) / ? ORDER BY 1"
)
CURVE_SQL = "SELECT step, wall_time, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step, rowid"
# 17 significant digits ("!": beyond SQLite's default 15) read back to the very same doubles
_EXACT = "CASE WHEN {0} IS NULL THEN 'nan' ELSE printf('%!.17g', {0}) END"
JOINED_SQL = (
    f"SELECT count(*), group_concat(step), group_concat({_EXACT.format('wall_time')}), group_concat({_EXACT.format('value')})"
    f" FROM ({CURVE_SQL})"
)


def read_curve(conn: Any, run_id: str, name: str, *, max_points: int | None = None) -> Curve:
    if max_points:
        count, first, last = conn.execute(
            "SELECT count(*), min(step), max(step) FROM metrics WHERE run_id = ? AND name = ?", (run_id, name)
        ).fetchone()
        if count > max_points:
            width = max(1, -(-(last - first + 1) // (max_points // 2)))
            block = np.array(conn.execute(OVERVIEW_SQL, (run_id, name, first, width)).fetchall(), dtype=np.float64)
            block = block.reshape(-1, 4)
            # each bucket becomes two points at its first step: its low and its high
            steps, walls = np.repeat(block[:, 0], 2), np.repeat(block[:, 1], 2)
            values = block[:, 2:4].reshape(-1)
            return Curve(steps, walls, values, points=count)
    # Each column joined into one text by SQLite and parsed by numpy, both in C: three objects
    # per curve instead of 10,000 row tuples, so this thread seldom holds the GIL the UI needs.
    count, *columns = conn.execute(JOINED_SQL, (run_id, name)).fetchone()
    if count:
        steps, walls, values = (np.fromstring(text, sep=",") for text in columns)
        if all(len(a) == count for a in (steps, walls, values)) and (np.diff(steps) >= 0).all():
            return Curve(steps, walls, values)
    # (SQLite does not promise group_concat's order; when it is not the subquery's, read rows)
    block = np.array(conn.execute(CURVE_SQL, (run_id, name)).fetchall(), dtype=np.float64).reshape(-1, 3)
    return Curve(block[:, 0], block[:, 1], block[:, 2])


def _curves(store: Store, ids: list[str], max_points: int | None,
            names: dict[str, list[str]] | None = None) -> dict[str, dict[str, Curve]]:
    names = names or {run_id: store.metric_names(run_id) for run_id in ids}
    return {run_id: {name: read_curve(store.conn, run_id, name, max_points=max_points) for name in names[run_id]}
            for run_id in ids}


def load_curves(db_path: Path, ids: list[str], *, max_points: int | None = None) -> dict[str, dict[str, Curve]]:
    """run id -> metric -> curve; an overview of at most ``max_points`` points where asked."""
    with Store(db_path, readonly=True) as store:
        return _curves(store, ids, max_points)


def charted(names: set[str], picks: set[str] | None) -> set[str]:
    """The metrics a first paint needs: the picks (``None``: the defaults for these names)
    and the final values drawn on their plots."""
    wanted = set(default_picks(names)) if picks is None else set(picks)
    return wanted | {n for n in names if final_partner(n) in wanted}


def load_runs_data(
    db_path: Path, ids: list[str], *, max_points: int | None = None, picks: set[str] | None | bool = False
) -> tuple[list[dict], dict[str, dict[str, Curve]], dict[str, list[float]], list[str]]:
    """Runs, curves, per-episode accuracies and every metric name. ``picks``: read only the
    curves charted with these picks (``None``: the default picks); ``False``: every curve."""
    with Store(db_path, readonly=True) as store:  # one connection for runs, episodes and curves
        runs = [store.get_run(i) for i in ids]
        # each run's own headline per episode (accuracy, entity F1, perplexity), as the statistics pair them
        episodes = {run["id"]: [e.get(headline(run)[0]) for e in store.episodes(run["id"], "test")] for run in runs}
        names = {run["id"]: store.metric_names(run["id"]) for run in runs}
        every = sorted({n for per in names.values() for n in per})
        if picks is not False:
            wanted = charted(set(every), picks)
            names = {run_id: [n for n in per if n in wanted] for run_id, per in names.items()}
        return runs, _curves(store, [r["id"] for r in runs], max_points, names), episodes, every


def load_stats(db_path: Path, ref_id: str, ids: list[str]) -> dict[str, Any]:
    with Store(db_path, readonly=True) as store:
        return compare_runs(store, ref_id, [i for i in ids if i != ref_id])


def pending_stats(ref_id: str) -> dict[str, Any]:
    """Statistics still to come: the reference alone, no rows."""
    return {"reference": ref_id, "runs": [], "comparisons": [], "pending": True}


def load_comparison(db_path: Path, ids: list[str], ref_id: str | None = None, *, max_points: int | None = None,
                    picks: set[str] | None | bool = False, stats: bool = True) -> Comparison:
    """``picks`` as in ``load_runs_data``: a first paint reads only what it charts (a MAML run
    logs 20 metrics; five are charted by default), the rest comes with ``load_curves``.
    ``stats=False``: ``pending_stats`` in their place, for ``load_stats`` to fill in later
    (scipy's tests must not hold up the curves: its import alone takes seconds)."""
    runs, curves, episodes, names = load_runs_data(db_path, ids, max_points=max_points, picks=picks)
    ids = [r["id"] for r in runs]
    ref_id = ref_id if ref_id in ids else ids[0]
    stats = load_stats(db_path, ref_id, ids) if stats else pending_stats(ref_id)
    return Comparison(runs, curves, episodes, stats, config_diff([r["config"] for r in runs]), names=names,
                      partial=picks is not False)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def config_value(value: Any) -> str:
    """A config value as a person reads it: 1e-4 stays 0.0001, None is a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_p(p: Any) -> str:
    if p is None or not isinstance(p, (int, float)) or not math.isfinite(p):
        return "–"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def results_table(comp: Comparison) -> tuple[list[str], list[list[str]]]:
    """One row per run: every final metric as mean ± 95% CI."""
    summaries = comp.stats["runs"]
    metrics: list[str] = []
    for s in summaries:
        metrics += [m for m in s["metrics"] if m not in metrics]
    header = ["Run", "Method", *metrics]
    rows = []
    for s in summaries:
        row = [s["name"] + (" (reference)" if s["id"] == comp.reference else ""), s["method"] or ""]
        for m in metrics:
            v = s["metrics"].get(m)
            if not v:
                row.append("")
            elif v.get("ci95") is not None and isinstance(v["ci95"], (int, float)) and math.isfinite(v["ci95"]):
                row.append(f"{v['mean']:.4g} ± {v['ci95']:.2g}")
            else:
                row.append(f"{v['mean']:.4g}")
        rows.append(row)
    return header, rows


def baseline_ncm(comp: Comparison, run_id: str) -> float | None:
    """The frozen encoder's nearest-class-mean accuracy on the run's test episodes, if it recorded one."""
    summary = next((s for s in comp.stats["runs"] if s["id"] == run_id), None)
    value = (summary or {}).get("metrics", {}).get("baseline_ncm_accuracy")
    mean = value.get("mean") if isinstance(value, dict) else None
    return float(mean) if isinstance(mean, (int, float)) and math.isfinite(mean) else None


PAIRED_HEADER = ["Run", "vs reference", "Episodes", "Mean difference", "95% CI", "p-value", "Test"]


def paired_metric(comp: Comparison) -> str:
    """'test accuracy', 'test F1', 'test perplexity': what the statistics pair, the reference's headline."""
    return str(comp.stats.get("metric") or "test_accuracy").replace("_", " ").replace(" f1", " F1")


def paired_table(comp: Comparison) -> list[list[str]]:
    """Each run against the reference on per-episode test accuracy (engine.compare)."""
    rows = []
    for c in comp.stats["comparisons"]:
        if c["paired"]:
            test = "paired t-test"
        elif c.get("reason") == "no per-episode results":
            test = "no per-episode results"
        else:
            test = "Welch's t-test (not paired)"
        n = str(c["n"]) if c["paired"] else f"{c.get('n_ref', 0)} / {c['n']}"
        diff = c["mean_diff"]
        ci = c["ci95"]
        rows.append([
            c["name"], comp.run(comp.reference)["name"], n,
            "–" if not math.isfinite(diff) else f"{diff:+.4f}",
            "–" if not math.isfinite(ci) else f"[{diff - ci:+.4f}, {diff + ci:+.4f}]",
            fmt_p(c["p_value"]), test,
        ])
    return rows


def unpaired_note(comp: Comparison) -> str:
    ref = comp.run(comp.reference)["name"]
    notes = []
    for c in comp.stats["comparisons"]:
        if not c["paired"]:
            reason = c.get("reason") or "different episodes"
            if reason == "no per-episode results":  # an imported run, or one that never reached its meta-test
                notes.append(f"{c['name']} vs {ref}: no paired statistics without per-episode results; curves are overlaid.")
                continue
            notes.append(f"{c['name']} vs {ref}: not paired ({reason}) — unpaired statistics (Welch's t-test) shown instead.")
    return "\n".join(notes)


def comparison_csv(comp: Comparison) -> str:
    """One row per run: final metrics with CIs, then the difference to the reference."""
    metrics: list[str] = []
    for s in comp.stats["runs"]:
        metrics += [m for m in s["metrics"] if m not in metrics]
    rows: list[list[Any]] = [["run_id", "name", "method", *[f"{m}{suffix}" for m in metrics for suffix in ("", "_ci95")],
                              "reference_id", "paired", "n_episodes", "diff_test_accuracy", "diff_ci95", "p_value"]]
    by_id = {c["id"]: c for c in comp.stats["comparisons"]}
    for s in comp.stats["runs"]:
        row = [s["id"], s["name"], s["method"]]
        for m in metrics:
            v = s["metrics"].get(m) or {}
            row += [v.get("mean", ""), "" if v.get("ci95") is None else v["ci95"]]
        c = by_id.get(s["id"])
        row += [comp.reference] + ([c["paired"], c["n"], c["mean_diff"], c["ci95"], c["p_value"]] if c else ["", "", "", "", ""])
        rows.append(row)
    return csv_text(rows)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


RUNS_HEADER = ["Id", "Name", "Status", "Method", "Model", "Dataset", "Created"]


def _report_tables(comp: Comparison) -> tuple[list[str], list[list[str]], list[list[str]], list[list[str]]]:
    """What both reports show: results header and rows, config-diff rows, run rows."""
    results_header, results_rows = results_table(comp)
    diff_rows = [[key, *[config_value(v) for v in values]] for key, values in comp.diff]
    runs_rows = [[r["id"], r["name"], r["status"], r["method"] or "", r["model"] or "", r["dataset"] or "",
                  (r.get("created_at") or "")[:19].replace("T", " ")] for r in comp.runs]
    return results_header, results_rows, diff_rows, runs_rows


def _metrics_caption(metrics: list[str] | None) -> str:
    return f"Metrics charted: {', '.join(metrics)}." if metrics else ""


def report_html(comp: Comparison, png: bytes | None = None, *, title: str = "MetaLab comparison",
                metrics: list[str] | None = None) -> str:
    """One HTML file, nothing external: tables, the paired statistics and the plots inlined."""
    results_header, results_rows, diff_rows, runs_rows = _report_tables(comp)
    names = [r["name"] for r in comp.runs]
    image = (f'<img alt="curves" src="data:image/png;base64,{base64.b64encode(png).decode()}">' if png else "")
    note = unpaired_note(comp)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;margin:1em 0}",
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left} th{background:#eee} img{max-width:100%}",
        ".note{color:#8a5a00}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(comp.runs)} runs, reference: <b>{html_text(comp.run(comp.reference)['name'])}</b> "
        f"({comp.reference}). Generated {datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
        "<h2>Runs</h2>", _html_table(RUNS_HEADER, runs_rows),
        "<h2>Results (mean ± 95% CI over meta-test episodes)</h2>", _html_table(results_header, results_rows),
        f"<h2>Against the reference: per-episode {html_text(paired_metric(comp))}</h2>", _html_table(PAIRED_HEADER, paired_table(comp)),
        f"<p class='note'>{'<br>'.join(html_text(line) for line in note.splitlines())}</p>" if note else "",
        "<h2>Config differences</h2>",
        _html_table(["Key", *names], diff_rows) if diff_rows else "<p>The configs are identical.</p>",
        "<h2>Curves</h2>", f"<p>{html_text(_metrics_caption(metrics))}</p>" if metrics else "", image, "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    # every cell is the user's text or made from it: Markdown and HTML in it stay characters
    lines = ["| " + " | ".join(markdown_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(comp: Comparison, image_name: str | None = None, *, title: str = "MetaLab comparison",
                    metrics: list[str] | None = None) -> str:
    """The HTML report's content as Markdown; the plots are a PNG file beside it (``image_name``)."""
    results_header, results_rows, diff_rows, runs_rows = _report_tables(comp)
    note = unpaired_note(comp)
    parts = [
        f"# {markdown_text(title)}",
        f"{len(comp.runs)} runs, reference: **{markdown_text(comp.run(comp.reference)['name'])}** ({comp.reference}). "
        f"Generated {datetime.now().strftime('%Y-%m-%d %H:%M')}.",
        "## Runs", _md_table(RUNS_HEADER, runs_rows),
        "## Results (mean ± 95% CI over meta-test episodes)", _md_table(results_header, results_rows),
        f"## Against the reference: per-episode {markdown_text(paired_metric(comp))}", _md_table(PAIRED_HEADER, paired_table(comp)),
        *([f"> {markdown_text(line, starts_line=True)}" for line in note.splitlines()] if note else []),
        "## Config differences",
        _md_table(["Key", *[r["name"] for r in comp.runs]], diff_rows) if diff_rows else "The configs are identical.",
        *(["## Curves", *([markdown_text(_metrics_caption(metrics))] if metrics else []),
           f"![curves]({quote(image_name)})"] if image_name else []),
    ]
    return "\n\n".join(parts) + "\n"
