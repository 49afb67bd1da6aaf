"""Placing an export folder: only MetaLab's own files are ever replaced (issue 27, cases 1 and 11)."""

from __future__ import annotations

import os
import stat
import time

import pytest

from engine.errors import UserError
from engine.export._placement import LOCK_FILE, MANIFEST_FILE, building, check_target, place, remove_stale_temporaries


def export(target, files, run_id="r1"):
    """What export_model does around its writers, with ``files`` (name -> text) as the export."""
    target = check_target(target)
    with building(target) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)
        place(tmp, target, run_id=run_id)
    return target


def test_a_new_folder_gets_the_export_and_its_manifest(tmp_path):
    out = export(tmp_path / "m", {"model.safetensors": "w", "1_Pooling/config.json": "{}"})
    assert (out / "model.safetensors").read_text() == "w" and (out / MANIFEST_FILE).exists()
    assert not (out / LOCK_FILE).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left


def test_re_export_keeps_what_the_user_added(tmp_path):
    out = export(tmp_path / "m", {"model.safetensors": "old", "README.md": "card", "1_Pooling/config.json": "{}"})
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: main")
    (out / "NOTES.md").write_text("mine")
    (out / "1_Pooling" / "mine.txt").write_text("mine too")
    export(out, {"model.safetensors": "new", "README.md": "card 2"})
    assert (out / "model.safetensors").read_text() == "new" and (out / "README.md").read_text() == "card 2"
    assert (out / ".git" / "HEAD").read_text() == "ref: main" and (out / "NOTES.md").read_text() == "mine"
    assert (out / "1_Pooling" / "mine.txt").exists() and not (out / "1_Pooling" / "config.json").exists()


def test_a_folder_with_a_copied_run_file_but_no_manifest_is_refused(tmp_path):
    """The model card tells users to run metalab_run.toml: a folder holding a copy is theirs."""
    folder = tmp_path / "thesis"
    (folder / "src").mkdir(parents=True)
    (folder / "thesis.tex").write_text("chapter 1")
    (folder / "metalab_run.toml").write_text('name = "x"')
    with pytest.raises(UserError, match="not an empty folder"):
        export(folder, {"model.safetensors": "w"})
    assert (folder / "thesis.tex").read_text() == "chapter 1" and (folder / "src").is_dir()


@pytest.mark.parametrize("where", [".", "..", "/"])
def test_the_current_folder_and_those_above_it_are_refused(tmp_path, monkeypatch, where):
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("chapter 1")
    export(work / "m", {"x": "1"})  # even an earlier export in the current folder
    monkeypatch.chdir(work / "m")
    with pytest.raises(UserError, match="current folder"):
        export(where, {"x": "2"})
    assert (work / "thesis.tex").read_text() == "chapter 1" and (work / "m" / "x").read_text() == "1"


def test_a_symlink_target_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UserError, match="symbolic link"):
        export(tmp_path / "link", {"x": "1"})
    assert not any(real.iterdir())


def test_a_new_file_over_a_users_file_is_refused_and_nothing_changes(tmp_path):
    out = export(tmp_path / "m", {"a.txt": "old"})
    (out / "head.safetensors").write_text("the user's")
    with pytest.raises(UserError, match="head.safetensors"):
        export(out, {"a.txt": "new", "head.safetensors": "ours"})
    assert (out / "a.txt").read_text() == "old" and (out / "head.safetensors").read_text() == "the user's"


def test_a_manifest_naming_files_outside_the_folder_is_not_trusted(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (tmp_path / "precious").write_text("keep")
    (out / MANIFEST_FILE).write_text('{"metalab_export": 1, "files": ["../precious"]}')
    with pytest.raises(UserError):
        export(out, {"x": "1"})
    assert (tmp_path / "precious").read_text() == "keep"


def test_exported_files_follow_the_umask(tmp_path):
    target = check_target(tmp_path / "m")
    with building(target) as tmp:
        fd = os.open(tmp / "model.safetensors", os.O_CREAT | os.O_WRONLY, 0o600)  # as safetensors writes it
        os.close(fd)
        place(tmp, target, run_id="r")
    (tmp_path / "probe").touch()
    usual = stat.S_IMODE((tmp_path / "probe").stat().st_mode)
    assert stat.S_IMODE((target / "model.safetensors").stat().st_mode) == usual


def test_stale_temporary_folders_are_removed_but_not_locked_or_foreign_ones(tmp_path):
    stale = tmp_path / ".m.abc123"
    stale.mkdir()
    (stale / "model.safetensors").write_text("90 MB")
    (stale / LOCK_FILE).touch()
    old = time.time() - 120
    os.utime(stale / LOCK_FILE, (old, old))
    foreign = tmp_path / ".config.d"  # hidden, dotted, but no MetaLab lock file
    foreign.mkdir()
    fresh = tmp_path / ".m.new"
    fresh.mkdir()
    (fresh / LOCK_FILE).touch()
    with building(check_target(tmp_path / "m")) as tmp:
        assert not stale.exists() and foreign.exists() and fresh.exists()
        os.utime(tmp / LOCK_FILE, (old, old))
        assert remove_stale_temporaries(tmp_path) == [] and tmp.exists()  # locked: being built
