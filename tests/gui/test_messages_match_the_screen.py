"""Messages that said what the screen did not (issue 27, case 18, in part)."""

from importlib import metadata

from engine.specs import get as get_spec
from gui.widgets.help_dialogs import versions


def test_reptiles_learning_rate_help_names_its_plain_sgd_not_adamw():
    params = {p.name: p for p in get_spec("reptile").params}
    assert "AdamW" not in params["lr"].help and "SGD" in params["lr"].help
    assert "AdamW" not in params["weight_decay"].help
    assert "AdamW" in {p.name: p for p in get_spec("protonet").params}["lr"].help  # the others' optimizer is AdamW


def test_about_names_the_pyside6_that_runs_it():
    found = versions()["PySide6"]
    assert found != "not installed"
    installed = [d for d in ("PySide6", "PySide6-Essentials") if _has(d)]
    assert found == metadata.version(installed[0])


def _has(distribution):
    try:
        metadata.version(distribution)
        return True
    except metadata.PackageNotFoundError:
        return False
