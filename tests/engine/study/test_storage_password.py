"""A study storage's password is never shown (issue 27, case 7): every URL is redacted with
SQLAlchemy's parsing, and the engine takes the URL from the environment so that no child
process carries it in its argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.storage_secret import STORAGE_ENV, has_password, redact

SECRET = "secretpw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:secretpw@db.example/optuna", "postgresql://user:***@db.example/optuna"),
        ("postgresql://user:se/cretpw@db.example:5432/optuna", "postgresql://user:***@db.example:5432/optuna"),
        ("postgresql://:secretpw@db.example/optuna", "postgresql://:***@db.example/optuna"),
        ("postgresql://user@db.example/optuna?password=secretpw&sslmode=require",
         "postgresql://user@db.example/optuna?sslmode=require"),
        ("postgresql://user:secr@tpw@db.example/optuna", "postgresql://user:***@db.example/optuna"),  # an unescaped @
        ("mysql+pymysql://user:secretpw@db.example/optuna?charset=utf8", "mysql+pymysql://user:***@db.example/optuna?charset=utf8"),
        ("postgresql://user@db.example/optuna", "postgresql://user@db.example/optuna"),
        ("sqlite:////tmp/a folder/optuna.sqlite3", "sqlite:////tmp/a folder/optuna.sqlite3"),
        ("journal:/tmp/studies.journal", "journal:/tmp/studies.journal"),
    ],
)
def test_redact_hides_every_form_of_password(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert has_password(url) == (url != shown)


def test_redact_finds_urls_and_passwords_inside_a_message() -> None:
    message = "connection to postgresql://u:secretpw@h/d: failed (host=h password=secretpw user=u)"
    assert SECRET not in redact(message)
    assert redact(message).startswith("connection to postgresql://u:***@h/d: failed")


@pytest.mark.parametrize("how", ["argv", "env"])
def test_a_storage_that_cannot_be_opened_is_named_without_its_password(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://metalab:se/cretpw@127.0.0.1:1/optuna"  # nothing listens on port 1
    args = ["study", "list", "--db", str(tmp_path / "runs.db")]
    if how == "argv":
        args += ["--storage", url]
    else:
        monkeypatch.setenv(STORAGE_ENV, url)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "se/cretpw" not in err and "cretpw" not in err
    assert "postgresql://metalab:***@127.0.0.1:1/optuna" in err and err.count("\n") == 1


def test_a_worker_reads_its_storage_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "runs.db")
    assert main(["study", "worker", "--study", "x", "--db", db]) == 2
    assert f"--storage URL or the {STORAGE_ENV} environment variable" in capsys.readouterr().err
    monkeypatch.setenv(STORAGE_ENV, f"journal:{tmp_path / 'none.log'}")
    assert main(["study", "worker", "--study", "x", "--db", db]) == 2
    assert "none.log' does not exist" in capsys.readouterr().err  # the environment's storage was used


def test_pbt_workers_get_the_storage_in_their_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from engine.study import _pbt

    started: list[tuple[list[str], dict[str, str]]] = []

    class Recorded:
        returncode = 0

        def __init__(self, command: list[str], **kwargs: object) -> None:
            started.append((command, kwargs["env"]))  # type: ignore[arg-type]

        def poll(self) -> int:
            return 0

        def wait(self, timeout: float | None = None) -> int:
            return 0

    class Spec:
        name = "pbt"

    url = "postgresql://user:secretpw@db.example/optuna"
    monkeypatch.setattr(_pbt.subprocess, "Popen", Recorded)
    monkeypatch.setattr(_pbt, "options_of", lambda spec: type("O", (), {"workers": 3, "population": 3})())
    monkeypatch.setattr(_pbt, "seed_population", lambda spec, study: None)
    monkeypatch.setattr(_pbt, "run_population", lambda *a, **k: "outcome")
    stop = type("Stop", (), {"requested": False})()
    assert _pbt.run_population_here(Spec(), None, url, db_path=tmp_path / "runs.db", stop=stop) == "outcome"
    assert len(started) == 2
    for command, env in started:
        assert not any(SECRET in part for part in command) and "--storage" not in command
        assert env[STORAGE_ENV] == url
