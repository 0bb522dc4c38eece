"""Stage 1, segment: documents in, findings out (JSONL or CSV).

Each finding keeps its letter's metadata, its section and judgement, and its
character offsets into the letter's extracted text (``--texts`` writes it).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .ingest import Document, find_letters, read_document
from .judgement import judge_wording
from .letter import LetterInfo
from .errors import OutputError
from .outputs import check_output_folder, check_outputs, counted, csv_text, dumps, replace_together
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
        stem = re.sub(r"[^\w\-.]+", "_", Path(source).stem).strip("_") or sha256[:16]
        # the stem; then the stem and hash; then, for a copy of the same content under
        # the same name, a count: whichever no other file holds yet
        candidates = itertools.chain([stem, f"{stem}-{sha256[:8]}"],
                                     (f"{stem}-{sha256[:8]}-{n}" for n in itertools.count(2)))
        return next(lid for lid in candidates if self.seen.setdefault(lid, source) == source)


def run_segment(paths: list[Path], out: Path, output_format: str = "jsonl",
                texts_dir: Path | None = None, progress: bool = True) -> str:
    """Segment letters into ``out``; return a one-line summary.

    The whole run fails on the first unreadable letter and leaves no output
    (``tag`` is the command for batches that should carry on past bad letters).
    """
    check_outputs([("--out", out)])
    files = find_letters(paths)
    inputs = {os.path.realpath(f) for f in files}
    real_out = os.path.realpath(out)
    if real_out in inputs:
        raise OutputError("is one of the letters read", path=str(out),
                          fix="give another --out; the letters are never written over")
    if texts_dir is not None:
        check_output_folder(texts_dir, "--texts")
        real_texts = os.path.realpath(texts_dir)
        if real_texts == real_out or real_texts.startswith(real_out + os.sep):
            raise OutputError("is written by both --out and --texts", path=str(out),
                              fix="give --texts a folder apart from --out")
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
    findings_text = csv_text(records, FIELDS) if output_format == "csv" else "".join(
        dumps(record) + "\n" for record in records)
    outputs = {out: findings_text.encode("utf-8")}
    options = {out: "--out"}
    if texts_dir is not None:
        text_files = {texts_dir / f"{lid}.txt": text for lid, text in texts}
        for path in text_files:
            real = os.path.realpath(path)
            if real in inputs:
                raise OutputError("the extracted text would replace this letter", path=str(path),
                                  fix="give --texts a folder of its own")
            if real == real_out:
                raise OutputError("is --out and a letter's extracted text", path=str(out),
                                  fix="give --texts a folder of its own")
        outputs.update((path, text.encode("utf-8")) for path, text in text_files.items())
        options.update(dict.fromkeys(text_files, "--texts"))
    # the texts the findings' offsets index into: written with them, or none of them
    replace_together(outputs, option=options)
    seconds = time.perf_counter() - started
    lines = [f"warning: {w}" for w in warnings]
    return "\n".join(lines + [f"segment: {counted(len(files), 'letter')}, {counted(len(records), 'finding')} -> {out} "
                               f"({seconds:.1f} s)"])
