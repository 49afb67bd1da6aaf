"""Why a method or a model cannot run with a task (``gui.method_fit``), read from schemas."""

from __future__ import annotations

from engine.catalog import get
from gui.method_fit import answers_with_prompts, model_kinds, model_problem, why_not


def test_a_method_fits_by_its_tasks_modes_and_model_kinds():
    protonet, finetune = get("protonet").to_json(), get("finetune").to_json()
    assert why_not(finetune, task_type="language_modeling", mode="episodic", model_kind="decoder") == ""
    assert why_not(protonet, task_type="language_modeling", mode="episodic", model_kind="decoder").startswith(
        "protonet serves Text classification, Token classification (NER), not Language modelling")
    assert why_not(protonet, task_type="classification", mode="supervised", model_kind=None) == "protonet has no supervised mode"
    decoder_only = dict(protonet, model_kinds=["decoder"])
    assert why_not(decoder_only, task_type="classification", mode="episodic", model_kind=None) == ""  # unknown yet: allowed
    assert why_not(decoder_only, task_type="classification", mode="episodic", model_kind="encoder") == (
        "protonet needs a decoder (a causal LM); the base model is an encoder")
    assert answers_with_prompts(decoder_only) and not answers_with_prompts(protonet)
    assert model_kinds(protonet) == ["encoder", "decoder"]  # a schema that does not say serves both


def test_a_task_names_the_model_it_needs():
    assert model_problem("language_modeling", "m", "encoder") == "Language modelling (decoders) needs a decoder (a causal LM); m is an encoder"
    assert model_problem("language_modeling", "m", "decoder") == ""
    assert model_problem("classification", "gpt", "decoder") == ""  # a decoder also serves as a mean-pooled encoder
    assert model_problem("language_modeling", "m", None) == ""  # not known yet
