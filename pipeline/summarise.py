"""Stage: theme summaries of tagged findings.

Counts per theme and judgement, and the share of letters that mention each
theme, as CSV and JSON. (Per-authority and per-year tables, XLSX and the HTML
report are built on the same counts.)
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from .errors import InputError
from .judgement import JUDGEMENTS
from .labelset import iter_rows
from .outputs import write_csv, write_json
from .themes import Taxonomy


def read_tagged(path: Path) -> list[dict]:
    records = []
    for line, row in iter_rows(path):
        if "themes" not in row or "text" not in row:
            raise InputError("not a tagged finding (no 'themes' or 'text')", path=str(path), line=line,
                             fix="give the output of 'safeguarding-themes tag'")
        if isinstance(row["themes"], str):
            row["themes"] = [t for t in row["themes"].split(";") if t]
        records.append(row)
    return records


def theme_table(records: list[dict], taxonomy: Taxonomy) -> list[dict]:
    letters = {r.get("letter_id") for r in records}
    by_theme = {t: Counter() for t in taxonomy.ids}
    letters_with = defaultdict(set)
    for r in records:
        for theme in r["themes"]:
            if theme in by_theme:
                by_theme[theme][r.get("judgement") or "neutral"] += 1
                letters_with[theme].add(r.get("letter_id"))
    rows = []
    for theme in taxonomy.ids:
        counts = by_theme[theme]
        rows.append({"theme": theme, "name": taxonomy.name(theme),
                     **{j: counts.get(j, 0) for j in JUDGEMENTS},
                     "findings": sum(counts.values()),
                     "letters": len(letters_with[theme]),
                     "share_of_letters": round(len(letters_with[theme]) / len(letters), 4) if letters else 0.0})
    return rows


def run_summarise(tagged: Path, out_dir: Path, taxonomy: Taxonomy) -> str:
    records = read_tagged(tagged)
    rows = theme_table(records, taxonomy)
    write_csv(out_dir / "themes.csv", rows, list(rows[0].keys()))
    write_json(out_dir / "summary.json", {"findings": len(records),
                                           "letters": len({r.get("letter_id") for r in records}),
                                           "themes": rows})
    return f"summarise: {len(records)} findings -> {out_dir}"
