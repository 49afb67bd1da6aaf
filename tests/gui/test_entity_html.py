from gui.entity_html import PALETTE, legend_html, sentence_html, type_colors


def test_entities_are_boxed_with_their_type_and_text_reads_naturally():
    tokens = ["Ada", "Lovelace", "visited", "Port", "Alder", ",", "then", "left", "."]
    tags = ["B-PERSON", "I-PERSON", "O", "B-CITY", "I-CITY", "O", "O", "O", "O"]
    colors = type_colors(["PERSON", "CITY"])
    text = sentence_html(tokens, tags, colors)
    assert text.count("<span") == 2
    assert f"background-color:{colors['PERSON']}; color:#111'>&nbsp;Ada Lovelace&nbsp;<small><b>PERSON</b></small>" in text
    assert "&nbsp;Port Alder&nbsp;<small><b>CITY</b></small>&nbsp;</span>, then left." in text
    assert text.startswith("<span") and text.endswith("left.")


def test_text_is_escaped_and_untagged_sentences_stay_plain():
    assert sentence_html(["a", "<b>", "&"], ["O", "O", "O"], {}) == "a &lt;b&gt; &amp;"
    assert "&lt;i&gt;" in sentence_html(["<i>"], ["B-X"], {"X": "#fff"})


def test_colors_are_stable_and_legend_lists_counts():
    colors = type_colors(["b", "a", "b"])
    assert colors == {"a": PALETTE[0], "b": PALETTE[1]}
    assert type_colors(["a", "b", "c"])["b"] == colors["b"]
    legend = legend_html({"b": 7, "a": 3}, colors)
    assert legend.index("b 7") < legend.index("a 3")


def test_preview_has_a_legend_then_a_paragraph_per_sentence():
    from gui.entity_html import preview_html

    text = preview_html([["Rome", "rocks"], ["hi"]], [["B-CITY", "O"], ["O"]], {"CITY": 1})
    paragraphs = text.split("\n")
    assert len(paragraphs) == 3
    assert "CITY 1" in paragraphs[0] and "Rome" in paragraphs[1] and paragraphs[2] == "<p>hi</p>"


def test_monitor_summary_shows_the_tasks_headline():
    from gui.formatting import headline_text

    ner = {"headline_metric": "test_f1", "test_f1": 0.28, "test_f1_ci95": 0.0165, "test_accuracy": 0.8}
    assert headline_text(ner, with_ci=True) == "test F1 0.280 ± 0.017"
    assert headline_text({"test_accuracy": 0.71, "test_accuracy_ci95": 0.02}, with_ci=True) == "test accuracy 0.710 ± 0.020"
    assert headline_text({"test_accuracy": 0.71, "test_accuracy_ci95": 0.02}) == "test accuracy 0.710"
    assert headline_text({}) == ""
