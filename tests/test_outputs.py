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
    """The first rename onto ``name`` ('replace'), or removal of it ('unlink'), fails
    as the system would say it; the others go through."""
    real = getattr(os, call)
    failed = []

    def failing(*args, **kwargs):
        path = args[1] if call == "replace" else args[0]
        if Path(path).name == name and not failed:
            failed.append(path)
            raise OSError(code, os.strerror(code), *map(str, args))
        return real(*args, **kwargs)

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
    fail_on(monkeypatch, "gone.bin", call="unlink", code=errno.EACCES)
    with pytest.raises(OutputError, match="permission denied") as caught:
        replace(folder)
    assert caught.value.path == str(folder / "gone.bin")
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


@pytest.mark.parametrize("ctrl_c", [False, True])
def test_files_that_cannot_be_put_back_are_each_named_with_their_earlier_version(folder, monkeypatch, ctrl_c):
    """Part new, part old is the one failure a Ctrl-C pressed meanwhile does not hide:
    the interrupted run would say its outputs were left as they were."""
    import signal

    real = os.replace

    def failing(src, dst):
        if Path(dst).name == "gone.bin" or Path(src).suffix == ".old":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        if ctrl_c and Path(dst).name == "b.bin":
            os.kill(os.getpid(), signal.SIGINT)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    fail_on(monkeypatch, "gone.bin", call="unlink", code=errno.EIO)
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(OutputError) as caught:
            replace(folder)
    except KeyboardInterrupt:
        pytest.fail("the Ctrl-C hid files left part new, part old")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert type(caught.value).__name__ == "PartlyReplacedError"
    assert caught.value.path == str(folder / "a.bin")
    assert "only in part, and this one could not be put back (nor 1 other)" in str(caught.value)
    assert caught.value.fix == (f"run the command again, or rename {folder / '.a.bin.0.old'} back to a.bin; "
                                f"rename {folder / '.b.bin.0.old'} back to b.bin")
    # new.bin, which was not there before, is removed again
    assert contents(folder) == {".a.bin.0.old": b"old", ".b.bin.0.old": b"old",
                                "a.bin": b"new a", "b.bin": b"new b", "gone.bin": b"old"}


def test_a_link_that_is_left_over_when_nothing_was_replaced_is_no_failure_to_put_back(folder, monkeypatch):
    real = os.unlink

    def failing(path, *args, **kwargs):
        if Path(path).suffix == ".old":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
        return real(path, *args, **kwargs)

    fail_on(monkeypatch, "a.bin")
    monkeypatch.setattr(os, "unlink", failing)
    with pytest.raises(OutputError) as caught:
        replace(folder)
    assert caught.value.fix == "free some disk space and run again; nothing was replaced"
    assert {k: v for k, v in contents(folder).items() if k != ".a.bin.0.old"} == BEFORE


def test_a_folder_to_be_removed_is_refused_before_anything_is_replaced(folder):
    (folder / "gone.bin").unlink()
    (folder / "gone.bin").mkdir()
    (folder / "gone.bin" / "kept.txt").write_bytes(b"yours")
    with pytest.raises(OutputError, match="is a folder, not a file") as caught:
        replace(folder)
    assert caught.value.path == str(folder / "gone.bin")
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == {"a.bin": b"old", "b.bin": b"old"}
    assert (folder / "gone.bin" / "kept.txt").read_bytes() == b"yours"


def test_the_longest_name_that_can_be_written_can_be_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getpid", lambda: 4194304)   # the longest pid: the name must not hold it
    target = tmp_path / ("x" * (255 - len(".") - len(".12345678.tmp")))   # the temporary file's limit
    target.write_bytes(b"old")
    outputs.replace_together({target: b"new"})
    assert [p.name for p in tmp_path.iterdir()] == [target.name] and target.read_bytes() == b"new"


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


def test_a_failure_removes_every_folder_made_for_the_files_and_no_other(tmp_path, monkeypatch):
    """mkdir makes 'new' for 'new/../keep': it goes too. An empty folder that was there
    already stays, whatever the path passes through to reach it, links followed by '..'
    included (a link that leads nowhere until a folder made for another file)."""
    (tmp_path / "there" / "empty").mkdir(parents=True)
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    (tmp_path / "to-deep").symlink_to(tmp_path / "elsewhere" / "deep")
    (tmp_path / "to-there").symlink_to(Path("ghost") / ".." / "there")   # leads nowhere yet
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    def full_disk(*args):   # once every file is written and every folder made
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    for paths in ([tmp_path / "new" / ".." / "keep" / "f.bin"],
                  [tmp_path / "new" / ".." / "there" / "sub" / "f.bin"],
                  [tmp_path / "there" / ".." / "new" / "f.bin"],
                  [tmp_path / "to-deep" / ".." / "new" / "f.bin"],   # elsewhere/new is made
                  [tmp_path / "ghost" / "a.bin", tmp_path / "to-there" / "empty" / "b.bin",
                   tmp_path / "to-there" / "new" / "c.bin"]):   # there/new is made, through the link
        with pytest.raises(OutputError, match="disk full"):
            outputs.replace_together({path: b"x" for path in paths})
        assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before, paths


def test_an_output_in_a_folder_that_may_not_be_searched_is_left_to_the_write_to_report(tmp_path, monkeypatch):
    """pathlib raises 'permission denied' where os.path says no: the checks made before
    the work must not end the run with a traceback (the write names the fix)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    outputs.check_outputs([("--out", locked / "sub" / "f.jsonl")])
    outputs.check_output_folder(locked / "sub")


@pytest.mark.parametrize("fails", ["writing", "renaming", "ctrl_c"])
def test_a_single_file_that_fails_removes_the_folders_made_for_it_and_no_other(tmp_path, monkeypatch, fails):
    """atomic_text (tag --out, write_json, labels import) makes its folders as
    replace_together does: a failure leaves no empty folder it made, and keeps one that
    was there, empty or not."""
    (tmp_path / "there").mkdir()
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    target = tmp_path / "there" / "new" / "deeper" / "out.json"
    if fails == "renaming":
        def full_disk(*args):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(KeyboardInterrupt if fails == "ctrl_c" else OutputError):
        with outputs.atomic_text(target) as handle:
            handle.write("{}")
            if fails == "writing":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if fails == "ctrl_c":
                raise KeyboardInterrupt
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    monkeypatch.undo()
    outputs.write_json(target, {"a": 1})   # and it is written, folders and all
    assert target.read_text() == '{\n  "a": 1\n}\n'
