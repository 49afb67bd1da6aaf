"""Population-based training views, from the ``population`` object of ``study show --json``.

- the population over time: each member's validation metric along its steps, one colour
  per member; an exploit is a dashed link from the donor's value at the boundary to the
  member's next point (the member carries on from the donor's weights there);
- the best member's hyper-parameter schedule: one parameter's value per generation along
  the lineage the best member ended up with (docs/STUDIES.md).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from gui.widgets.study_plots import short, style

MEMBER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def member_color(member: int) -> str:
    return MEMBER_COLORS[member % len(MEMBER_COLORS)]


def member_curves(population: dict[str, Any]) -> dict[int, list[list[tuple[float, float]]]]:
    """member -> its generations' (step, value) points, one list per generation."""
    curves: dict[int, list[list[tuple[float, float]]]] = {}
    for member, history in population.get("members", {}).items():
        curves[int(member)] = [
            sorted((float(step), float(value)) for step, value in unit.get("intermediate", {}).items() if value is not None)
            for unit in history
        ]
    return curves


def exploit_links(population: dict[str, Any]) -> list[tuple[int, int, tuple[float, float], tuple[float, float]]]:
    """(donor, member, donor's point at the boundary, the member's first point after it) per exploit."""
    curves = member_curves(population)
    links = []
    for event in population.get("events", []):
        member, donor, generation = int(event["member"]), int(event["from_member"]), int(event["generation"])
        donor_points = [p for gen in curves.get(donor, [])[:generation] for p in gen if p[0] <= float(event["step"])]
        mine = curves.get(member, [])
        after = mine[generation] if generation < len(mine) else []
        if donor_points and after:
            links.append((donor, member, donor_points[-1], after[0]))
    return links


def draw_population(plot: pg.PlotItem, details: dict[str, Any]) -> int:
    """Draws every member; returns the number of exploit links drawn."""
    plot.clear()
    style(plot)
    plot.setLabel("bottom", "step", color="#222")
    plot.setLabel("left", details.get("metric") or "value", color="#222")
    if plot.legend is None:  # a wide, short legend along the bottom keeps the curves visible
        plot.addLegend(offset=(10, -10), colCount=4, labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 210))
    population = details.get("population") or {}
    best = population.get("best_member")
    exploited = {(int(e["member"]), int(e["generation"])) for e in population.get("events", [])}
    for member, generations in sorted(member_curves(population).items()):
        color = member_color(member)
        width = 3 if member == best else 1.5
        # one solid line while the member continues its own run; it breaks where it exploits
        pieces: list[list[tuple[float, float]]] = [[]]
        for generation, points in enumerate(generations):
            if (member, generation) in exploited and pieces[-1]:
                pieces.append([])
            pieces[-1].extend(points)
        for i, points in enumerate(p for p in pieces if p):
            plot.plot([p[0] for p in points], [p[1] for p in points], pen=pg.mkPen(color, width=width), symbol="o",
                      symbolSize=6, symbolBrush=pg.mkBrush(color), symbolPen=None,
                      name=(f"member {member}" + (" (best)" if member == best else "")) if i == 0 else None)
    links = exploit_links(population)
    for donor, member, (x0, y0), (x1, y1) in links:
        plot.plot([x0, x1], [y0, y1], pen=pg.mkPen(member_color(donor), width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine))
    return len(links)


def schedule_series(details: dict[str, Any], param: str) -> tuple[list[int], list[float]]:
    """(generations, values) of ``param`` along the best member's lineage."""
    schedule = (details.get("population") or {}).get("best_schedule") or []
    gens, values = [], []
    for unit in schedule:
        value = unit.get("params", {}).get(param)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            gens.append(int(unit["generation"]))
            values.append(float(value))
    return gens, values


def draw_schedule(plot: pg.PlotItem, details: dict[str, Any], param: str) -> str:
    """A step line of the parameter per generation; returns a one-line note."""
    plot.clear()
    style(plot)
    plot.setLabel("bottom", "generation", color="#222")
    plot.setLabel("left", short(param) if param else "", color="#222")
    gens, values = schedule_series(details, param)
    if not gens:
        return "No schedule yet: the population has not finished a generation." if param else ""
    edges = [*gens, gens[-1] + 1]  # each generation's value holds until the next one
    plot.plot(edges, values, stepMode="center", pen=pg.mkPen("#1f77b4", width=2))
    plot.plot(gens, values, pen=None, symbol="o", symbolSize=7, symbolBrush=pg.mkBrush("#1f77b4"), symbolPen=None)
    plot.getAxis("bottom").setTicks([[(g, str(g)) for g in range(gens[-1] + 2)]])
    schedule = details["population"]["best_schedule"]
    lineage = " → ".join(f"m{u['member']}" for u in schedule)
    return f"Best member {details['population']['best_member']}: weights from {lineage} (generation 0 → last)."
