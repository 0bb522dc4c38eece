"""Labelled findings as training examples for the models.

Every example carries what the classifier reads: the finding's text, its
paragraph (``context``), its section heading, and the themes and rule ids that
the rules find in it (computed with the current patterns, never stored).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import LabelsError
from .labelset import LabelledFinding, implied_id, load_labelled
from .rules import RuleTagger
from .sentences import split_sentences
from .themes import Taxonomy

# Judgements a finding's wording can carry (a heading gives the others).
WORDING_JUDGEMENTS = ("strength", "development", "neutral")


@dataclass
class Dataset:
    findings: list[LabelledFinding]
    records: list[dict]          # model inputs
    Y: np.ndarray                # findings x themes, 0/1
    groups: list[str]            # letter of each finding (for grouped folds)
    sha256: str                  # of the labelled data the examples came from
    unlabelled: int = 0          # rows of the file not labelled yet (skipped)


_SENTENCE_STARTS = re.compile(r"[.!?][\"'’”)\]]*\s+")


def early_themes(text: str, rule_result, window: int = 40) -> list[str]:
    """Themes with evidence near the start of a sentence: what the sentence is about,
    rather than a passing mention."""
    starts = [0] + [m.end() for m in _SENTENCE_STARTS.finditer(text)]
    return sorted(theme for theme, spans in rule_result.evidence.items()
                  if any(0 <= e.start - s < window for e in spans for s in starts))


def model_record(text: str, context: str | None, previous: str | None, section: str | None,
                 rule_result) -> dict:
    """What the classifier reads of one finding."""
    evidence = rule_result.evidence
    return {
        "text": text,
        "context": context or text,
        "previous": previous or "",
        "section": section or "",
        "rule_ids": sorted({e.rule for spans in evidence.values() for e in spans}),
        "rule_early": early_themes(text, rule_result),
        "rule_multi": sorted(t for t, spans in evidence.items() if len({e.rule for e in spans}) > 1),
    }


def previous_sentence(text: str, context: str | None) -> str:
    """The sentence before ``text`` in its paragraph, if it is one."""
    if not context:
        return ""
    sentences = split_sentences(context)
    for i, sentence in enumerate(sentences):
        if sentence.strip() == text.strip():
            return sentences[i - 1] if i else ""
    return ""


def section_of(record: dict) -> str:
    """Section and subsection headings together, as the model reads them."""
    return " ".join(x for x in (record.get("section"), record.get("subsection")) if x)


def labelled_hash(findings: Sequence[LabelledFinding]) -> str:
    """sha256 of the labelled data as the models use it, in the order they read it
    (the order changes the fitted numbers in their last digits): ids, letters, texts,
    themes, judgements and who judged them, context and headings."""
    digest = hashlib.sha256()
    for f in findings:
        digest.update(json.dumps([f.id, f.letter_id, f.text, f.themes, f.judgement, f.extra.get("judged_by"),
                                  f.extra.get("context"), section_of(f.extra)],
                                 ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def names_its_letter(finding: LabelledFinding, path: str | Path) -> bool:
    """Whether a label says which letter it is from: by a letter_id of its own, or an id
    "letter#n". Without either, its id ("7") or the file's name and line ("gold#7") stood
    for the letter, and every finding was a letter of its own, or all one letter."""
    letter_of_id, hash_mark, _ = finding.id.partition("#")
    if finding.letter_id != letter_of_id:
        return True
    return bool(hash_mark) and finding.id != implied_id({}, path, finding.line or 0)


def load_dataset(path: str | Path, taxonomy: Taxonomy, rules: RuleTagger,
                 min_examples: int = 2) -> Dataset:
    findings = load_labelled(path, taxonomy)
    if not findings:
        raise LabelsError("no labelled findings", path=str(path), fix="add labelled findings")
    counts = {t: sum(t in f.themes for f in findings) for t in taxonomy.ids}
    missing = [t for t, n in counts.items() if n < min_examples]
    if missing:
        raise LabelsError(f"too few examples of theme(s) {', '.join(missing)} "
                          f"(need {min_examples} each)", path=str(path),
                          fix=f"label more findings with them, or remove them from {taxonomy.path}")
    # calibration and thresholds are learnt on letters held out in turn: with every example
    # in one letter, the model never sees one where it is scored, and learns to never tag it
    # (train, evaluate and labels audit all read labels here, so this is their one check)
    unnamed = [f for f in findings if not names_its_letter(f, path)]
    if unnamed:
        raise LabelsError(f"a finding that names no letter (no 'letter_id', and no 'id' of the form "
                          f"letter#n; {len(unnamed)} of {len(findings)} name none)", path=str(path),
                          line=unnamed[0].line,
                          fix="add each finding's letter_id: the model is calibrated, and evaluated, "
                              "on letters held out, and findings of one letter must stay together")
    if len({f.letter_id for f in findings}) < 2:
        raise LabelsError("all the labelled findings come from one letter", path=str(path),
                          fix="label findings of at least 2 letters: the model is calibrated, and "
                              "evaluated, on letters held out")
    letters = {t: {f.letter_id for f in findings if t in f.themes} for t in taxonomy.ids}
    one_letter = [t for t in taxonomy.ids if len(letters[t]) < 2]
    if one_letter:
        examples = ", ".join(f"{t} (all in {next(iter(letters[t]))})" for t in one_letter)
        raise LabelsError(f"the examples of theme(s) {examples} come from one letter; a model "
                          "trained on them would never tag the theme", path=str(path),
                          fix=f"label findings of another letter with them, or remove them from "
                              f"{taxonomy.path}")
    # a theme every finding has cannot be told apart: calibration would give it 1.0
    everywhere = [t for t, n in counts.items() if len(findings) - n < min_examples]
    if everywhere:
        raise LabelsError(f"too few findings without theme(s) {', '.join(everywhere)} "
                          f"(need {min_examples} each)", path=str(path),
                          fix="label findings that are not about them too")
    results = rules.tag([f.text for f in findings])
    records = [model_record(f.text, f.extra.get("context"),
                            previous_sentence(f.text, f.extra.get("context")), section_of(f.extra), r)
               for f, r in zip(findings, results)]
    Y = np.array([[t in f.themes for t in taxonomy.ids] for f in findings], dtype=int)
    return Dataset(findings, records, Y, [f.letter_id for f in findings], labelled_hash(findings),
                   findings.unlabelled)


def judgement_examples(data: Dataset) -> tuple[list[dict], list[str], list[str]]:
    """The findings whose judgement a reader took from the wording (no heading)."""
    records, labels, groups = [], [], []
    for finding, record in zip(data.findings, data.records):
        judged_by = finding.extra.get("judged_by", "annotator")
        if finding.judgement in WORDING_JUDGEMENTS and judged_by != "heading":
            records.append(record)
            labels.append(finding.judgement)
            groups.append(finding.letter_id)
    return records, labels, groups
