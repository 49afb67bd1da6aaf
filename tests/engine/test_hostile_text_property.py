"""Issue 27's property test (cases 8 and 9), engine side: names, tags, dataset labels and
metric names made of control, formula, Markdown and HTML characters (a seeded generator,
``METALAB_HOSTILE_EXAMPLES`` strings, default 120) go through every CLI output and every
export, and nothing raw gets through: no escape sequence on the terminal, no spreadsheet
formula, no Markdown block or HTML tag of the user's, no broken YAML front matter; the
JSON and TOML exports keep the text exact. The GUI's labels: tests/gui/test_gui_hostile_labels.py."""

from __future__ import annotations

import csv
import io
import json
import os
import tomllib
from html.parser import HTMLParser

import pytest
import yaml

from engine.cli import main
from engine.config import RunConfig
from engine.csv_cells import FORMULA_STARTS
from engine.export._card import model_card
from engine.exports import export_run
from engine.store import Store
from engine.text_escape import visible_controls
from tests.gui.store_fill import add_run, base_config
from tests.hostile_text import RAW_CONTROLS, hostile_strings

EXAMPLES = int(os.environ.get("METALAB_HOSTILE_EXAMPLES", "120"))
STRINGS = hostile_strings(EXAMPLES)
PER_RUN = 4  # name, tag, dataset label, metric name
RUNS = [STRINGS[i : i + PER_RUN] for i in range(0, len(STRINGS) - PER_RUN + 1, PER_RUN)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "runs.db"
    ids = []
    with Store(path) as store:
        for name, tag, label, metric in RUNS:
            run_id = add_run(store, base_config(name, tags=[tag], dataset=label), accuracies=[0.6, 0.7, 0.65, 0.75])
            store.add_metrics(run_id, [(metric, 1, -0.5, 1.0, 1e9)])
            ids.append(run_id)
        store.update_run(ids[0], status="failed", error=STRINGS[4] + "\n" + STRINGS[11])
    return path, ids


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_raw_control(text: str, where: str) -> None:
    raw = sorted({repr(c) for c in text if c in RAW_CONTROLS or c in "\u2028\u2029"})
    assert not raw, f"{where}: {raw}"


def test_cli_human_output_shows_every_control_as_an_escape(db, capsys):
    path, ids = db
    code, out, err = cli(capsys, "runs", "list", "--db", str(path), "--limit", "1000")
    assert code == 0, err
    assert_no_raw_control(out, "runs list")
    assert len(out.strip().splitlines()) == 1 + len(ids)  # no name forges a row
    for run_id in ids:
        code, out, err = cli(capsys, "runs", "show", run_id, "--db", str(path))
        assert code == 0, err
        assert_no_raw_control(out, f"runs show {run_id}")
    for start in range(0, len(ids), 8):
        code, out, err = cli(capsys, "runs", "compare", *ids[start : start + 8], "--db", str(path))
        assert code == 0, err
        assert_no_raw_control(out, "runs compare")
    for text in STRINGS[:30]:  # an id no run has, made of the user's text: the error line
        code, out, err = cli(capsys, "runs", "show", text.replace("\x00", "") or "x", "--db", str(path))
        assert code == 2 and err.count("\n") == 1, err
        assert_no_raw_control(err, "error line")


def test_json_and_toml_keep_the_text_exact(db, capsys):
    path, ids = db
    code, out, _ = cli(capsys, "runs", "list", "--db", str(path), "--json", "--limit", "1000")
    assert code == 0
    assert sorted(r["name"] for r in json.loads(out)) == sorted(r[0] for r in RUNS)
    with Store(path, readonly=True) as store:
        for run_id, (name, tag, label, metric) in zip(ids, RUNS):
            data = json.loads(export_run(store, run_id, "json"))
            assert data["run"]["name"] == name and metric in {m["name"] for m in data["metrics"]}
            config = tomllib.loads(export_run(store, run_id, "toml"))
            assert (config["name"], config["tags"], config["dataset"]["path"]) == (name, [tag], label)


def test_csv_never_starts_a_formula_and_numbers_stay_numbers(db):
    path, ids = db
    with Store(path, readonly=True) as store:
        for run_id in ids:
            for row in csv.reader(io.StringIO(export_run(store, run_id, "csv"), newline="")):
                for cell in row:
                    if cell.startswith(FORMULA_STARTS):
                        float(cell)  # only a number may start with '-' or '+' (-0.5 stays -0.5)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "table", "thead", "tbody", "tr",
               "th", "td", "img", "br"}


def comparisons(path, ids):
    from gui.compare_data import load_comparison

    for start in range(0, len(ids), 6):
        yield load_comparison(path, ids[start : start + 6])


def test_the_html_report_holds_only_its_own_tags(db):
    from gui.compare_data import report_html

    path, ids = db
    for comp in comparisons(path, ids):
        page = report_html(comp, b"\x89PNG", metrics=[r[3] for r in RUNS[:3]])
        parser = Tags()
        parser.feed(page)
        assert {tag for tag, _ in parser.tags} <= REPORT_TAGS
        assert all(set(attrs) <= {"charset", "alt", "src", "class"} for _, attrs in parser.tags)
        assert [attrs.get("src", "")[:22] for tag, attrs in parser.tags if tag == "img"] == ["data:image/png;base64,"]
        assert_no_raw_control(page.replace("\n", ""), "HTML report")


def markdown_tokens(text: str):
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("table").parse(text)


def test_the_markdown_report_has_only_its_own_blocks(db):
    from gui.compare_data import report_markdown

    path, ids = db
    for comp in comparisons(path, ids):
        text = report_markdown(comp, "report.png", metrics=[r[3] for r in RUNS[:3]])
        tokens = markdown_tokens(text)
        kinds = {t.type for t in tokens}
        assert not kinds & {"html_block", "bullet_list_open", "ordered_list_open", "code_block", "fence", "hr"}, kinds
        headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert headings[0] == "MetaLab comparison" and all(h.startswith(("Runs", "Results", "Against", "Config", "Curves"))
                                                             for h in headings[1:]), headings
        inline = [child for t in tokens if t.type == "inline" for child in t.children or []]
        assert not [c for c in inline if c.type == "html_inline"]
        assert [c.attrs.get("src") for c in inline if c.type == "image"] == ["report.png"]
        assert not [c for c in inline if c.type == "link_open"]
        assert_no_raw_control(text, "Markdown report")
        # each table keeps its own number of columns: no '|' of a name splits a cell
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        assert all(line.count(" | ") == line.replace("\\|", "").count(" | ") for line in rows)


@pytest.mark.parametrize("mode", ["episodic", "supervised"])
def test_the_model_card_keeps_its_front_matter_and_heading(mode):
    for name, tag, label, metric in RUNS:
        values = base_config(name, tags=[tag], dataset=label)
        if mode == "supervised":
            values = {**values, "task": {"mode": mode}, "method": {"name": "finetune", "params": {}}}
        config = RunConfig.from_dict(values)
        run = {"id": "abc123", "name": name, "final_metrics": {"test_accuracy": 0.5, metric: 1.0}}
        card = model_card(run, config, supervised_labels=["a", "b"] if mode == "supervised" else None,
                          adapter_only=False, folder=f"/tmp/{label}")
        _, front, body = card.split("---\n", 2)
        assert set(yaml.safe_load(front)) == {"library_name", "pipeline_tag", "tags"}
        tokens = markdown_tokens(body)
        headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert [tag for tag, _ in headings] == ["h1", "h2"] and headings[1][1] == "Use", headings  # none of the name's
        shown = "".join(c.content for c in tokens[[t.type for t in tokens].index("heading_open") + 1].children)
        assert shown == visible_controls(name).strip(" ")  # the heading reads as the name's characters
        assert not {t.type for t in tokens} & {"html_block", "bullet_list_open", "ordered_list_open"}
        assert not [c for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "html_inline"]
        assert_no_raw_control(card.replace("\n", ""), "model card")
        code = [t.content for t in tokens if t.type == "fence"][0]
        compile(code, "card example", "exec")  # the folder's path is a string literal, whatever it holds
