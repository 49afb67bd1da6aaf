"""Storage passwords never shown (issue 27, case 7, in part): SQLAlchemy's URL parsing, not a regex."""

import sys

import pytest

from engine.storage_secret import redact


@pytest.mark.parametrize("url", [
    "postgresql://user:secretpw@db.example/optuna",
    "postgresql://user:se/cretpw@db.example/optuna",  # a slash in the password
    "postgresql://:secretpw@db.example/optuna",  # no user name
    "postgresql://user@db.example/optuna?password=secretpw",
    "mysql+pymysql://user:secretpw@db.example:3306/optuna?charset=utf8mb4",
    "postgresql://user:secret@pw@db.example/optuna",  # an @ in the password
])
def test_the_password_never_survives(url):
    shown = redact(url)
    assert "secret" not in shown and "cretpw" not in shown
    assert "db.example" in shown  # what it points at stays readable


def test_a_journal_is_left_as_it_is():
    assert redact("journal:/data/studies.journal") == "journal:/data/studies.journal"


def test_the_studies_page_masks_the_field_and_redacts_its_status(qtbot, tmp_path):
    from PySide6.QtWidgets import QLineEdit

    from gui.pages.studies import StudiesPage

    page = StudiesPage(tmp_path / "runs.db", command=[sys.executable, "-m", "engine"])
    qtbot.addWidget(page)
    assert page.storage.echoMode() == QLineEdit.EchoMode.PasswordEchoOnEdit
    page.storage.setText("postgresql://user:secretpw@db.example/optuna")
    page._studies_loaded([{"name": "s", "sampler": "tpe"}], "")
    assert "db.example" in page.message.text() and "secretpw" not in page.message.text()
