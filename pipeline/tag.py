"""Stage: tag findings with themes, each tag with its evidence.

Input is letters (segmented on the way) or a file of findings that are already
split (JSONL or CSV with a ``text`` column and optional ``id``). Every output
record is the finding's record plus ``themes`` (sorted), ``scores`` (per theme,
sorted keys), ``evidence`` (per theme: the spans that support it) and
``sources`` (per theme: which method decided it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import InputError
from .judgement import judge_wording
from .labelset import iter_rows
from .rules import RuleTagger
from .themes import Taxonomy

METHODS = ("rules",)


@dataclass
class Tagger:
    """Everything needed to tag: the taxonomy and the rule tagger."""
    taxonomy: Taxonomy
    rules: RuleTagger
    method: str = "rules"

    def tag_records(self, records: Sequence[dict]) -> list[dict]:
        """The records with themes, scores, evidence and sources added."""
        results = self.rules.tag([r["text"] for r in records])
        out = []
        for record, result in zip(records, results):
            themes = result.themes
            tagged = dict(record)
            tagged["themes"] = themes
            tagged["scores"] = {t: (1.0 if t in themes else 0.0) for t in sorted(self.taxonomy.ids)}
            tagged["evidence"] = {t: [e.as_dict() for e in result.evidence[t]] for t in themes}
            tagged["sources"] = {t: "rules" for t in themes}
            tagged["method"] = self.method
            out.append(tagged)
        return out


def read_findings_file(path: str | Path) -> list[dict]:
    """Findings already split (a spreadsheet of findings): JSONL or CSV with a
    ``text`` column; ``id`` kept when present, otherwise file stem and row."""
    path = Path(path)
    records = []
    for line, row in iter_rows(path):
        text = (row.get("text") or "").strip() if isinstance(row.get("text"), str) else ""
        if not text:
            raise InputError("row without text", path=str(path), line=line,
                             fix="every row needs the finding's text in a 'text' column")
        record = {k: v for k, v in row.items() if k not in ("themes", "scores", "evidence", "sources")}
        record["id"] = str(row.get("id") or f"{path.stem}#{line:04d}")
        record["text"] = text
        if "judgement" in record and record["judgement"]:
            record["judgement_given"] = record["judgement"]
        # No heading gives findings of a spreadsheet their judgement: read it from the words.
        record["judgement"] = judge_wording(text)
        record["judged_by"] = "wording"
        records.append(record)
    ids = [r["id"] for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"duplicate id {dup!r}", path=str(path),
                         fix="ids must be unique, or leave the id column out")
    return records


def build_tagger(taxonomy: Taxonomy, patterns_path: str | Path, method: str = "rules") -> Tagger:
    from .rules import load_patterns

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}", fix=f"use one of {', '.join(METHODS)}")
    return Tagger(taxonomy, RuleTagger(load_patterns(patterns_path, taxonomy), taxonomy), method)


def letter_records(paths: Iterable[str | Path]) -> Iterator[list[dict]]:
    """The finding records of each letter, letter by letter."""
    from .ingest import iter_input_files, read_document
    from .segment import LetterIds, finding_records, segment_document

    ids = LetterIds()
    for path in iter_input_files(list(paths)):
        seg = segment_document(read_document(path))
        yield list(finding_records(seg, ids(seg.document)))


TAG_FIELDS = ["id", "letter_id", "source", "kind", "authority", "letter_date", "section",
              "judgement", "judged_by", "grade", "text", "themes", "scores", "evidence", "sources",
              "start", "end"]


def run_tag(tagger: Tagger, out: Path, output_format: str = "jsonl",
            paths: Sequence[Path] = (), findings: Path | None = None,
            progress: bool = True) -> str:
    """Tag letters (``paths``) or a findings file into ``out``; a one-line summary."""
    from .outputs import atomic_text, dumps, write_csv
    from .progress import progress_bar

    if bool(paths) == bool(findings):
        raise InputError("give letters to tag or --findings FILE, not both or neither",
                         fix="see 'safeguarding-themes tag --help'")
    started = time.perf_counter()
    if findings is not None:
        batches: Iterable[list[dict]] = [read_findings_file(findings)]
        total = 1
        extra_fields = sorted({k for r in batches[0] for k in r} - set(TAG_FIELDS))
    else:
        from .ingest import iter_input_files

        files = list(iter_input_files(list(paths)))
        if not files:
            raise InputError("no letters found (.pdf, .txt, .docx, .html)",
                             path=", ".join(str(p) for p in paths),
                             fix="give files or folders that hold letters")
        batches = letter_records(files)
        total = len(files)
        extra_fields = []
    tagged: list[dict] = []
    bar = progress_bar(batches, total=total, desc="tag", enabled=progress)
    for records in bar:
        tagged.extend(tagger.tag_records(records))
        bar.set_postfix(findings=len(tagged))
    if output_format == "csv":
        write_csv(out, tagged, TAG_FIELDS + extra_fields)
    else:
        with atomic_text(out) as handle:
            for record in tagged:
                handle.write(dumps(record) + "\n")
    tags = sum(len(r["themes"]) for r in tagged)
    return (f"tag ({tagger.method}): {len(tagged)} findings, {tags} theme tags -> {out} "
            f"({time.perf_counter() - started:.1f} s)")
