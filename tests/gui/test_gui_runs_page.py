"""The Runs page over a database filled through the store API: filters, sorting, edits, exports, delete."""

from __future__ import annotations

import csv
import json
import tomllib

import pytest
from PySide6.QtCore import Qt

from engine.store import Store
from gui.models.runs_model import KEYS
from gui.pages.runs import RunsPage
from tests.gui.store_fill import fill


@pytest.fixture
def page(qtbot, tmp_path):
    db = tmp_path / "runs.db"
    ids = fill(db)
    page = RunsPage(db)
    qtbot.addWidget(page)
    page.resize(1200, 600)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    page.ids = ids
    return page


def shown_names(page: RunsPage) -> list[str]:
    col = KEYS.index("name")
    return [page.proxy.index(r, col).data() for r in range(page.proxy.rowCount())]


def test_filters_by_text_status_method_dataset_and_tag(page):
    page.search.setText("proto-")
    assert sorted(shown_names(page)) == ["proto-a", "proto-b"]
    page.search.setText("sweep")  # tags are searched too
    assert shown_names(page) == ["proto-b"]
    page.search.clear()
    page.filters["status"].setCurrentText("failed")
    assert shown_names(page) == ["broken-d"]
    page.filters["status"].setCurrentText("(all)")
    page.filters["method"].setCurrentText("finetune")
    assert shown_names(page) == ["tune-c"]
    page.filters["method"].setCurrentText("(all)")
    page.filters["dataset"].setCurrentText("bundled:intents")
    assert sorted(shown_names(page)) == ["broken-d", "proto-a", "proto-b"]
    page.filters["tag"].setCurrentText("baseline")
    assert shown_names(page) == ["proto-a"]
    assert "1 of 4 runs shown" in page.message.text()


def test_sorts_metrics_as_numbers(page):
    page.table.sortByColumn(KEYS.index("test_accuracy"), Qt.SortOrder.DescendingOrder)
    assert shown_names(page) == ["proto-b", "proto-a", "tune-c", "broken-d"]
    page.table.sortByColumn(KEYS.index("test_accuracy"), Qt.SortOrder.AscendingOrder)
    assert shown_names(page) == ["broken-d", "tune-c", "proto-a", "proto-b"]
    page.table.sortByColumn(KEYS.index("name"), Qt.SortOrder.AscendingOrder)
    assert shown_names(page) == ["broken-d", "proto-a", "proto-b", "tune-c"]


def test_column_chooser_hides_and_remembers(qtbot, page, tmp_path):
    col = KEYS.index("model")
    assert not page.table.isColumnHidden(col)
    page.column_actions["model"].setChecked(False)
    assert page.table.isColumnHidden(col)
    again = RunsPage(tmp_path / "runs.db")
    qtbot.addWidget(again)
    assert again.table.isColumnHidden(col)


def test_rename_tag_notes_write_the_store(page):
    page.select_ids([page.ids["a"]])
    page.ask_text = lambda title, label, value: "renamed" if "Rename" in title else "x, y, x"
    page.ask_notes = lambda title, label, value: "lr too high"
    page.rename_selected()
    page.tag_selected()
    page.notes_selected()
    with Store(page.db_path) as store:
        run = store.get_run(page.ids["a"])
    assert (run["name"], run["tags"], run["notes"]) == ("renamed", ["x", "y"], "lr too high")
    assert "renamed" in shown_names(page)
    assert page.filters["tag"].findText("y") >= 0


def test_delete_asks_then_removes_rows_and_artifacts(page):
    from engine.paths import artifacts_dir

    folder = artifacts_dir(page.db_path) / page.ids["c"]
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"x")
    page.select_ids([page.ids["c"], page.ids["d"]])
    page.confirm = lambda title, text: False
    page.delete_selected()
    assert page.model.rowCount() == 4
    page.confirm = lambda title, text: True
    page.delete_selected()
    assert sorted(shown_names(page)) == ["proto-a", "proto-b"]
    assert not folder.exists()
    with Store(page.db_path) as store:
        assert {r["id"] for r in store.list_runs()} == {page.ids["a"], page.ids["b"]}
        assert store.metrics(page.ids["c"]) == [] and store.episodes(page.ids["c"]) == []


def test_exports_parse_back(page, tmp_path):
    run_id = page.ids["a"]
    assert page.export_run(run_id, "csv", tmp_path / "m.csv")
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert len(rows) == 20 + 4 and rows[0]["run_id"] == run_id and {r["name"] for r in rows} == {"train_loss", "val_accuracy"}
    assert page.export_run(run_id, "json", tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["run"]["id"] == run_id and len(data["episodes"]) == 4
    assert page.export_run(run_id, "toml", tmp_path / "c.toml")
    config = tomllib.loads((tmp_path / "c.toml").read_text())
    assert config["name"] == "proto-a" and config["method"]["params"]["lr"] == 1e-4
    page.select_ids([run_id])
    page.ask_save_path = lambda *a: str(tmp_path / "picked.csv")
    page.export_selected("csv")
    assert (tmp_path / "picked.csv").exists()


def test_actions_emit_requests(qtbot, page):
    page.select_ids([page.ids["a"], page.ids["b"]])
    assert page.compare_button.isEnabled() and not page.rename_button.isEnabled()
    with qtbot.waitSignal(page.compare_requested) as compare:
        page.compare_button.click()
    assert sorted(compare.args[0]) == sorted([page.ids["a"], page.ids["b"]])
    page.select_ids([page.ids["b"]])
    with qtbot.waitSignal(page.clone_requested) as clone:
        page.clone_button.click()
    assert clone.args[0]["method"]["params"]["lr"] == 3e-4 and clone.args[0]["name"] == "proto-b-copy"
    with qtbot.waitSignal(page.open_requested) as opened:
        page.open_button.click()
    assert opened.args[0] == page.ids["b"]


def test_precomputed_cells_and_sort_keys_match_the_column_functions(page):
    from gui.models.runs_model import _cells_and_keys, cell, sort_value

    for run in page.model._runs:
        assert _cells_and_keys(run) == ([cell(run, k) for k in KEYS], [sort_value(run, k) for k in KEYS])


@pytest.fixture
def methods_page(qtbot, tmp_path):
    from tests.gui.store_fill import fill_methods

    db = tmp_path / "methods.db"
    ids = fill_methods(db)
    page = RunsPage(db)
    qtbot.addWidget(page)
    page.resize(1000, 500)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    page.ids = ids
    return page


def column_texts(page: RunsPage, key: str) -> dict[str, str]:
    col = page.model.keys.index(key)
    name_col = page.model.keys.index("name")
    return {page.proxy.index(r, name_col).data(): page.proxy.index(r, col).data() for r in range(page.proxy.rowCount())}


def test_any_config_key_or_final_metric_becomes_a_column_and_is_remembered(qtbot, methods_page, tmp_path):
    page = methods_page
    available = page.available_columns()
    assert {"config:method.params.inner_lr", "config:task.k_shot", "metric:test_loss", "metric:test_macro_f1"} <= set(available)
    page.ask_columns = lambda options, chosen: ["config:method.params.inner_lr", "metric:test_loss"]
    page.choose_columns()
    qtbot.waitUntil(lambda: column_texts(page, "config:method.params.inner_lr").get("maml-a") == "0.02", timeout=5000)
    assert column_texts(page, "config:method.params.inner_lr")["reptile-c"] == "0.005"
    assert column_texts(page, "config:method.params.inner_lr")["proto-d"] == ""
    assert column_texts(page, "metric:test_loss")["maml-a"] == "0.9"
    assert page.model.headerData(len(KEYS), Qt.Orientation.Horizontal) == "inner_lr"
    page.table.sortByColumn(len(KEYS), Qt.SortOrder.DescendingOrder)  # numbers as numbers, blanks last
    assert shown_names(page)[:2] == ["maml-a", "reptile-c"]
    again = RunsPage(tmp_path / "methods.db")
    qtbot.addWidget(again)
    assert again.extra_columns == ["config:method.params.inner_lr", "metric:test_loss"]
    assert again.model.columnCount() == len(KEYS) + 2


def test_progress_column_and_a_running_runs_clock(methods_page, monkeypatch):
    page = methods_page
    progress = column_texts(page, "progress")
    assert progress["maml-a"] == "100%" and progress["reptile-c"] == "30%"
    from engine.store import parse_iso
    from gui.models import runs_model

    started = parse_iso("2026-11-20T10:00:00.000Z")
    monkeypatch.setattr(runs_model.time, "time", lambda: started + 125)
    page.model.tick()
    assert column_texts(page, "duration")["reptile-c"] == "2 min 05 s"
    monkeypatch.setattr(runs_model.time, "time", lambda: started + 190)
    page.model.tick()  # the page's one-second timer calls this: no reload needed
    assert column_texts(page, "duration")["reptile-c"] == "3 min 10 s"
    assert column_texts(page, "duration")["maml-a"] == "5 min 00 s"


def test_context_menu_reads_curves_and_log(page):
    page.select_ids([page.ids["a"]])
    texts = [a.text() for a in page.row_menu().actions()]
    assert texts[0] == "Curves && log"  # a single "&" made "Curves _log"


def test_enter_on_a_row_opens_it(qtbot, page):
    page.select_ids([page.ids["b"]])
    page.table.setFocus()
    qtbot.waitUntil(page.table.hasFocus, timeout=3000)
    with qtbot.waitSignal(page.open_requested, timeout=3000) as opened:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert opened.args[0] == page.ids["b"]


def test_one_run_is_singular(page):
    page.search.setText("proto-a")
    assert page.message.text() == "1 of 4 runs shown"
    page.search.clear()
    page.model.set_runs(page.model.runs()[:1])
    page._update_count()
    assert page.message.text() == "1 run"


def test_the_result_column_is_each_runs_own_headline():
    """An NER run is judged by entity F1 (its token accuracy is mostly O), a language model by
    perplexity: the Result column shows and sorts each run's headline."""
    from gui.models.runs_model import cell, sort_value

    ner = {"final_metrics": {"headline_metric": "test_f1", "test_f1": 0.25, "test_f1_ci95": 0.028, "test_accuracy": 0.78}}
    clf = {"final_metrics": {"test_accuracy": 0.9, "test_accuracy_ci95": 0.01}}
    lm = {"final_metrics": {"headline_metric": "test_perplexity", "headline_direction": "minimize", "test_perplexity": 812.44}}
    assert cell(ner, "result") == "F1 0.250 ± 0.028" and sort_value(ner, "result") == 0.25
    assert cell(clf, "result") == "accuracy 0.900 ± 0.010"
    assert cell(lm, "result") == "perplexity 812.4" and sort_value(lm, "result") == 812.44
    assert cell({"final_metrics": {}}, "result") == "" and sort_value({}, "result") == -1.0
