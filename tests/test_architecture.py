"""The house's layering rules, checked: a headless engine and a light GUI."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "peft", "optuna")


@pytest.mark.parametrize(
    "module", ["engine.config", "engine.catalog", "engine.events", "engine.store", "engine.data", "engine.stats", "engine.paths"]
)
def test_modules_the_gui_may_import_stay_torch_free(module):
    code = f"import sys, {module}; from engine import catalog; catalog.all_specs(); print([m for m in {HEAVY!r} if m in sys.modules])"
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


# Forks one child per module from a process that holds only third-party libraries, so each
# module is imported with no gui or engine module loaded before it, without paying for
# Python, Qt and pyqtgraph again per module.
IMPORT_EACH = """
import importlib, json, os, sys
import numpy, pyqtgraph, sqlite_utils, tomli_w  # noqa: F401  third-party only
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401
assert not [m for m in sys.modules if m.split(".")[0] in ("gui", "engine")]
failures = {}
for module in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
        except BaseException as exc:
            os.write(write, f"{type(exc).__name__}: {exc}".encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status:
        failures[module] = error or f"exit status {status}"
print(json.dumps(failures))
"""


def test_every_gui_module_imports_on_its_own():
    """No import cycle hidden by the order the app happens to import things in."""
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "gui").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")  # __main__ opens the app
    )
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, *modules], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}
