"""A 2-D map of an episode's examples: colour is the class, a square a support example, a
dot a query, a black cross a query the model got wrong. Hover a point for its text."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor

from gui.widgets.comparison_plots import style_plot

SUPPORT_SYMBOL, QUERY_SYMBOL, WRONG_SYMBOL = "s", "o", "x"
WRONG_COLOR = QColor(20, 20, 20)  # black: no class hue is near it


def class_colors(classes: Sequence[str]) -> dict[str, QColor]:
    """One hue per class, evenly spaced, in the episode's label order."""
    return {name: pg.intColor(i, hues=max(len(classes), 1), values=1, maxValue=230, minValue=150) for i, name in enumerate(classes)}


def legend_html(classes: Sequence[str]) -> str:
    """The key under the maps (outside the data, so it never hides a point)."""
    colors = class_colors(classes)
    swatches = "&nbsp;&nbsp; ".join(f'<span style="color:{colors[c].name()}">&#9632;</span>&nbsp;{escape(c)}' for c in classes)
    return (f"{swatches}&nbsp;&nbsp;&nbsp;|&nbsp;&nbsp; &#9632; support &nbsp; &#9679; query &nbsp; "
            f'<span style="color:{WRONG_COLOR.name()}">&#10005;</span> wrong prediction')


class EmbeddingMap(pg.PlotWidget):
    def __init__(self, parent: Any = None):
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        style_plot(self.plot_item)
        self.plot_item.hideAxis("left")
        self.plot_item.hideAxis("bottom")
        self.setMinimumSize(220, 200)
        self.points: pg.ScatterPlotItem | None = None
        self.crosses: pg.ScatterPlotItem | None = None
        self.title = ""

    def show_view(self, title: str, examples: list[dict[str, Any]], view: dict[str, Any], classes: Sequence[str]) -> None:
        self.plot_item.clear()
        colors = class_colors(classes)
        spots, wrong_spots = [], []
        for example, (x, y), answer, wrong in zip(examples, view["xy"], view["predicted"], view["wrong"], strict=True):
            color = colors[example["label"]]
            support = example["role"] == "support"
            tip = f"{example['role']} · {example['label']}"
            if answer is not None:
                tip += f" → predicted {answer}" + (" (wrong)" if wrong else "")
            spots.append({
                "pos": (x, y), "symbol": SUPPORT_SYMBOL if support else QUERY_SYMBOL, "size": 12 if support else 9,
                "brush": pg.mkBrush(color), "pen": pg.mkPen(color.darker(160), width=1), "data": f"{tip}\n{example['text']}",
            })
            if wrong:
                wrong_spots.append({"pos": (x, y), "data": f"{tip}\n{example['text']}"})
        self.points = pg.ScatterPlotItem(spots=spots, hoverable=True, tip=lambda x, y, data: data)
        self.crosses = pg.ScatterPlotItem(
            spots=wrong_spots, symbol=WRONG_SYMBOL, size=13, brush=pg.mkBrush(WRONG_COLOR), pen=pg.mkPen("w", width=0.8),
            hoverable=True, tip=lambda x, y, data: data,
        )
        self.plot_item.addItem(self.points)
        self.plot_item.addItem(self.crosses)
        self.title = title  # the page shows it above the plot (a plot title is cut at small heights)
        self.plot_item.autoRange()

    def wrong_count(self) -> int:
        return 0 if self.crosses is None else len(self.crosses.data)
