"""Stage: theme summaries of tagged findings, in the forms analysts use.

Tables (each as CSV, and together as one XLSX with a sheet per table):

- ``themes``: per theme, findings by judgement and the share of letters citing it;
- ``authority_theme``: per local authority, findings per theme;
- ``year_theme``: per year of the letter, findings per theme and letters;
- ``typical_findings``: per theme, its most typical findings with their evidence.

The same figures as JSON, a Markdown report, and a self-contained HTML report
(one file: inline SVG charts and styles, no script, no network).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Sequence

from .errors import InputError, ParamsError
from .judgement import JUDGEMENTS
from .labelset import iter_rows
from .outputs import atomic_path, counted, write_csv, write_json
from .themes import Taxonomy

UNKNOWN = "(not stated)"
TABLES = ("themes", "authority_theme", "year_theme", "typical_findings")


# ----------------------------------------------------------------- reading and filters

def read_tagged(path: Path) -> list[dict]:
    """The tagged findings (JSONL or CSV from 'tag')."""
    import json

    if Path(path).suffix.lower() not in (".jsonl", ".json", ".csv", ".ndjson"):
        raise InputError(f"cannot read a {Path(path).suffix or 'file without extension'} file here",
                         path=str(path), fix="give the JSONL or CSV output of 'safeguarding-themes tag'")
    records = []
    for line, row in iter_rows(path):
        if "themes" not in row or "text" not in row:
            raise InputError("not a tagged finding (no 'themes' or 'text')", path=str(path), line=line,
                             fix="give the output of 'safeguarding-themes tag'")
        if row["themes"] is None:
            row["themes"] = []
        if isinstance(row["themes"], str):
            row["themes"] = [t for t in row["themes"].split(";") if t]
        if not isinstance(row["themes"], list) or not all(isinstance(t, str) for t in row["themes"]):
            raise InputError("'themes' is not a list of theme ids", path=str(path), line=line,
                             fix="give the output of 'safeguarding-themes tag'")
        for key in ("scores", "evidence"):
            if isinstance(row.get(key), str):
                try:
                    row[key] = json.loads(row[key]) if row[key] else {}
                except ValueError:
                    raise InputError(f"column '{key}' is not JSON", path=str(path), line=line,
                                     fix="give the output of 'safeguarding-themes tag'") from None
        row["_line"] = line
        records.append(row)
    return records


def parse_day(value: str, end: bool, option: str) -> date:
    """2019, 2019-06 or 2019-06-30; a year or month given alone covers all its days."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value.strip())
    try:
        if not match:
            raise ValueError
        year, month, day = int(match[1]), match[2], match[3]
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            first = date(year, int(month), 1)   # checks the month
            if not end:
                return first
            following = date(year + int(month) // 12, int(month) % 12 + 1, 1)
            return date.fromordinal(following.toordinal() - 1)
        return date(year, int(month), int(day))
    except ValueError:
        raise ParamsError(f"{option} {value!r} is not a date",
                          fix="give YYYY, YYYY-MM or YYYY-MM-DD, e.g. --since 2019-04") from None


@dataclass
class Filters:
    authorities: Sequence[str] = ()
    kinds: Sequence[str] = ()
    judgements: Sequence[str] = ()
    since: str | None = None
    until: str | None = None

    def describe(self) -> dict:
        return {"authority": sorted(self.authorities), "kind": sorted(self.kinds),
                "judgement": sorted(self.judgements), "since": self.since, "until": self.until}

    def apply(self, records: Iterable[dict]) -> tuple[list[dict], dict[str, dict], int]:
        """The findings kept, and the letters in scope: those that pass the letter
        filters (authority, kind, dates), whatever their findings' judgements, so that
        a share of letters keeps its meaning under --judgement; and how many findings
        the other filters kept that a date filter left out for having no date."""
        judgements = {j.strip().lower() for j in self.judgements}   # case aside, as the others
        for judgement in sorted(judgements):
            if judgement not in JUDGEMENTS:
                raise ParamsError(f"--judgement {judgement!r} is not a judgement",
                                  fix=f"use one of {', '.join(JUDGEMENTS)}")
        since = parse_day(self.since, False, "--since") if self.since else None
        until = parse_day(self.until, True, "--until") if self.until else None
        if since and until and since > until:
            raise ParamsError(f"--since {self.since} is after --until {self.until}",
                              fix="swap them, or check the years")
        authorities = {a.strip().lower() for a in self.authorities}
        kinds = {k.strip().lower() for k in self.kinds}
        kept: list[dict] = []
        scope: dict[str, dict] = {}   # letter -> one of its findings (for its authority, year)
        undated = 0
        for r in records:
            if authorities and (r.get("authority") or "").strip().lower() not in authorities:
                continue
            if kinds and (r.get("kind") or "").lower() not in kinds:
                continue
            judged = not judgements or judgement_of(r) in judgements
            if since or until:
                day = letter_day(r)
                if day is None or (since and day < since) or (until and day > until):
                    undated += day is None and judged
                    continue
            scope.setdefault(letter_of(r), r)
            if judged:
                kept.append(r)
        return kept, scope, undated


def judgement_of(record: dict) -> str:
    """The finding's judgement; one the taxonomy of judgements does not know counts as neutral."""
    judgement = record.get("judgement")
    return judgement if judgement in JUDGEMENTS else "neutral"


def letter_day(record: dict) -> date | None:
    """The letter's date; for a report, which states only when the inspection was,
    its last day (then its first)."""
    for key in ("letter_date", "inspection_end", "inspection_start"):
        try:
            return date.fromisoformat(str(record.get(key) or "")[:10])
        except ValueError:
            continue
    return None


def year_of(record: dict) -> str:
    day = letter_day(record)
    return str(day.year) if day else UNKNOWN


def letter_of(record: dict) -> str:
    """The letter a finding is from; a finding that names none (a spreadsheet row
    tagged with --findings, without a letter_id column) counts as a letter of its own."""
    return str(record.get("letter_id") or record.get("source") or f"#{record.get('id', '')}")


# ----------------------------------------------------------------- tables

@dataclass
class Summary:
    taxonomy: Taxonomy
    records: list[dict]
    filters: dict
    scope: dict = field(default_factory=dict)   # letters that pass the letter filters
    undated_left_out: int = 0   # findings a date filter left out for having no date
    themes: list[dict] = field(default_factory=list)
    authority_theme: list[dict] = field(default_factory=list)
    year_theme: list[dict] = field(default_factory=list)
    typical_findings: list[dict] = field(default_factory=list)

    @property
    def letters(self) -> int:
        return len(self.scope)

    def tables(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in TABLES}


def theme_table(records: list[dict], taxonomy: Taxonomy, letters: set[str] | None = None) -> list[dict]:
    """Per theme: findings by judgement, and the letters (of ``letters``, all letters
    in scope) with at least one finding on it."""
    letters = {letter_of(r) for r in records} if letters is None else letters
    by_theme = {t: Counter() for t in taxonomy.ids}
    letters_with = defaultdict(set)
    for r in records:
        for theme in r["themes"]:
            if theme in by_theme:
                by_theme[theme][judgement_of(r)] += 1
                letters_with[theme].add(letter_of(r))
    rows = []
    for theme in taxonomy.ids:
        counts = by_theme[theme]
        rows.append({"theme": theme, "name": taxonomy.name(theme),
                     **{j: counts.get(j, 0) for j in JUDGEMENTS},
                     "findings": sum(counts.values()),
                     "letters": len(letters_with[theme]),
                     "share_of_letters": round(len(letters_with[theme]) / len(letters), 4) if letters else 0.0})
    return rows


def cross_table(records: list[dict], taxonomy: Taxonomy, key: str, value,
                scope: dict[str, dict] | None = None) -> list[dict]:
    """Per value of ``key`` (authority, year): its letters in scope, its findings, and
    its findings per theme."""
    findings: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    letters: dict[str, set] = defaultdict(set)
    for letter, r in (scope or {letter_of(r): r for r in records}).items():
        letters[value(r)].add(letter)
    for r in records:
        k = value(r)
        totals[k] += 1
        for theme in r["themes"]:
            findings[k][theme] += 1
    rows = []
    for k in sorted(set(totals) | set(letters), key=lambda x: (x == UNKNOWN, x)):
        rows.append({key: k, "letters": len(letters[k]), "findings": totals[k],
                     **{t: findings[k].get(t, 0) for t in taxonomy.ids}})
    return rows


def typical_findings(records: list[dict], taxonomy: Taxonomy, per_theme: int) -> list[dict]:
    """Per theme, the findings it is most surely about (highest score), one per letter
    so that one letter's repeated wording does not fill the list."""
    rows = []
    for theme in taxonomy.ids:
        tagged = [r for r in records if theme in r["themes"]]
        tagged.sort(key=lambda r: (-float((r.get("scores") or {}).get(theme, 1.0)), str(r.get("id"))))
        seen: set[str] = set()
        rank = 0
        for r in tagged:
            if letter_of(r) in seen:
                continue
            seen.add(letter_of(r))
            rank += 1
            spans = (r.get("evidence") or {}).get(theme) or []
            rows.append({"theme": theme, "rank": rank, "id": r.get("id"), "letter_id": r.get("letter_id"),
                         "authority": r.get("authority"), "letter_date": r.get("letter_date"),
                         "judgement": r.get("judgement"),
                         "score": round(float((r.get("scores") or {}).get(theme, 1.0)), 4),
                         "evidence": "; ".join(str(s.get("text", "")) for s in spans),
                         "text": r.get("text"), "_spans": spans})
            if rank == per_theme:
                break
    return rows


def summarise(records: list[dict], taxonomy: Taxonomy, filters: Filters,
              per_theme: int = 5) -> Summary:
    kept, scope, undated = filters.apply(records)
    summary = Summary(taxonomy, kept, filters.describe(), scope, undated)
    summary.themes = theme_table(kept, taxonomy, set(scope))
    summary.authority_theme = cross_table(kept, taxonomy, "authority",
                                          lambda r: (r.get("authority") or UNKNOWN), scope)
    summary.year_theme = cross_table(kept, taxonomy, "year", year_of, scope)
    summary.typical_findings = typical_findings(kept, taxonomy, per_theme)
    return summary


# ----------------------------------------------------------------- writing

def public(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


def write_xlsx(path: Path, tables: dict[str, list[dict]]) -> None:
    """One sheet per table, header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in tables.items():
        sheet = workbook.create_sheet(name)
        columns = list(rows[0].keys()) if rows else ["(no rows)"]
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
            for cell in sheet[sheet.max_row]:
                _as_text(cell)
        for i, column in enumerate(columns, 1):
            width = max([len(str(column))] + [min(len(str(row.get(column) or "")), 80) for row in rows[:200]])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = width + 2
    # the same figures give the same bytes: fixed document dates and zip entry times
    fixed = datetime(2000, 1, 1)
    workbook.properties.created = workbook.properties.modified = fixed
    buffer = io.BytesIO()
    workbook.save(buffer)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                entry = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                data = source.read(item.filename)
                if item.filename == "docProps/core.xml":  # openpyxl stamps the time of saving
                    data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
                target.writestr(entry, data)


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _cell(value):
    # Excel refuses control characters
    return _ILLEGAL_XLSX.sub(" ", value) if isinstance(value, str) else value


def _as_text(cell) -> None:
    """Text that Excel (or openpyxl, for "=") would read as a formula stays text: a
    string cell with Excel's quote prefix, the text itself unchanged."""
    if isinstance(cell.value, str) and cell.value[:1] in ("=", "+", "-", "@"):
        cell.data_type = "s"
        cell.quotePrefix = True


def run_summarise(tagged: Path, out_dir: Path, taxonomy: Taxonomy, filters: Filters | None = None,
                  per_theme: int = 5) -> str:
    from .report import render_html, render_markdown

    records = read_tagged(tagged)
    if not records:
        raise InputError("no tagged findings in the file", path=str(tagged),
                         fix="tag some letters first with 'safeguarding-themes tag'")
    summary = summarise(records, taxonomy, filters or Filters(), per_theme)
    if not summary.records:
        raise InputError(f"no finding matches the filters ({describe_filters(summary.filters)})",
                         path=str(tagged), fix=_absent_values(records, filters or Filters())
                         or "widen the filters; authority and kind are matched exactly, case aside")
    tables = {name: public(rows) for name, rows in summary.tables().items()}
    for name, rows in tables.items():
        columns = list(rows[0].keys()) if rows else ["theme"]
        write_csv(out_dir / f"{name}.csv", rows, columns)
    write_xlsx(out_dir / "summary.xlsx", tables)
    write_json(out_dir / "summary.json", {
        "source": str(tagged), "filters": summary.filters, "findings": len(summary.records),
        "letters": summary.letters,
        "themes_tagged": sum(len(r["themes"]) for r in summary.records),
        **tables})
    from .outputs import atomic_text

    with atomic_text(out_dir / "report.md") as handle:
        handle.write(render_markdown(summary, str(tagged)))
    with atomic_text(out_dir / "report.html") as handle:
        handle.write(render_html(summary, str(tagged)))
    unnamed = sum(not (r.get("letter_id") or r.get("source")) for r in summary.records)
    if filters and (filters.since or filters.until):
        undated = summary.undated_left_out
        dates = f"{undated} findings have no date: left out by --since/--until"
    else:
        undated = sum(letter_day(r) is None for r in summary.records)
        dates = f"{undated} findings from letters with no date, counted as year {UNKNOWN}"
    notes = ([dates] if undated else []) + \
        ([f"{counted(unnamed, 'finding')} {'names' if unnamed == 1 else 'name'} no letter (no letter_id or source): "
          "each counted as a letter"]
         if unnamed else [])
    return "".join(f"warning: {n}\n" for n in notes) + (
        f"summarise: {counted(len(summary.records), 'finding')} from {counted(summary.letters, 'letter')} -> {out_dir} "
        f"(CSV, summary.xlsx, summary.json, report.md, report.html)")


def _absent_values(records: list[dict], filters: Filters) -> str:
    """For a filter that matched nothing: the values the file does have."""
    notes = []
    for option, field_name, wanted in (("--authority", "authority", filters.authorities),
                                       ("--kind", "kind", filters.kinds)):
        present = sorted({str(r.get(field_name)) for r in records if r.get(field_name)})
        missing = [w for w in wanted if w.strip().lower() not in {p.strip().lower() for p in present}]
        if missing:
            shown = ", ".join(present[:12]) + (f" and {len(present) - 12} more" if len(present) > 12 else "")
            notes.append(f"no {option} {', '.join(missing)} in the file; it has: {shown or 'none'}")
    if (filters.since or filters.until) and all(letter_day(r) is None for r in records):
        notes.append("no finding of the file has a date (a CSV from 'tag' has no inspection dates: "
                     "summarise its JSONL)")
    return "; ".join(notes)


def describe_filters(filters: dict) -> str:
    """The filters used, for messages and reports ("none" without any)."""
    parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in filters.items() if v]
    return "; ".join(parts) or "none"
