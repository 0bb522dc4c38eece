"""Batch tagging: a folder of thousands of letters in one run.

Letters are tagged in parallel (joblib, one worker process per core by default)
and written in input order as they finish, so memory does not grow with the
batch. A letter that fails is recorded in an errors file and the run goes on.

Nothing is lost on an interrupt. The output grows in ``OUT.partial``; after each
letter, its block of records (one ``write``) is followed by a line in the journal
``OUT.partial.journal`` giving the letter's content hash and where its block
ends. The partial output therefore holds whole letters only, and ``--resume``
cuts it back to the last journalled letter and goes on with the letters not
done (matched by content hash, so a letter changed since is tagged again). Only
a complete run replaces ``OUT``: an earlier output stays intact until then.
Beside a finished output, ``OUT.tagger.json`` records the format and the tagger
(method, and hashes of the taxonomy, patterns and models) that made it, so that a
later ``--resume`` that would add letters tagged by another tagger is refused.
A lock file refuses a second run writing the same output.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .errors import InputError, OutputError, SafeguardingError
from .interrupts import ctrl_c_deferred
from .outputs import atomic_text, counted, csv_cell, dumps, output_error
from .surrogates import HALF_A_CHARACTER, WHOLE_CHARACTER, has_lone_surrogate
from .workers import close, quiet_loky_stop

# The columns of the CSV output of 'tag', in order.
TAG_FIELDS = ["id", "letter_id", "source", "kind", "authority", "letter_date", "inspection_start",
              "inspection_end", "inspector", "section", "subsection", "judgement", "judged_by", "grade",
              "text", "themes", "scores", "evidence", "sources", "method", "start", "end", "sha256"]
# the CSV columns of versions before the inspection's dates were written: such an
# output cannot be carried on, as its letters would lack the dates that summarise reads
EARLIER_TAG_FIELDS = [k for k in TAG_FIELDS if k not in ("inspection_start", "inspection_end", "inspector")]
_EARLIER_VERSION = "was written by an earlier version of 'tag', without the inspection's dates"


@dataclass(frozen=True)
class TaggerConfig:
    """What a worker process needs to build its own tagger (a tagger itself is too
    large to send with every letter)."""
    themes: str
    patterns: str
    method: str
    models: str

    def files(self) -> dict[str, str]:
        """The files that decide the records a letter gets, by role, with their hashes
        ("-" for a file that is missing): by role, not file name, so that the same
        patterns under another name, or a model kept beside them, change nothing."""
        from .artifacts import meta_path, sha256_file
        from .train import JUDGEMENT_ARTIFACT, THEMES_ARTIFACT

        paths = {"themes": Path(self.themes), "patterns": Path(self.patterns)}
        if self.method != "rules":
            # a model's metadata holds its artifact's sha256, which loading checks
            for artifact in (THEMES_ARTIFACT, JUDGEMENT_ARTIFACT):
                paths[f"models/{meta_path(artifact).name}"] = meta_path(Path(self.models) / artifact)
        return {role: sha256_file(path) if path.exists() else "-" for role, path in paths.items()}

    def fingerprint(self, files: dict[str, str] | None = None) -> str:
        """What decides the records a letter gets: method, taxonomy, patterns, models."""
        return _digest(self.method, (self.files() if files is None else files).items())

    def legacy_fingerprint(self) -> str:
        """The fingerprint of versions before 2026-11-23 (files by name, every
        ``*.meta.json`` of the models folder): a run they interrupted resumes."""
        from .artifacts import sha256_file

        paths = [Path(self.themes), Path(self.patterns)]
        if self.method != "rules":
            paths += sorted(Path(self.models).glob("*.meta.json"))
        return _digest(self.method, ((path.name, sha256_file(path) if path.exists() else "-")
                                     for path in paths))

    def build(self):
        from .tag import build_tagger
        from .themes import load_taxonomy

        return build_tagger(load_taxonomy(self.themes), self.patterns, self.method, self.models)


def _digest(method: str, files: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256(method.encode("utf-8"))
    for name, sha in files:
        digest.update(name.encode("utf-8"))
        digest.update(sha.encode("ascii"))
    return digest.hexdigest()


@dataclass
class LetterJob:
    path: str
    sha256: str
    letter_id: str = ""   # given when the run knows which letters the output already has


@dataclass
class LetterResult:
    path: str
    sha256: str
    findings: int = 0
    tags: int = 0
    block: bytes = b""              # the letter's records, serialised
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


_TAGGERS: dict[TaggerConfig, object] = {}


def _tagger(config: TaggerConfig):
    """The worker's tagger, built on its first letter and kept for the others."""
    tagger = _TAGGERS.get(config)
    if tagger is None:
        _TAGGERS.clear()
        tagger = _TAGGERS[config] = config.build()
    return tagger


def serialise(records: Sequence[dict], output_format: str) -> str:
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in records:
            writer.writerow([csv_cell(record.get(k)) for k in TAG_FIELDS])
        return buffer.getvalue()
    return "".join(dumps(r) + "\n" for r in records)


def tag_letter(job: LetterJob, tagger, output_format: str) -> LetterResult:
    """One letter read, segmented, tagged and serialised; its failure is reported, not raised."""
    from .ingest import read_document
    from .judgement import judge_wording
    from .segment import finding_records, segment_document

    try:
        document = read_document(job.path)
        # the judgement model, where it is used, reads every finding no heading judges
        seg = segment_document(document, None if tagger.judges_by_model else judge_wording)
        records = tagger.tag_records(list(finding_records(seg, job.letter_id)))
        for record in records:
            record["sha256"] = job.sha256
        return LetterResult(job.path, job.sha256, len(records), sum(len(r["themes"]) for r in records),
                            serialise(records, output_format).encode("utf-8"),
                            warnings=[f"{job.path}: {w}" for w in seg.warnings])
    except SafeguardingError as exc:
        return LetterResult(job.path, job.sha256, error=str(exc))
    except MemoryError:
        return LetterResult(job.path, job.sha256, error=f"{job.path}: out of memory reading this file")
    except Exception as exc:  # a bug met on one letter must not stop the other thousands
        return LetterResult(job.path, job.sha256,
                            error=f"{job.path}: unexpected error {type(exc).__name__}: {exc} "
                                  "(please report it with the file)")


def _tag_in_worker(job: LetterJob, config: TaggerConfig, output_format: str) -> LetterResult:
    return tag_letter(job, _tagger(config), output_format)


# ----------------------------------------------------------------- planning

@dataclass
class Plan:
    jobs: list[LetterJob]
    skipped: list[tuple[str, str]] = field(default_factory=list)     # (path, why): errors
    duplicates: list[tuple[str, str]] = field(default_factory=list)   # (path, same as path)

    def inputs(self) -> list[tuple[str, str, str]]:
        """Every input file as given, with its content hash and the first file of that
        content (itself, for a letter to tag): the letters, then their copies."""
        sha = {job.path: job.sha256 for job in self.jobs}
        return ([(job.path, job.sha256, job.path) for job in self.jobs]
                + [(path, sha[first], first) for path, first in self.duplicates])

    def current(self) -> dict[str, str]:
        """Every input file (real path) with its content hash, duplicates included."""
        return {os.path.realpath(path): sha for path, sha, _ in self.inputs()}

    def replaces(self, source: str, sha256: str, current: dict[str, str],
                 recorded: frozenset[str] = frozenset()) -> bool:
        """Whether a letter already in the output is an earlier version of an input: the
        same file now holds other content; or, where its file is gone (the folder was
        moved), the only input with that file name not itself in the output (``recorded``:
        real paths) does. A letter whose file is still there is never replaced by another
        file of the same name, nor a deleted one by another letter of the output."""
        now = current.get(os.path.realpath(source))
        if now is None and not os.path.lexists(source):
            named = [h for path, h in current.items()
                     if os.path.basename(path) == os.path.basename(source) and path not in recorded]
            now = named[0] if len(named) == 1 else None
        return now is not None and now != sha256


def plan_letters(paths: Sequence[Path]) -> Plan:
    """Every letter to tag, with its content hash, in input order.

    The same content twice in one batch (a letter saved twice) is tagged once:
    the copies would only count its findings twice in the summaries.
    """
    from .artifacts import sha256_file
    from .ingest import check_regular_file, check_utf8_path, find_letters

    plan = Plan([])
    first: dict[str, str] = {}
    for path in find_letters(paths):
        try:
            check_utf8_path(path)
            check_regular_file(path)
        except InputError as error:
            plan.skipped.append((error.path, str(error)))
            continue
        try:
            sha = sha256_file(path)
        except OSError as exc:
            plan.skipped.append((str(path), f"{path}: cannot read ({exc.strerror or exc}) (check the file)"))
            continue
        if sha in first:
            plan.duplicates.append((str(path), first[sha]))
            continue
        first[sha] = str(path)
        plan.jobs.append(LetterJob(str(path), sha))
    return plan


# ----------------------------------------------------------------- output files

def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.journal")


def tagger_path(out: Path) -> Path:
    return out.with_name(out.name + ".tagger.json")


def errors_path(out: Path) -> Path:
    return out.with_name(out.name + ".errors.csv")


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


class OutputLock:
    """An exclusive lock on an output, in a file beside it (on the output's own file
    system, seen by every user and process that can write there): two runs writing
    one file would interleave their letters. The system releases the lock when the
    process ends, even if killed, so a stale lock file never blocks the next run; a
    run that ends normally removes it, so that the output's folder holds only outputs
    (DVC hashes whole folders)."""

    def __init__(self, out: Path):
        self.path = lock_path(out)
        self.out = out
        self.handle = None

    def __enter__(self):
        import fcntl

        for _ in range(10):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.handle = open(self.path, "a+", encoding="utf-8")
            except OSError as exc:
                raise output_error(self.out, exc) from None
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    self.handle.close()
                    raise output_error(self.out, exc) from None
                self.handle.seek(0)
                holder = self.handle.read().strip() or "another process"
                self.handle.close()
                raise OutputError(f"another 'tag' run ({holder}) is writing this output",
                                  path=str(self.out), fix="wait for it to finish, or give another --out") from None
            # the run before may have removed the file between our open and our lock:
            # then the lock is on a file nobody else will see; take it again
            try:
                if os.stat(self.path).st_ino == os.fstat(self.handle.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self.handle.close()
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()}")
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        import fcntl

        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()


@dataclass
class JournalEntry:
    sha256: str
    path: str
    end: int = 0             # byte offset of the partial output after this letter
    findings: int = 0
    tags: int = 0
    error: str | None = None
    letter_id: str | None = None
    block: str = ""          # sha1 of the letter's block: a resume checks every block

    def line(self) -> str:
        return json.dumps({"sha256": self.sha256, "path": self.path, "end": self.end,
                           "findings": self.findings, "tags": self.tags, "error": self.error,
                           "letter_id": self.letter_id, "block": self.block},
                          sort_keys=True, ensure_ascii=False) + "\n"


def journal_header(output_format: str, settings: str, unchecked: bool = False) -> dict:
    head = {"journal": 1, "format": output_format, "settings": settings}
    if unchecked:
        head["unchecked"] = True   # letters carried over from an output with no tagger record
    return head


def read_journal(path: Path, partial: Path) -> tuple[dict | None, list[JournalEntry]]:
    """The journal's header, and its entries whose letters are whole in the partial
    output: every block is checked against its hash, up to the first that is not
    (a kill cuts the last journal line; a power cut may lose unsynced blocks)."""
    entries: list[JournalEntry] = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        size = partial.stat().st_size
        data = open(partial, "rb")
    except (OSError, UnicodeDecodeError):
        return None, entries
    with data:
        return _check_journal(lines, data, size, entries)


def _read_range(handle, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of an open file, in pieces (memory stays flat)."""
    handle.seek(start)
    left = end - start
    while left > 0:
        piece = handle.read(min(left, 1 << 20))
        if not piece:
            return
        yield piece
        left -= len(piece)


def _block_sha1(handle, start: int, end: int) -> str:
    digest = hashlib.sha1()
    for piece in _read_range(handle, start, end):
        digest.update(piece)
    return digest.hexdigest()


def _check_journal(lines: list[str], data, size: int, entries: list[JournalEntry]):
    try:
        head = json.loads(lines[0])
        if not isinstance(head, dict) or head.get("journal") != 1:
            return None, entries
    except ValueError:
        return None, entries
    start = len(header(head.get("format", "")).encode("utf-8"))
    for line in lines[1:-1]:          # the last piece has no newline: cut by a kill
        try:
            item = json.loads(line)
            entry = JournalEntry(item["sha256"], item["path"], int(item["end"]),
                                 int(item.get("findings", 0)), int(item.get("tags", 0)),
                                 item.get("error"), item.get("letter_id"), item.get("block", ""))
        except (ValueError, KeyError, TypeError):
            break
        if entry.end > size or entry.end < start or _block_sha1(data, start, entry.end) != entry.block:
            break
        entries.append(entry)
        start = entry.end
    return head, entries


def header(output_format: str, columns: Sequence[str] = TAG_FIELDS) -> str:
    if output_format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(columns)
        return buffer.getvalue()
    return ""


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return handle.readline()
    except OSError:
        return ""


@dataclass
class PreviousRecord:
    sha256: str
    source: str
    letter_id: str | None
    tags: int
    text: str
    method: str | None = None


def previous_output(out: Path, output_format: str) -> Iterator[PreviousRecord]:
    """The records of a finished output of 'tag', as written."""
    fix = "give the output of an earlier 'tag' run in the same --format, or leave out --resume"
    try:
        with open(out, encoding="utf-8", newline="") as handle:
            if output_format == "csv":
                reader = csv.DictReader(handle)
                if reader.fieldnames == EARLIER_TAG_FIELDS:
                    raise InputError(f"cannot resume: {out.name} {_EARLIER_VERSION}", path=str(out),
                                     fix="leave out --resume to tag every letter again")
                if reader.fieldnames != TAG_FIELDS:
                    raise InputError("cannot resume: the output's columns are not those of 'tag'",
                                     path=str(out), fix=fix)
                for row in reader:
                    if not row.get("sha256") or not row.get("source"):
                        raise InputError("cannot resume: not a batch output of 'tag' (a row without the "
                                         "letter's sha256 or source)", path=str(out),
                                         line=reader.line_num, fix=fix)
                    buffer = io.StringIO()
                    csv.writer(buffer, lineterminator="\n").writerow([row[k] for k in TAG_FIELDS])
                    themes = [t for t in (row.get("themes") or "").split(";") if t]
                    yield PreviousRecord(row["sha256"], row["source"],
                                         row.get("letter_id") or None, len(themes), buffer.getvalue(),
                                         row.get("method") or None)
                return
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if not isinstance(record, dict) or not isinstance(record.get("themes", []), list):
                    raise InputError("cannot resume: not a JSONL output of 'tag'", path=str(out),
                                     line=number, fix=fix)
                if has_lone_surrogate(record, json_text=line):   # 'tag' writes none
                    raise InputError(f"cannot resume: {HALF_A_CHARACTER}", path=str(out), line=number,
                                     fix="the output was edited: " + WHOLE_CHARACTER)
                # every record of a batch of letters names its letter's content hash and file;
                # findings from 'segment' or 'tag --findings' do not, and would count as done
                if "themes" not in record or not isinstance(record.get("sha256"), str) \
                        or not record.get("sha256") or not isinstance(record.get("source"), str):
                    raise InputError("cannot resume: not a batch output of 'tag' (a record without "
                                     "themes, or without the letter's sha256 and source)", path=str(out),
                                     line=number, fix=fix)
                yield PreviousRecord(record["sha256"], record["source"],
                                     record.get("letter_id"), len(record["themes"]),
                                     line if line.endswith("\n") else line + "\n", record.get("method"))
    except UnicodeDecodeError:
        raise InputError("cannot resume: the output is not UTF-8 text", path=str(out), fix=fix) from None


class PartialOutput:
    """The output being written: whole letters, each followed by its journal line.

    The journal's first line records the output format and the tagger's settings, so
    that a resume with other options is refused rather than mixing two kinds of output.
    """

    def __init__(self, out: Path, output_format: str, resume: bool, plan: Plan, settings: str,
                 method: str | None = None, files: dict[str, str] | None = None,
                 legacy_settings: Callable[[], str] | None = None):
        self.out = out
        self.format = output_format
        self.settings = settings
        self.legacy_settings = legacy_settings   # what an earlier version wrote for these settings
        self.method = method
        self.files = files or {}
        self.without_findings: list[dict] = []   # a finished output's letters that have no records
        self.warnings: list[str] = []
        self.unchecked = False    # holds letters that no tagger record vouches for
        self.partial = partial_path(out)
        self.journal_file = journal_path(out)
        self.entries: list[JournalEntry] = []
        self.data = self.journal = None
        try:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            if resume and self.partial.exists():
                self._reopen()
            else:
                self._start(resume, plan)
        except OSError as exc:
            self.close()
            raise output_error(self.partial, exc) from None

    def _reopen(self) -> None:
        """Carry on a partial output: cut it back to its last whole, journalled letter."""
        if self.format == "csv" and _first_line(self.partial) == header(self.format, EARLIER_TAG_FIELDS):
            raise InputError(f"cannot resume: {self.partial.name} {_EARLIER_VERSION}", path=str(self.partial),
                             fix="leave out --resume to start again")
        head, self.entries = read_journal(self.journal_file, self.partial)
        wanted = journal_header(self.format, self.settings)
        if head is not None and head.pop("unchecked", False):
            self._mark_unchecked(self.partial, _KEPT_UNCHECKED)
        if (head is not None and head.get("settings") != self.settings and self.legacy_settings is not None
                and head.get("settings") == self.legacy_settings()):
            head["settings"] = self.settings   # the same settings, as an earlier version wrote them
        if head is not None and head != wanted:
            raise InputError(
                f"cannot resume: {self.partial.name} was written with --format {head.get('format')} "
                "and other tagger settings (method, patterns or models)" if head.get("format") == self.format
                else f"cannot resume: {self.partial.name} was written with --format {head.get('format')}",
                path=str(self.partial),
                fix="resume with the options of the interrupted run, or leave out --resume to start again")
        end = self.entries[-1].end if self.entries else 0
        self.data = open(self.partial, "r+b")
        self.data.truncate(end)
        self.data.seek(end)
        if end == 0:
            self.data.write(header(self.format).encode("utf-8"))
        self._rewrite_journal()

    def _journal_header(self) -> str:
        return json.dumps(journal_header(self.format, self.settings, self.unchecked), sort_keys=True) + "\n"

    def _rewrite_journal(self) -> None:
        """The journal of the letters in ``entries``, replaced whole; then open to add more."""
        with atomic_text(self.journal_file) as handle:
            handle.write(self._journal_header())
            for entry in self.entries:
                handle.write(entry.line())
        self.journal = open(self.journal_file, "a", encoding="utf-8")

    def _start(self, resume: bool, plan: Plan) -> None:
        """A new partial output (with a finished output's letters, when resuming from
        one), made in temporary files and put in place only when whole: an interrupt
        or a bad earlier output leaves nothing that a later --resume would trust."""
        tmp_data = self.partial.with_name(self.partial.name + ".tmp")
        tmp_journal = self.journal_file.with_name(self.journal_file.name + ".tmp")
        try:
            if resume and self.out.exists():
                self._check_tagger()   # before the journal's header, which records its outcome
            self.data = open(tmp_data, "wb")
            self.journal = open(tmp_journal, "w", encoding="utf-8")
            self.journal.write(self._journal_header())
            self.data.write(header(self.format).encode("utf-8"))
            if resume and self.out.exists():
                self._carry_over(plan)
            self.close()
            os.replace(tmp_journal, self.journal_file)
            os.replace(tmp_data, self.partial)
        except BaseException:
            self.close()
            tmp_data.unlink(missing_ok=True)
            tmp_journal.unlink(missing_ok=True)
            raise
        self.data = open(self.partial, "ab")
        self.journal = open(self.journal_file, "a", encoding="utf-8")

    def _carry_over(self, plan: Plan) -> None:
        """Resuming after a finished run: keep its letters, except those of the inputs
        whose content has changed since (they are tagged again)."""
        current = plan.current()
        # a first pass for the files the output holds: a letter whose file is gone is
        # not taken for an earlier version of another letter of the output
        recorded = frozenset({os.path.realpath(r.source) for r in previous_output(self.out, self.format)}
                             | {os.path.realpath(letter["source"]) for letter in self.without_findings})
        group: list[PreviousRecord] = []

        def flush() -> None:
            if group and not plan.replaces(group[0].source, group[0].sha256, current, recorded):
                first = group[0]
                self.add(JournalEntry(first.sha256, first.source, 0, len(group), sum(r.tags for r in group),
                                      letter_id=first.letter_id), "".join(r.text for r in group))
            group.clear()

        # a letter's records stand together: each letter is written as soon as it ends
        for record in previous_output(self.out, self.format):
            if self.method and record.method and record.method != self.method:
                raise InputError(f"cannot resume: the output was tagged with --method {record.method}",
                                 path=str(self.out), fix=f"resume with --method {record.method}, or "
                                 "leave out --resume to tag every letter again")
            if group and (record.sha256 != group[0].sha256 or record.source != group[0].source):
                flush()
            group.append(record)
        flush()
        # letters with no findings have no records: the tagger record lists them, so
        # that a resume does not read them again
        kept = self.done()
        for letter in self.without_findings:
            if letter["sha256"] not in kept and not plan.replaces(letter["source"], letter["sha256"], current,
                                                                   recorded):
                kept.add(letter["sha256"])
                self.add(JournalEntry(letter["sha256"], letter["source"], letter_id=letter["letter_id"]), b"")

    def _tagger(self) -> dict:
        made = {"record": 1, "format": self.format, "method": self.method, "settings": self.settings,
                "files": self.files,
                "without_findings": [{"sha256": e.sha256, "source": e.path, "letter_id": e.letter_id}
                                     for e in self.entries if e.error is None and not e.findings]}
        if self.unchecked:
            made["unchecked"] = True
        return made

    def _check_tagger(self) -> None:
        """A finished output's letters are kept only if the same tagger made them: with
        new models or patterns, one output would hold two taggers' readings."""
        path = tagger_path(self.out)
        fix = ("leave out --resume to tag every letter again with the current settings, or resume "
               "with the --format, --method, patterns and models that made it")
        try:
            made = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._mark_unchecked(self.out, f"no {path.name} beside it (an output of an earlier version, "
                                           "or copied without it)")
            return
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot resume: {path.name} cannot be read ({exc})", path=str(path),
                             fix=f"delete it to resume without the check, or {fix}") from None
        if not isinstance(made, dict):
            raise InputError(f"cannot resume: {path.name} is not a record of 'tag'", path=str(path),
                             fix=f"delete it to resume without the check, or {fix}")
        if made.get("record") != 1:
            # written by a version that kept other details: nothing to compare with
            self._mark_unchecked(self.out, f"{path.name} is of another version")
            return
        if made.get("format") == self.format and made.get("settings") == self.settings:
            if made.get("unchecked"):
                self._mark_unchecked(self.out, _KEPT_UNCHECKED)
            self.without_findings = _letters_listed(made.get("without_findings"))
            return
        if made.get("format") != self.format:
            raise InputError(f"cannot resume: {self.out.name} was written with --format {made.get('format')}",
                             path=str(self.out), fix=fix)
        files = made.get("files") if isinstance(made.get("files"), dict) else {}
        changed = sorted(name for name in set(files) | set(self.files) if files.get(name) != self.files.get(name))
        what = (f"with --method {made.get('method')}" if made.get("method") != self.method
                else f"with other {', '.join(changed)}" if changed else "with other settings")
        raise InputError(f"cannot resume: {self.out.name} was tagged {what} (see {path.name})",
                         path=str(self.out), fix=fix)

    def _mark_unchecked(self, path: Path, why: str) -> None:
        """The output will hold letters no tagger record vouches for: say so now, and
        in the journal and the record, until a run without --resume."""
        self.unchecked = True
        self.warnings.append(f"{path}: {why}: those letters were not checked against the current "
                             "patterns and models (tag again without --resume to have every letter checked)")

    def done(self) -> set[str]:
        return {e.sha256 for e in self.entries}

    def taken_ids(self) -> dict[str, str]:
        """Letter ids already in the output, with their files."""
        return {e.letter_id: e.path for e in self.entries if e.letter_id}

    def add(self, entry: JournalEntry, block: str | bytes) -> None:
        data = block if isinstance(block, bytes) else block.encode("utf-8")
        entry.block = hashlib.sha1(data).hexdigest()
        try:
            # one write per letter: a kill leaves a letter's block whole or absent
            self.data.write(data)
            self.data.flush()
            entry.end = self.data.tell()
            self.journal.write(entry.line())
            self.journal.flush()
        except OSError as exc:
            raise output_error(self.partial, exc) from None
        self.entries.append(entry)

    def close(self) -> None:
        for handle in (self.data, self.journal):
            if handle is not None and not handle.closed:
                handle.close()

    def drop(self, stale: set[str]) -> None:
        """Remove letters (by content hash) from the partial output: the other letters'
        blocks are copied, in order, to a new partial output with a new journal."""
        if not any(e.sha256 in stale for e in self.entries):
            return
        self.close()
        first = len(header(self.format).encode("utf-8"))
        ranges = [(self.entries[k - 1].end if k else first, e.end) for k, e in enumerate(self.entries)]
        tmp = self.partial.with_name(self.partial.name + ".tmp")
        kept: list[JournalEntry] = []
        try:
            with open(self.partial, "rb") as source, open(tmp, "wb") as target:
                target.write(header(self.format).encode("utf-8"))
                for entry, (start, end) in zip(self.entries, ranges):
                    if entry.sha256 in stale:
                        continue
                    for piece in _read_range(source, start, end):
                        target.write(piece)
                    entry.end = target.tell()
                    kept.append(entry)
            self.entries = kept
            self._rewrite_journal()
            os.replace(tmp, self.partial)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise output_error(self.partial, exc) from None
        self.data = open(self.partial, "ab")

    def discard(self) -> None:
        self.close()
        self.partial.unlink(missing_ok=True)
        self.journal_file.unlink(missing_ok=True)

    def finish(self) -> None:
        """Make the partial output the output; the journal is no longer needed. A Ctrl-C
        meanwhile is held back, then let go: every letter is in, so the run ends as
        done. Cut between its steps, it left an output without its record and a stray
        journal, and a message that said nothing had changed."""
        finished = False
        try:
            with ctrl_c_deferred():
                self._finish()
                finished = True
        except KeyboardInterrupt:
            if not finished:   # a failure and a Ctrl-C: the user asked to stop
                raise

    def _finish(self) -> None:
        try:
            self.data.flush()
            os.fsync(self.data.fileno())
            self.close()
            # the old output's record goes first and the new one comes after the output:
            # a stop in between leaves an output without a record (a resume warns), never
            # a record that describes another output
            record = tagger_path(self.out)
            record.unlink(missing_ok=True)
            os.replace(self.partial, self.out)
            with atomic_text(record) as handle:
                handle.write(json.dumps(self._tagger(), indent=2, sort_keys=True) + "\n")
            self.journal_file.unlink(missing_ok=True)
        except OSError as exc:
            raise output_error(self.out, exc) from None


_KEPT_UNCHECKED = "holds letters kept from an output that had no tagger record"


def _letters_listed(listed) -> list[dict]:
    """The well-formed items of a tagger record's list of letters (an edited or older
    record may lack it: those letters are then simply read again)."""
    if not isinstance(listed, list):
        return []
    return [item for item in listed if isinstance(item, dict) and isinstance(item.get("sha256"), str)
            and len(item["sha256"]) == 64 and isinstance(item.get("source"), str)
            and isinstance(item.get("letter_id"), (str, type(None)))]


def write_errors(out: Path, errors: Sequence[tuple[str, str]]) -> Path | None:
    """The letters that failed, as CSV (file, error); an old errors file is removed."""
    path = errors_path(out)
    if not errors:
        path.unlink(missing_ok=True)
        return None
    with atomic_text(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "error"])
        writer.writerows(errors)
    return path


# ----------------------------------------------------------------- the run

@dataclass
class BatchSummary:
    letters: int = 0          # tagged in this run or carried over
    tagged: int = 0           # tagged in this run
    findings: int = 0
    tags: int = 0
    resumed: int = 0          # letters already in the output
    errors: list[tuple[str, str]] = field(default_factory=list)       # letters not tagged
    duplicates: list[tuple[str, str]] = field(default_factory=list)   # copies tagged once
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _results(jobs: list[LetterJob], config: TaggerConfig, tagger, n_jobs: int,
             output_format: str) -> Iterable[LetterResult]:
    if n_jobs == 1:
        return (tag_letter(job, tagger, output_format) for job in jobs)
    from joblib import Parallel, delayed

    from . import workers

    with workers.worker_pool():
        parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1,
                            pre_dispatch=f"{4 * n_jobs}")
        return workers.start(parallel, (delayed(_tag_in_worker)(job, config, output_format) for job in jobs))


def run_batch(paths: Sequence[Path], out: Path, config: TaggerConfig, *, output_format: str = "jsonl",
              jobs: int = 0, resume: bool = False, progress: bool = True) -> BatchSummary:
    """Tag every letter under ``paths`` into ``out``; see the module's docstring."""
    from .progress import progress_bar
    from .segment import LetterIds

    started = time.perf_counter()
    n_jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    plan = plan_letters(paths)
    if os.path.realpath(out) in plan.current():
        raise OutputError("is one of the letters read", path=str(out),
                          fix="give another --out; the letters are never written over")
    summary = BatchSummary()
    with OutputLock(out):
        # one process builds its tagger here, so that a bad model or pattern file is
        # reported before any letter; parallel workers build their own
        if len(plan.jobs) < 2:
            n_jobs = 1
        tagger = config.build() if n_jobs == 1 else _check_config(config)
        files = config.files()
        output = PartialOutput(out, output_format, resume, plan, config.fingerprint(files), config.method,
                               files, config.legacy_fingerprint)
        summary.warnings += output.warnings
        try:
            # letters of an interrupted run whose files have changed since are tagged again
            current = plan.current()
            recorded = frozenset(os.path.realpath(e.path) for e in output.entries)
            output.drop({e.sha256 for e in output.entries if plan.replaces(e.path, e.sha256, current, recorded)})
            done = output.done()
            failed: dict[str, str] = {}   # content hash of a letter that failed: its file
            for entry in output.entries:
                summary.letters += entry.error is None
                summary.findings += entry.findings
                summary.tags += entry.tags
                if entry.error:
                    summary.errors.append((entry.path, entry.error))
                    failed.setdefault(entry.sha256, entry.path)
            summary.resumed = len(output.entries)
            # ids of letters already in the output stay theirs: a letter added since,
            # with the same file name, gets its own id
            ids = LetterIds()
            ids.seen.update(output.taken_ids())
            todo = [job for job in plan.jobs if job.sha256 not in done]
            for job in todo:
                job.letter_id = ids.assign(job.path, job.sha256)
            with quiet_loky_stop():
                results = None   # workers.start stops its own if a Ctrl-C comes as they start
                try:
                    # a worker more than there are letters to tag only costs its start-up
                    # and memory (a resume may have one left)
                    workers_needed = max(1, min(n_jobs, len(todo)))
                    if workers_needed == 1 and tagger is None:
                        tagger = config.build()
                    results = _results(todo, config, tagger, workers_needed, output_format)
                    bar = progress_bar(results, total=len(todo), desc="tag", unit="letter", enabled=progress)
                    for result, job in zip(bar, todo):
                        output.add(JournalEntry(result.sha256, result.path, 0, result.findings, result.tags,
                                                result.error, job.letter_id), result.block)
                        summary.warnings += result.warnings
                        if result.error:
                            summary.errors.append((result.path, result.error))
                            failed.setdefault(result.sha256, result.path)
                        else:
                            summary.letters += 1
                            summary.tagged += 1
                            summary.findings += result.findings
                            summary.tags += result.tags
                        bar.set_postfix(findings=summary.findings, errors=len(summary.errors),
                                        refresh=False)
                except Exception as exc:
                    if type(exc).__name__ != "TerminatedWorkerError":
                        raise
                    raise InputError(f"a worker process died (out of memory, or a crash on one letter); "
                                     f"the letters done are kept in {partial_path(out)}",
                                     fix="run the same command with --resume; with --jobs 1 the letter "
                                         "that fails is named") from None
                finally:
                    if results is not None:
                        close(results)
            bar.close()
            summary.errors += plan.skipped
            _sort_duplicates(plan, summary, failed)
            write_errors(out, summary.errors + summary.duplicates)
            if summary.letters == 0 and summary.errors:
                # nothing to show for the run: keep an earlier output rather than empty it
                output.discard()
                raise InputError(f"no letter could be tagged; the first: {summary.errors[0][1]}",
                                 fix=f"see {errors_path(out)}")
            output.finish()
        finally:
            output.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _sort_duplicates(plan: Plan, summary: BatchSummary, failed: dict[str, str]) -> None:
    """A copy of a letter is tagged once; every copy of a letter that failed failed
    too. By content: a failure kept from an interrupted run names the file it was
    read from then, which need not be the first of the copies now."""
    reported = {path for path, _ in summary.errors}
    for path, content, first in plan.inputs():
        if content in failed:
            if path not in reported:
                summary.errors.append((path, f"{path}: same content as {failed[content]}, which could not be tagged"))
        elif path != first:
            summary.duplicates.append((path, f"{path}: same content as {first}: tagged once"))


def _check_config(config: TaggerConfig) -> None:
    """Before workers start: the taxonomy, the patterns and the models' hashes."""
    from .rules import load_patterns
    from .tag import check_models
    from .themes import load_taxonomy

    taxonomy = load_taxonomy(config.themes)
    load_patterns(config.patterns, taxonomy)
    if config.method == "combined":
        check_models(Path(config.models), taxonomy, config.patterns)


def describe(summary: BatchSummary, out: Path) -> str:
    """The run's warnings (a line each) and its final line."""
    rate = summary.tagged / summary.seconds if summary.seconds else 0.0
    text = (f"tag: {counted(summary.letters, 'letter')}, {counted(summary.findings, 'finding')}, "
            f"{counted(summary.tags, 'theme tag')} -> {out} ({summary.seconds:.1f} s, {rate:.1f} letters/s")
    if summary.resumed:
        text += f"; {counted(summary.resumed, 'letter')} {'was' if summary.resumed == 1 else 'were'} already done"
    text += ")"
    if summary.errors:
        text += f"; {counted(len(summary.errors), 'letter')} failed, see {errors_path(out)}"
    if summary.duplicates:
        text += f"; {counted(len(summary.duplicates), 'duplicate file')} tagged once, see {errors_path(out)}"
    return "\n".join([f"warning: {w}" for w in summary.warnings] + [text])
