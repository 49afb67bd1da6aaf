"""Method schemas carry what forms need: labels, sections and when a parameter applies."""

from __future__ import annotations

import pytest

from engine.catalog import MethodSpec, Param, all_specs, get, register


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_parameter_has_a_label_a_group_and_a_valid_condition(spec):
    names = {p.name: p for p in spec.params}
    for param in spec.params:
        assert param.label_text() and param.group, param.name
        if param.when is not None:
            other, allowed = param.when
            assert other in names and all(v in names[other].choices for v in allowed), param.name


def test_scope_decides_which_adaptation_fields_apply():
    maml = {p.name: p for p in get("maml").params}
    head = {**get("maml").defaults(), "scope": "head"}
    assert not maml["lora_rank"].applies(head) and not maml["top_k"].applies(head) and not maml["inner_lr"].applies(head)
    assert maml["lora_rank"].applies({"scope": "lora"}) and maml["top_k"].applies({"scope": "top_k_layers"})
    assert get("maml").to_json()["params"][[p.name for p in get("maml").params].index("lora_rank")]["when"] == {
        "param": "scope", "in": ["lora"]}


def test_a_condition_on_an_unknown_parameter_is_refused():
    bad = MethodSpec("brokenwhen", "Broken", "d", "x:Y", params=(Param("a", "int", 1, "h", when=("nope", (1,))),))
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        register(bad)
