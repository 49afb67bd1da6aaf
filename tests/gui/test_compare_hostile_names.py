"""Run names are the user's text (issue 27, case 9): the Compare title shows them as plain
text, and the Compare CSV and `runs export --format csv` never hand a spreadsheet a formula."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from engine.csv_cells import csv_text, safe_cell
from engine.exports import export_run
from engine.store import Store
from gui.pages.compare import ComparePage
from tests.gui.store_fill import add_run, base_config

RICH = "<b style='color:red'>BEST RUN 99.9%</b><img src='/etc/passwd'>"
FORMULA = '=HYPERLINK("http://evil.example","open me")'


def test_formula_cells_are_quoted_and_numbers_stay_numbers():
    assert [safe_cell(v) for v in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "plain", -0.5, 3)] == [
        "'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "plain", -0.5, 3]
    assert list(csv.reader([csv_text([[FORMULA, -1.5]]).strip()])) == [["'" + FORMULA, "-1.5"]]


def test_the_compare_title_and_csv_show_hostile_names_as_text(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    with Store(db) as store:
        ids = [add_run(store, base_config(name), accuracies=[0.6, 0.7, 0.65, 0.75]) for name in (RICH, FORMULA)]
        store.add_metrics(ids[0], [("=cmd|' /C calc'!A0", 1, 1.0, 1.0, 1e9)])
        exported = export_run(store, ids[0], "csv")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in csv.reader(exported.splitlines()) for cell in row)
    page = ComparePage(db)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignals([page.loaded, page.stats_shown], timeout=10_000):
        page.set_runs(ids)
    assert page.title.textFormat() == Qt.TextFormat.PlainText and RICH in page.title.text()
    assert page.export("csv", tmp_path / "c.csv")
    names = [r["name"] for r in csv.DictReader((tmp_path / "c.csv").open())]
    assert names == [RICH, "'" + FORMULA]
