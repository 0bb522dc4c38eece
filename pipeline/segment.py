"""Stage 1, segment: documents in, findings out (JSONL or CSV).

Each finding keeps its letter's metadata, its section and judgement, and its
character offsets into the letter's extracted text (``--texts`` writes it).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .ingest import Document, find_letters, read_document
from .judgement import judge_wording
from .letter import LetterInfo
from .outputs import atomic_text, counted, dumps, write_csv
from .parse import Finding, segment_text
from .progress import progress_bar

@dataclass
class Segmented:
    document: Document
    info: LetterInfo
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)


def segment_document(doc: Document, judge: Callable[[str], str] | None = judge_wording) -> Segmented:
    info, findings, warnings = segment_text(doc.text, judge)
    if not findings:
        warnings = warnings + ["no findings: is this an inspection letter or report?"]
    return Segmented(doc, info, findings, doc.warnings + warnings)


def letter_id(doc: Document) -> str:
    return LetterIds().assign(doc.source, doc.sha256)


FIELDS = ["id", "letter_id", "source", "kind", "authority", "letter_date", "inspection_start",
          "inspection_end", "inspector", "section", "subsection", "judgement", "judged_by", "grade",
          "unit",
          "paragraph", "text", "start", "end", "sha256"]


def finding_records(seg: Segmented, lid: str | None = None) -> Iterator[dict]:
    lid = lid or letter_id(seg.document)
    info = seg.info
    for f in seg.findings:
        yield {
            "id": f"{lid}#{f.index:04d}",
            "letter_id": lid,
            "source": seg.document.source,
            "kind": info.kind,
            "authority": info.authority,
            "letter_date": info.letter_date,
            "inspection_start": info.inspection_start,
            "inspection_end": info.inspection_end,
            "inspector": info.inspector,
            "section": f.section,
            "subsection": f.subsection,
            "judgement": f.judgement,
            "judged_by": f.judged_by,
            "grade": f.grade,
            "unit": f.unit,
            "paragraph": f.paragraph,
            "text": f.text,
            "start": f.start,
            "end": f.end,
            "sha256": seg.document.sha256,
        }


class LetterIds:
    """Letter ids unique within a run: the file name's stem, and where two
    files share a stem, the stem plus the start of the content hash."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, doc: Document) -> str:
        return self.assign(doc.source, doc.sha256)

    def assign(self, source: str, sha256: str) -> str:
        lid = re.sub(r"[^\w\-.]+", "_", Path(source).stem).strip("_") or sha256[:16]
        owner = self.seen.setdefault(lid, source)
        if owner != source:
            lid = f"{lid}-{sha256[:8]}"
            self.seen.setdefault(lid, source)
        return lid


def run_segment(paths: list[Path], out: Path, output_format: str = "jsonl",
                texts_dir: Path | None = None, progress: bool = True) -> str:
    """Segment letters into ``out``; return a one-line summary.

    The whole run fails on the first unreadable letter and leaves no output
    (``tag`` is the command for batches that should carry on past bad letters).
    """
    files = find_letters(paths)
    started = time.perf_counter()
    ids = LetterIds()
    records: list[dict] = []
    texts: list[tuple[str, str]] = []
    bar = progress_bar(files, total=len(files), desc="segment", enabled=progress)
    warnings: list[str] = []
    for path in bar:
        seg = segment_document(read_document(path))
        warnings += [f"{path}: {w}" for w in seg.warnings]
        lid = ids(seg.document)
        records.extend(finding_records(seg, lid))
        if texts_dir is not None:
            texts.append((lid, seg.document.text))
        bar.set_postfix(findings=len(records))
    if output_format == "csv":
        write_csv(out, records, FIELDS)
    else:
        with atomic_text(out) as handle:
            for record in records:
                handle.write(dumps(record) + "\n")
    if texts_dir is not None:
        texts_dir.mkdir(parents=True, exist_ok=True)
        for lid, text in texts:
            with atomic_text(texts_dir / f"{lid}.txt") as handle:
                handle.write(text)
    seconds = time.perf_counter() - started
    lines = [f"warning: {w}" for w in warnings]
    return "\n".join(lines + [f"segment: {counted(len(files), 'letter')}, {counted(len(records), 'finding')} -> {out} "
                               f"({seconds:.1f} s)"])
