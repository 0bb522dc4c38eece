"""replace_together: files that must agree are put in place all or none, even when a
rename fails part way."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pipeline import outputs
from pipeline.errors import OutputError


@pytest.fixture
def folder(tmp_path):
    """a.bin and b.bin hold 'old', gone.bin is to be removed; new.bin does not exist yet."""
    for name in ("a.bin", "b.bin", "gone.bin"):
        (tmp_path / name).write_bytes(b"old")
    return tmp_path


def replace(folder: Path) -> None:
    outputs.replace_together({folder / "a.bin": b"new a", folder / "new.bin": b"new",
                              folder / "b.bin": b"new b"}, remove=[folder / "gone.bin"])


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


BEFORE = {"a.bin": b"old", "b.bin": b"old", "gone.bin": b"old"}
AFTER = {"a.bin": b"new a", "b.bin": b"new b", "new.bin": b"new"}


def fail_on(monkeypatch, name: str, call: str = "replace", code: int = errno.ENOSPC) -> None:
    """The first rename onto (or, for 'rename', of) ``name`` fails; the others go through."""
    real = getattr(os, call)
    failed = []

    def failing(src, dst, *args, **kwargs):
        if Path(dst if call == "replace" else src).name == name and not failed:
            failed.append(dst)
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, call, failing)


def test_files_are_replaced_and_removed_with_nothing_left_beside_them(folder):
    replace(folder)
    assert contents(folder) == AFTER


@pytest.mark.parametrize("name", ["new.bin", "b.bin"])
def test_a_rename_that_fails_part_way_puts_back_the_files_already_replaced(folder, monkeypatch, name):
    fail_on(monkeypatch, name)
    with pytest.raises(OutputError) as caught:
        replace(folder)
    assert caught.value.fix == "free some disk space and run again; nothing was replaced"
    assert contents(folder) == BEFORE


def test_a_removal_that_fails_puts_back_every_file_replaced(folder, monkeypatch):
    fail_on(monkeypatch, "gone.bin", call="rename", code=errno.EACCES)
    with pytest.raises(OutputError, match="permission denied"):
        replace(folder)
    assert contents(folder) == BEFORE


def test_without_hard_links_the_earlier_files_are_moved_aside_and_still_put_back(folder, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    replace(folder)
    assert contents(folder) == AFTER
    for name in ("a.bin", "b.bin", "gone.bin"):
        (folder / name).write_bytes(b"old")
    (folder / "new.bin").unlink()
    fail_on(monkeypatch, "b.bin")
    with pytest.raises(OutputError, match="disk full"):
        replace(folder)
    assert contents(folder) == BEFORE


def test_a_file_that_cannot_be_put_back_is_named_with_its_earlier_version(folder, monkeypatch):
    real = os.replace

    def failing(src, dst):
        if Path(dst).name == "b.bin" or Path(src).name.startswith(".a.bin.") and Path(src).suffix == ".old":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OutputError) as caught:
        replace(folder)
    assert caught.value.path == str(folder / "a.bin")
    assert "only in part" in str(caught.value)
    kept = [p for p in folder.iterdir() if p.name.startswith(".a.bin.")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"old"
    assert caught.value.fix == f"its earlier version is {kept[0].name} beside it: rename it back, or run again"
    # everything else is as it was
    assert {k: v for k, v in contents(folder).items() if k != kept[0].name} == {**BEFORE, "a.bin": b"new a"}


@pytest.mark.parametrize("fails", [False, True])
def test_a_link_is_replaced_or_put_back_as_a_link_and_what_it_points_to_is_untouched(folder, monkeypatch, fails):
    elsewhere = folder.parent / f"{folder.name}-elsewhere.bin"
    elsewhere.write_bytes(b"old")
    (folder / "a.bin").unlink()
    (folder / "a.bin").symlink_to(elsewhere)
    if fails:
        fail_on(monkeypatch, "b.bin")
        with pytest.raises(OutputError):
            replace(folder)
        assert os.readlink(folder / "a.bin") == str(elsewhere) and contents(folder) == BEFORE
    else:
        replace(folder)
        assert not (folder / "a.bin").is_symlink() and contents(folder) == AFTER
    assert elsewhere.read_bytes() == b"old"
