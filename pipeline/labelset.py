"""Labelled findings: reading and checking gold labels, and drawing samples to label.

A gold record keeps the finding's text, letter and judgement as well as its
themes, so labels survive later changes to segmentation (they are matched by
letter and text, not by index). Files are JSONL, or CSV with a ``text`` column
and ``themes`` as ``;``-separated ids.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .characters import PLAIN
from .errors import LabelsError
from .judgement import JUDGEMENTS, judgement_id
from .surrogates import HALF_A_CHARACTER, WHOLE_CHARACTER, has_lone_surrogate, printable
from .themes import Taxonomy


@dataclass
class LabelledFinding:
    id: str
    letter_id: str
    text: str
    themes: list[str]
    judgement: str | None = None
    extra: dict = field(default_factory=dict)
    line: int | None = None


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a JSONL or CSV file; malformed lines are errors."""
    try:
        yield from _iter_rows(Path(path))
    except UnicodeDecodeError:
        raise LabelsError("not UTF-8 text", path=str(path), line=_first_line_not_utf8(Path(path)),
                          fix="save the file as UTF-8 (in Excel: CSV UTF-8)") from None


def _first_line_not_utf8(path: Path) -> int | None:
    """The number of the first line that is not UTF-8, to name it in the error."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


_KNOWN_COLUMNS = {name: name for name in (
    "id", "letter_id", "text", "themes", "judgement", "judged_by", "section", "subsection", "context",
    "source", "authority", "kind", "letter_date", "inspection_start", "inspection_end")}


def _iter_rows(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.exists():
        raise LabelsError("file not found", path=str(path), fix="check the path")
    if path.is_dir():
        raise LabelsError("is a folder, not a file", path=str(path),
                          fix="give the file (JSONL or CSV) inside it")
    if path.suffix.lower() == ".csv":
        yield from _csv_rows(path)
        return
    with open(path, encoding="utf-8-sig") as handle:
        yield from jsonl_rows(handle, path)


def jsonl_rows(lines: Iterable[str], path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of the lines of a JSONL file, as a file is read by line
    (split at line endings only: U+2028 in a text is no line break); a blank line is
    skipped and keeps its number. ``path`` names the file in errors."""
    for number, raw in enumerate(lines, start=1):
        # a byte-order mark opening a later line is a file saved by Excel or Notepad
        # joined on (cat a.jsonl b.jsonl): never part of the record (the first line's
        # is read away with the file's encoding)
        raw = raw.removeprefix("\ufeff")
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            # besides malformed JSON: a number of thousands of digits, nesting too deep
            # the column finds the fault in a line of thousands of characters (some of
            # json's messages end "at", waiting for it)
            if isinstance(exc, json.JSONDecodeError):
                # a line cut short fails past its end, at the newline: json counts that
                # as column 1 of the next line
                content = len(raw.rstrip("\r\n"))
                where = "at the end of the line" if exc.pos >= content else f"at column {exc.pos + 1}"
                why = f"{exc.msg.removesuffix(' at')} {where}"
            else:
                why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            raise LabelsError(f"malformed JSON ({why})", path=str(path), line=number,
                              fix="each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise LabelsError("a line must be a JSON object", path=str(path), line=number,
                              fix="write one {...} object per line")
        if has_lone_surrogate(record, json_text=raw):
            raise LabelsError(HALF_A_CHARACTER, path=str(path), line=number, fix=WHOLE_CHARACTER)
        yield number, record


class _Lines:
    """A file's lines as the CSV reader takes them, noting the first line of each row
    that is not a bare line ending (the reader skips those): a row is numbered by the
    line it starts on, though a cell written over several lines (Alt+Enter in a
    spreadsheet) or a quote left open moves where it ends."""

    def __init__(self, handle):
        self.handle = handle
        self.number = 0
        self.start: int | None = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.number += 1
        if self.start is None and line.strip("\r\n"):
            self.start = self.number
        return line

    def row_start(self) -> int:
        """The line the row just read starts on; the next row starts after it."""
        start, self.start = self.start, None
        return start or self.number


def _csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = _Lines(handle)
        reader = csv.DictReader(lines)
        try:
            if reader.fieldnames:
                # a spreadsheet's "Text" or " ID " header is the column meant
                reader.fieldnames = [_KNOWN_COLUMNS.get(name.strip().lower(), name) for name in reader.fieldnames]
            if not reader.fieldnames or "text" not in reader.fieldnames:
                semicolons = bool(reader.fieldnames) and len(reader.fieldnames) == 1 and ";" in reader.fieldnames[0]
                raise LabelsError("CSV has no 'text' column" + (" (its cells are separated by ';')"
                                                                 if semicolons else ""),
                                  path=str(path), line=1,
                                  fix="save it as CSV with commas (in Excel: 'CSV UTF-8'), with the "
                                      "finding texts in a column named 'text'" if semicolons
                                  else "name the column of finding texts 'text'")
            twice = sorted({name for name in reader.fieldnames
                            if name in _KNOWN_COLUMNS and reader.fieldnames.count(name) > 1})
            if twice:
                # a reader would silently take the last of the two
                raise LabelsError(f"{', '.join(repr(name) for name in twice)}: "
                                  f"{'this column is' if len(twice) == 1 else 'these columns are'} "
                                  "in the header twice", path=str(path), line=1,
                                  fix="keep one column of each name; names are read regardless of case "
                                      "and of spaces around them")
            lines.row_start()   # the header's
            for row in reader:
                line = lines.row_start()
                if not any(cell.strip() for cell in [*row.values(), *(row.get(None) or [])]
                           if isinstance(cell, str)):
                    continue   # an empty row (or spaces, or commas only), as spreadsheets leave
                # a cell too many or too few: a comma inside an unquoted cell, or a cut row
                if None in row or None in row.values():
                    many = None in row
                    raise LabelsError(f"{'more' if many else 'fewer'} cells than the header's "
                                      f"{len(reader.fieldnames)}", path=str(path), line=line,
                                      fix="quote cells that hold commas (themes in a CSV are "
                                          "';'-separated); every row needs a cell per column")
                yield line, row
        except csv.Error as exc:
            # a quote opened and never closed runs on to the field size limit: named by the
            # line its row starts on
            long = "field larger than field limit" in str(exc)
            raise LabelsError(f"a cell of more than {csv.field_size_limit()} characters starts here" if long
                              else f"not a readable CSV row ({exc})", path=str(path),
                              line=lines.start or reader.line_num + 1,
                              fix='check for a quote (") opened and never closed') from None


def theme_list(value, path, line, taxonomy: Taxonomy) -> list[str]:
    """A row's themes: a list of ids, or text with ids separated by ';' (or ','); none
    for an empty cell or null."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]
    if not isinstance(value, list):
        raise LabelsError("'themes' must be a list of theme ids", path=str(path), line=line,
                          fix='write e.g. "themes": ["timeliness", "planning"]')
    return sorted({taxonomy.check(v, path, line) for v in value})


class Labelled(list):
    """Labelled findings, and how many rows were not labelled yet (skipped)."""
    unlabelled: int = 0


def no_themes(path: str | Path, line: int) -> LabelsError:
    """The error for a row without themes: in a CSV, its header lacks the column."""
    if Path(path).suffix.lower() == ".csv":
        return LabelsError("CSV has no 'themes' column", path=str(path), line=1,
                           fix="add a 'themes' column: ';'-separated theme ids, empty for no theme")
    return LabelsError("no 'themes' field", path=str(path), line=line,
                       fix="add the finding's themes (an empty list if it has none)")


def not_labelled_yet(row: dict) -> bool:
    """A row with a judgement column and neither themes nor a judgement filled in: not
    labelled yet (a spreadsheet from 'suggest' part way through), skipped by 'train'
    and 'labels import' alike. Without a judgement column an empty themes cell is the
    only way to say "no theme", and an empty list of themes in JSONL is a label too."""
    if "judgement" not in row:
        return False
    themes = row.get("themes")
    judgement = row.get("judgement")
    return ((themes is None or (isinstance(themes, str) and not themes.strip()))
            and (judgement is None or (isinstance(judgement, str) and not judgement.strip())))


TEXT_FIELDS = ("letter_id", "source", "section", "subsection", "context", "previous")


def text_value(row: dict, key: str, path: str | Path, line: int) -> str:
    """A text field of a row, trimmed ('' if absent); a number or list is an error (JSONL)."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LabelsError(f"'{key}' must be text, got {value!r}", path=str(path), line=line,
                          fix=f'write it in quotes, e.g. "{key}": "..." (or leave it out)')
    return value.strip()


def judgement_value(row: dict, key: str, path: str | Path, line: int) -> str | None:
    """A row's judgement as its id, or None if empty: as written in a spreadsheet
    ('Strength ', 'Priority action'), as tag --findings reads it."""
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise LabelsError(f"'{key}' must be text, got {value!r}", path=str(path), line=line,
                          fix=f"use one of {', '.join(JUDGEMENTS)}, or leave it empty")
    judgement = judgement_id(value or "") or None
    if judgement is not None and judgement not in JUDGEMENTS:
        raise LabelsError(f"unknown {key.replace('_', ' ')} {value.strip()!r}", path=str(path),
                          line=line, fix=f"use one of {', '.join(JUDGEMENTS)}, or leave it empty")
    return judgement


def implied_id(row: dict, path: str | Path, line: int) -> str:
    """A label's id: its own, or for a line without one the file's name and the line
    (``gold#6``), as train, evaluate and labels import all name it."""
    return str(row.get("id") or "").strip() or f"{printable(Path(path).stem)}#{line}"


def load_labelled(path: str | Path, taxonomy: Taxonomy, *, need_judgement: bool = False,
                  need_every_theme: bool = False) -> Labelled:
    """Labelled findings of ``path``, every line checked; rows not labelled yet are
    skipped and counted.

    Errors name the file and line: malformed line, unknown theme, duplicate id,
    empty text, bad judgement; with ``need_every_theme``, a theme of the
    taxonomy with no example at all.
    """
    return labelled_from(iter_rows(path), path, taxonomy, need_judgement=need_judgement,
                         need_every_theme=need_every_theme)


def labelled_from(rows: Iterable[tuple[int, dict]], path: str | Path, taxonomy: Taxonomy, *,
                  need_judgement: bool = False, need_every_theme: bool = False) -> Labelled:
    """``load_labelled`` of (line number, row) pairs read as the file ``path``: a file
    can be checked as it would be written, before it is."""
    records = Labelled()
    first_line: dict[str, int] = {}
    for line, row in rows:
        text = row.get("text") or ""
        if not isinstance(text, str):
            raise LabelsError(f"'text' must be a string, got {text!r}", path=str(path), line=line,
                              fix='write the finding\'s words in quotes, e.g. "text": "..."')
        text = text.strip()
        if not text:
            raise LabelsError("empty text", path=str(path), line=line,
                              fix="every labelled finding needs its text")
        rid = implied_id(row, path, line)
        if rid in first_line:
            raise LabelsError(f"duplicate id {rid!r} (first on line {first_line[rid]})",
                              path=str(path), line=line, fix="give every finding its own id")
        first_line[rid] = line
        if "themes" not in row:
            raise no_themes(path, line)
        if not_labelled_yet(row):
            records.unlabelled += 1
            continue
        themes = theme_list(row.get("themes"), path, line, taxonomy)
        judgement = judgement_value(row, "judgement", path, line)
        for key in TEXT_FIELDS:   # read as text by train (a section's words, the sentence before)
            text_value(row, key, path, line)
        if need_judgement and judgement is None:
            raise LabelsError("no judgement", path=str(path), line=line,
                              fix=f"add one of {', '.join(JUDGEMENTS)}")
        letter = str(row.get("letter_id") or rid.split("#")[0])
        extra = {k: v for k, v in row.items()
                 if k not in ("id", "letter_id", "text", "themes", "judgement")}
        records.append(LabelledFinding(rid, letter, text, themes, judgement, extra, line))
    if need_every_theme:
        present = {t for r in records for t in r.themes}
        missing = [t for t in taxonomy.ids if t not in present]
        if missing:
            raise LabelsError(f"no examples of theme(s) {', '.join(missing)}", path=str(path),
                              fix="label some findings with them, or remove the theme from "
                                  f"{taxonomy.path}")
    return records


# Two versions of the segmenter may give one finding's text with other spaces, hyphens
# or mended line breaks ("2013– 14" then "2013–14", U+202F then a space): a finding is
# known as labelled by its text with the reader's characters made plain, white space
# collapsed and none beside a hyphen or dash ("every day" and "everyday" stay apart).
_AROUND_DASH = re.compile(r" ?([-–—]) ?")


def text_key(text: str) -> str:
    """A finding's text as compared with the labelled ones."""
    return _AROUND_DASH.sub(r"\1", " ".join(str(text).translate(PLAIN).split()))


def sample_per_letter(findings: Iterable[dict], per_letter: int, seed: int) -> list[dict]:
    """``per_letter`` findings drawn at random within each letter (all if fewer).

    The draw for a letter depends only on the seed and the letter id, so adding
    letters does not change the samples of the others.
    """
    by_letter: dict[str, list[dict]] = {}
    for record in findings:
        by_letter.setdefault(record["letter_id"], []).append(record)
    chosen: list[dict] = []
    for letter in sorted(by_letter):
        items = by_letter[letter]
        rng = random.Random(f"{seed}:{letter}")
        picked = items if len(items) <= per_letter else rng.sample(items, per_letter)
        chosen.extend(sorted(picked, key=lambda r: r["id"]))
    return chosen
