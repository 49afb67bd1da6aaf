"""The house's layering rules, checked: a headless engine and a light GUI."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "peft", "optuna")


@pytest.mark.parametrize(
    "module", ["engine.config", "engine.specs", "engine.events", "engine.store", "engine.data", "engine.stats", "engine.paths"]
)
def test_modules_the_gui_may_import_stay_torch_free(module):
    code = f"import sys, {module}; from engine import specs; specs.all_specs(); print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_engine_never_imports_qt():
    pattern = re.compile(r"^\s*(import|from)\s+(PySide6|PyQt\d|pyqtgraph|qtpy|shiboken6)\b", re.M)
    offenders = [p for p in (REPO / "engine").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in list((REPO / "engine").rglob("*.py")) + list((REPO / "gui").rglob("*.py")):
        for line in path.read_text().splitlines():
            if "torch.load(" in line and "weights_only=True" not in line:
                offenders.append(f"{path}: {line.strip()}")
    assert offenders == []


def test_no_remote_code_or_eval_by_default():
    for path in (REPO / "engine").rglob("*.py"):
        text = path.read_text()
        assert "trust_remote_code=True" not in text, path
        assert not re.search(r"(?<![\w.])(eval|exec)\(", text), path


def test_subprocesses_take_argument_lists_never_a_shell():
    for path in list((REPO / "engine").rglob("*.py")) + list((REPO / "gui").rglob("*.py")):
        text = path.read_text()
        assert "shell=True" not in text, path
        assert "os.system(" not in text and "os.popen(" not in text, path


def test_every_gui_module_imports_on_its_own():
    """No import cycle hidden by the order the app happens to import things in."""
    from concurrent.futures import ThreadPoolExecutor

    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "gui").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")  # __main__ opens the app
    )

    def load(module: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True,
                              env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=120)
        return module, done.stderr.strip().splitlines()[-1] if done.returncode else ""

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = {m: err for m, err in pool.map(load, modules) if err}
    assert failures == {}
