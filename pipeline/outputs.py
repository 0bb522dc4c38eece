"""Writing outputs so that a failure never leaves a half-written file behind.

Every output is written to a temporary file in the destination folder and renamed
over the target only when complete (rename is atomic on one file system).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import OutputError, PartlyReplacedError
from .interrupts import ctrl_c_deferred


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 letter', '2 letters': the final lines are read by people."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def output_error(path: Path | str, exc: OSError, option: str = "--out") -> OutputError:
    """Turn an OS error on an output into a one-line error with the fix."""
    if exc.errno == errno.ENOSPC:
        fix = "free some disk space and run again; nothing was replaced"
        msg = "disk full while writing"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"choose a folder you can write to with {option}"
        msg = "cannot write here (permission denied)"
    elif exc.errno == errno.EISDIR:
        fix = f"remove it, or choose another {option}"
        msg = "is a folder, not a file"
    elif exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EEXIST):
        fix = f"choose another {option}"
        msg = "cannot create the output folder"
    else:
        fix = "check the path and try again"
        msg = f"cannot write: {exc.strerror or exc}"
    return OutputError(msg, path=str(path), fix=fix)


def check_output_folder(path: Path | str, option: str = "--out") -> None:
    """Before any work: an output folder that is a file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError("is a file, not a folder", path=str(path), fix=f"give a folder with {option}")


def check_outputs(outputs: Iterable[tuple[str, Path | str | None]],
                  inputs: Iterable[Path | str | None] = ()) -> None:
    """Before the long work, the checks that would otherwise fail at its end, or write
    over what the command reads: each output file (option, path) is not a folder, not
    inside a file, not a file this command reads, and not another output or its folder."""
    read = {os.path.realpath(p) for p in inputs if p is not None}
    named: dict[str, str] = {}
    for option, path in outputs:
        if path is None:
            continue
        # os.path's tests, not pathlib's: a folder that may not be searched raises there,
        # and the write itself will say 'permission denied' with the fix
        if os.path.isdir(path):
            raise OutputError("is a folder, not a file", path=str(path),
                              fix=f"give {option} a file name inside it or elsewhere")
        parent = Path(path).parent
        while not os.path.exists(parent) and parent != parent.parent:
            parent = parent.parent
        if not os.path.isdir(parent):
            raise OutputError(f"is inside {parent}, which is a file", path=str(path),
                              fix=f"give {option} a path in a folder")
        real = os.path.realpath(path)
        if real in read:
            raise OutputError("is a file this command reads", path=str(path),
                              fix=f"give {option} another file; inputs are never written over")
        for other_real, other in named.items():
            if real == other_real or other_real.startswith(real + os.sep) or real.startswith(other_real + os.sep):
                raise OutputError(f"is written by both {other} and {option}", path=str(path),
                                  fix=f"give {option} another path")
        named[real] = option


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_beside(target: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new hidden file in ``target``'s folder, to be renamed over it: (its open
    descriptor, its path). The folder is taken as the system finds it: mkstemp would
    drop a '..' after a link by hand. (mkstemp makes it 0600: ``_plain_mode`` it once
    written.)"""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix,
                                dir=os.path.realpath(target.parent))
    return fd, Path(name)


def _plain_mode(path: Path) -> None:
    """The permissions a plain open() would have given the file."""
    os.chmod(path, 0o666 & ~_umask())


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success. On a
    failure the temporary file goes, and the folders made for it as far as they are empty
    (as ``replace_together``)."""
    path = Path(path)
    made: list[tuple[Path, int, int]] = []
    staged: list[tuple[Path, Path]] = []   # (the temporary file, path) once made, for _undo
    try:
        _make_folders(path.parent, made)
        fd, tmp = _temporary_beside(path, suffix)
        os.close(fd)
        staged.append((tmp, path))
        yield tmp
        _plain_mode(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _undo(staged, made)
        raise output_error(path, exc) from None
    except BaseException:
        _undo(staged, made)
        raise


@contextlib.contextmanager
def atomic_text(path: Path | str, newline: str | None = "\n") -> Iterator[io.TextIOBase]:
    """Open a text file for writing that appears at ``path`` only when closed cleanly."""
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise output_error(path, exc) from None


def dumps(record: Any) -> str:
    """One JSON line, keys sorted so that output is byte-for-byte reproducible."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def json_text(data: Any) -> str:
    """What ``write_json`` writes: indented, keys sorted."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def write_json(path: Path | str, data: Any) -> None:
    with atomic_text(path) as handle:
        handle.write(json_text(data))


def write_jsonl(path: Path | str, records: Iterable[dict]) -> int:
    count = 0
    with atomic_text(path) as handle:
        for record in records:
            handle.write(dumps(record) + "\n")
            count += 1
    return count


def csv_cell(value: Any) -> str:
    """Flatten a value for a spreadsheet cell: lists joined by ';', dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int, float)) for v in value):
            return ";".join(str(v) for v in value)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def write_csv(path: Path | str, records: Iterable[dict], fields: list[str]) -> int:
    count = 0
    with atomic_text(path, newline="") as handle:
        count = _write_csv_rows(handle, records, fields)
    return count


def csv_text(records: Iterable[dict], fields: list[str]) -> str:
    """What ``write_csv`` writes, as text."""
    buffer = io.StringIO(newline="")
    _write_csv_rows(buffer, records, fields)
    return buffer.getvalue()


def _write_csv_rows(handle, records: Iterable[dict], fields: list[str]) -> int:
    writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({k: csv_cell(record.get(k)) for k in fields})
        count += 1
    return count


def write_files_together(folder: Path | str, contents: dict[str, bytes]) -> None:
    """Write the files of one output folder so that they change together
    (``replace_together``). A failure (a target that is a folder, a full disk) leaves
    the folder as it was, and removes it if this call made it."""
    check_output_folder(folder)   # again: it may have become a file while the figures were made
    replace_together({Path(folder) / name: data for name, data in contents.items()})


def _make_folders(folder: Path, made: list[tuple[Path, int, int]]) -> None:
    """``mkdir -p folder``, one part of the path as written at a time, adding each folder
    made to ``made`` with its inode: undoing removes those folders and never one that was
    there (a '..' after a link can lead anywhere; what was made is known, not foreseen)."""
    for depth in range(1, len(folder.parts) + 1):
        step = Path(*folder.parts[:depth])
        try:
            os.mkdir(step)
        except OSError:
            if os.path.isdir(step):   # there already (Windows may say 'access denied' for 'C:\\')
                continue
            raise
        info = os.lstat(step)
        made.append((step, info.st_dev, info.st_ino))


def _undo(staged: list[tuple[Path, Path]], made: list[tuple[Path, int, int]]) -> None:
    """After a failure: the temporary files, and the folders made for them while empty."""
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)
    for folder, device, inode in reversed(made):
        with contextlib.suppress(OSError):   # not empty, or not the folder made: it stays
            info = os.lstat(folder)
            if (info.st_dev, info.st_ino) == (device, inode):
                os.rmdir(folder)


def _keep_aside(path: Path, remove: bool) -> Path:
    """A second, hidden name for what is at ``path`` now, to put it back after a failure;
    ``remove``: and ``path`` goes. Linked, so that ``path`` is replaced in one rename and
    never missing for a reader, and no kept file is ever written over (a link is never
    made over a file). (The name is no longer than a temporary file's: a name that could
    be written can be kept.)"""
    n = 0
    while True:
        kept = path.with_name(f".{path.name}.{n}.old")
        n += 1
        try:
            os.link(path, kept, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            # no hard link allowed (FAT, some network shares, another user's file under
            # protected_hardlinks): moved aside, missing for a moment instead
            if os.path.lexists(kept):
                continue
            os.rename(path, kept)
            return kept
        if remove:
            try:
                os.unlink(path)
            except OSError:
                with contextlib.suppress(OSError):
                    kept.unlink()
                raise
        return kept


def _put_in_place(staged: list[tuple[Path, Path]], remove: Iterable[Path]) -> None:
    """Rename the staged files over their targets and remove ``remove``, all or none:
    a rename that fails part way (a read-only remount, a folder that cannot grow) puts
    back what the earlier ones replaced, so that files that must agree still do."""
    done: list[tuple[Path, Path | None]] = []   # (path, its earlier version kept aside)
    try:
        for tmp, target in staged:
            done.append((target, _keep_aside(target, remove=False) if os.path.lexists(target) else None))
            os.replace(tmp, target)
        for path in remove:
            if os.path.lexists(path):
                done.append((path, _keep_aside(path, remove=True)))
    except OSError:
        left = _put_back(done)
        if left:
            raise PartlyReplacedError(
                "the new files were put in place only in part, and this one could not be put back"
                + (f" (nor {counted(len(left) - 1, 'other')})" if len(left) > 1 else ""),
                path=str(left[0][0]), fix=_put_back_by_hand(left)) from None
        raise
    for _, kept in done:
        if kept is not None:
            with contextlib.suppress(OSError):   # a hidden leftover at worst, never a wrong output
                kept.unlink()


def _put_back_by_hand(left: list[tuple[Path, Path | None]], named: int = 3) -> str:
    """What to do for the files not put back: the first few (a read-only remount leaves
    them all, and a run may write thousands), each by its full path (they may be in
    several folders, and the earlier versions are hidden)."""
    steps = [f"rename {kept} back to {path.name}" if kept is not None else f"remove {path}"
             for path, kept in left[:named]]
    if len(left) > named:
        steps.append(f"and so for {counted(len(left) - named, 'other file')} (the earlier "
                     "version of each is the hidden .NAME.N.old beside it; one with none is removed)")
    return "run the command again, or " + "; ".join(steps)


def _put_back(done: list[tuple[Path, Path | None]]) -> list[tuple[Path, Path | None]]:
    """Undo ``done``, the last first; returns what could not be put back, in order."""
    left: list[tuple[Path, Path | None]] = []
    for path, kept in reversed(done):
        try:
            if kept is None:
                path.unlink(missing_ok=True)
            elif os.path.lexists(path) and os.path.samestat(os.lstat(path), os.lstat(kept)):
                # linked, and its replacement failed: it is as it was, the link a leftover
                with contextlib.suppress(OSError):
                    kept.unlink()
            else:
                os.replace(kept, path)
        except OSError:
            left.append((path, kept))
    return left[::-1]


def replace_together(files: dict[Path, bytes], remove: Iterable[Path] = (),
                     option: str | dict[Path, str] = "--out") -> None:
    """Write ``files`` (path -> bytes) to temporary files, then put them all in place
    and remove ``remove``, with Ctrl-C held off: files that must agree (a model and its
    metadata, two models trained together) never appear one without the other. On a
    failure, even one part way through putting them in place, the files are as they were,
    and the folders made for them are removed again, as far as they are empty.
    ``option``: the option that names the files (or, by file, the option naming each)."""
    remove = list(remove)
    staged: list[tuple[Path, Path]] = []
    made: list[tuple[Path, int, int]] = []   # folders made for the files, for a failure to remove
    folders: set[Path] = set()
    writing: Path | None = None   # the file being written, for an error that names no file
    try:
        for path in (*remove, *files):
            # found now: once the files are being put in place, a failure would leave those
            # before it replaced. A folder is neither replaced nor removed (nor hidden); a
            # link is, not followed
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        for target, data in files.items():
            writing = target
            if target.parent not in folders:
                _make_folders(target.parent, made)
                folders.add(target.parent)
            fd, tmp = _temporary_beside(target)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            _plain_mode(tmp)
        writing = None
        # the few milliseconds that put files that belong together in place
        with ctrl_c_deferred():
            _put_in_place(staged, remove)
    except OSError as exc:
        _undo(staged, made)
        failed = Path(exc.filename) if exc.filename else None
        where = next((t for tmp, t in staged if failed in (tmp, t)), None)
        if where is None and writing is not None:
            # a folder that cannot be made is named as such; a temporary file, or an error
            # that names none (a full disk), by the file being written
            where = failed if failed is not None and failed in writing.parents else writing
        where = where or failed or next(iter(files))
        # (a folder that cannot be made is named by the option of a file inside it)
        named = option if isinstance(option, str) else next(
            (name for target, name in option.items() if where in (target, *target.parents)), "--out")
        raise output_error(where, exc, named) from None
    except BaseException:
        _undo(staged, made)
        raise
