"""The retraining loop's labelling helpers.

- ``suggest``: rank unlabelled findings by how much labelling them would help
  (the model's uncertainty: scores near a theme's threshold) and export them
  to CSV for a spreadsheet.
- ``import``: read that CSV back into the gold labels, every row checked.
- ``audit``: gold labels that the out-of-fold model disagrees with strongly,
  likely labelling errors, for a second look.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, LabelsError
from .labelset import (implied_id, iter_rows, jsonl_rows, judgement_value, labelled_from, load_labelled,
                       no_themes, not_labelled_yet, text_key, text_value, theme_list)
from .outputs import atomic_text, counted, write_csv
from .surrogates import printable
from .themes import Taxonomy

# 'heading_judgement': the judgement the finding's heading gives (empty if none); an import
# keeps such a judgement as the heading's, out of the wording-judgement model's examples
SUGGEST_FIELDS = ["id", "letter_id", "source", "section", "subsection", "text", "context",
                  "suggested_themes", "themes", "judgement", "heading_judgement", "uncertainty"]


def uncertainty(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per finding: how close its closest theme score is to that theme's threshold
    (1 = on the threshold, 0 = as far as can be)."""
    distance = np.abs(proba - thresholds)
    scale = np.where(proba >= thresholds, 1 - thresholds, thresholds)
    return 1 - (distance / np.maximum(scale, 1e-9)).min(axis=1)


def run_suggest(tagger, records: Sequence[dict], gold_path: Path, out: Path, top: int,
                source: str | None = None) -> str:
    """Write the ``top`` unlabelled findings the model is least sure about to ``out`` (CSV).
    ``source`` names the letters or findings file the records come from, for errors."""
    taxonomy = tagger.taxonomy
    if not records:
        raise InputError("no findings to suggest from: the letters or findings file hold none", path=source,
                         fix="give letters with findings, or a findings file from 'segment'")
    labelled: set[str] = set()
    warning = ""
    if gold_path.exists():
        # by text, not by letter: a letter downloaded again under another file name
        # gets other ids, and its findings are labelled all the same
        labelled = {text_key(g.text) for g in load_labelled(gold_path, taxonomy)}
    else:
        # a first label set has no gold file yet; a mistyped --labels must not pass unseen
        warning = (f"warning: no gold labels at {gold_path}: no finding is left out as labelled "
                   "(give --labels the gold file if there is one)\n")
    keep = [i for i, r in enumerate(records) if text_key(r["text"]) not in labelled]
    if not keep:
        raise LabelsError("no unlabelled findings to suggest", path=str(gold_path),
                          fix="give new letters or findings; these are all labelled already")
    # scored among all their letter's findings: a sentence's paragraph and the sentence
    # before it are read as when tagging, labelled or not
    inputs, proba, _ = tagger.score(records)
    candidates, inputs, proba = [records[i] for i in keep], [inputs[i] for i in keep], proba[keep]
    thresholds = np.asarray(tagger.thresholds)
    score = uncertainty(proba, thresholds)
    order = sorted(range(len(candidates)), key=lambda i: (-score[i], candidates[i]["id"]))[:top]
    ids = list(taxonomy.ids)
    rows = []
    for i in order:
        r = candidates[i]
        suggested = [ids[j] for j in range(len(ids)) if proba[i, j] >= thresholds[j]]
        heading = r.get("judgement") if r.get("judged_by") == "heading" else None
        rows.append({"id": r["id"], "letter_id": r.get("letter_id"), "source": r.get("source"),
                     "section": r.get("section"), "subsection": r.get("subsection"), "text": r["text"],
                     "context": inputs[i]["context"] if inputs[i]["context"] != r["text"] else "",
                     "suggested_themes": ";".join(suggested), "themes": "", "judgement": "",
                     "heading_judgement": heading or "", "uncertainty": round(float(score[i]), 4)})
    write_csv(out, rows, SUGGEST_FIELDS)
    return warning + (f"suggest: {len(rows)} of {counted(len(candidates), 'unlabelled finding')}, most "
                      f"uncertain first -> {out} (fill in 'themes' as ';'-separated ids and 'judgement', "
                      f"then 'safeguarding-themes labels import {out}')")


def _clipped(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def run_import(table: Path, gold_path: Path, taxonomy: Taxonomy, replace: bool = False) -> str:
    """Add the labelled rows of ``table`` (CSV or JSONL) to the gold labels.

    Every row is checked (text, themes, judgement, duplicate ids) before anything
    is written; the gold file is replaced in one step. With ``replace``, a row whose
    id is labelled already relabels it in place: its themes (and judgement, where
    the row gives one) change, and everything else the label holds (its set, section,
    source, context) is kept.
    """
    gold_lines: list[str] = []
    if gold_path.suffix.lower() != ".jsonl":   # even a new one: written as JSONL, read by its name
        raise LabelsError("the gold labels must be a JSONL file", path=str(gold_path),
                          fix="give --labels the .jsonl file that train reads (labels/gold.jsonl)")
    if gold_path.exists():
        # checked as train reads it: a bad line is named before anything is added to it
        load_labelled(gold_path, taxonomy)
        # by line as load_labelled reads them (not splitlines: U+2028 in a text is no
        # line break), every line kept in its place: a label without an id is named by
        # its line number
        with open(gold_path, encoding="utf-8-sig") as handle:
            gold_lines = [line.removesuffix("\n") for line in handle]
    gold = dict(jsonl_rows(gold_lines, gold_path))
    existing = {implied_id(record, gold_path, n): n for n, record in gold.items()}
    # a text's label: (its id, its themes)
    by_text = {text_key(gold[n].get("text", "")): (rid, gold[n].get("themes")) for rid, n in existing.items()}
    seen: dict[str, int] = {}
    new: list[tuple[int, dict]] = []   # (table line, label)
    relabelled: dict[int, tuple[int, dict]] = {}   # gold line -> (table line, its new label)
    twins: list[tuple[str, int, str, bool]] = []
    skipped = 0
    for line, row in iter_rows(table):
        if "themes" not in row:
            raise no_themes(table, line)
        if not_labelled_yet(row):
            skipped += 1  # left for later
            continue
        text = text_value(row, "text", table, line)
        if not text:
            raise LabelsError("empty text", path=str(table), line=line, fix="keep the text column")
        rid = str(row.get("id") or "").strip()
        if not rid:
            raise LabelsError("row without id", path=str(table), line=line,
                              fix="keep the id column from 'suggest'")
        if rid in seen:
            raise LabelsError(f"duplicate id {rid!r} (first on line {seen[rid]})", path=str(table),
                              line=line, fix="label each finding once")
        seen[rid] = line
        if rid in existing:
            labelled_text = str(gold[existing[rid]].get("text") or "")
            if text_key(labelled_text) != text_key(text):
                # the id names a finding labelled already, but the row's text is another's:
                # a new letter saved under a labelled letter's file name, or a sorted sheet
                raise LabelsError(f"id {rid!r} is labelled already in {gold_path} with another text "
                                  f"({_clipped(labelled_text)!r})", path=str(table), line=line,
                                  fix="a label's text is not changed by an import: for a new letter "
                                      "saved under a labelled letter's file name, rename the file and "
                                      "run 'suggest' again; otherwise give the row its own text back")
            if not replace:
                raise LabelsError(f"id {rid!r} is already in {gold_path}", path=str(table), line=line,
                                  fix="use --replace to relabel it, or remove the row")
        if rid not in existing and "#" not in rid and not text_value(row, "letter_id", table, line):
            # train refuses labels that name no letter: one would only be found there
            raise LabelsError(f"row {rid!r} names no letter (no letter_id, and its id is not letter#n)",
                              path=str(table), line=line,
                              fix="add a letter_id column, or keep the ids from 'suggest'")
        themes = theme_list(row.get("themes"), table, line, taxonomy)   # none: a judgement alone
        judgement = judgement_value(row, "judgement", table, line)
        heading = judgement_value(row, "heading_judgement", table, line)
        judged_by = "annotator"
        if heading is not None and judgement in (None, heading):
            judgement, judged_by = heading, "heading"
        record = {"id": rid, "letter_id": text_value(row, "letter_id", table, line) or rid.split("#")[0],
                  "source": text_value(row, "source", table, line) or None,
                  "section": text_value(row, "section", table, line) or None,
                  "subsection": text_value(row, "subsection", table, line) or None,
                  "text": text, "themes": themes, "judgement": judgement,
                  "judged_by": judged_by, "set": "imported", "labelled_by": f"import:{printable(table.name)}"}
        context = text_value(row, "context", table, line)
        if context and context != text:
            record["context"] = context
        if rid in existing:
            old = gold[existing[rid]]
            record = {**old, "themes": themes, "labelled_by": record["labelled_by"]}
            if judgement is not None and judgement != old.get("judgement"):
                record.update(judgement=judgement, judged_by=judged_by)
            relabelled[existing[rid]] = (line, record)
            continue
        key = text_key(text)
        twin = by_text.get(key)
        if twin is not None:
            twins.append((rid, line, twin[0], twin[1] != themes))
        else:   # a second row of the table with this text is a twin of this one
            by_text[key] = (rid, themes)
        new.append((line, record))
    if not new and not relabelled:
        raise LabelsError("no labelled rows to import", path=str(table),
                          fix="fill in the 'themes' column (';'-separated theme ids)")
    # the gold file as it would be written, by line: a relabelled line in its place (a
    # diff of the gold file shows the change), the new after
    labels = {n: relabelled[n][1] if n in relabelled else record for n, record in gold.items()}
    from_table = {n: row for n, (row, _) in relabelled.items()}   # a line's row of the table
    for n, (row, record) in enumerate(new, start=len(gold_lines) + 1):
        labels[n], from_table[n] = record, row
    try:   # it must read as train reads it
        labelled_from(labels.items(), gold_path, taxonomy)
    except LabelsError as exc:
        raise LabelsError(f"the import would leave {gold_path} unreadable (its line {exc.line}: "
                          f"{exc.message}); nothing was written", path=str(table),
                          line=from_table.get(exc.line),
                          fix=exc.fix or "correct the row and import again") from None
    lines = [json.dumps(labels[n], ensure_ascii=False, sort_keys=True) if n in relabelled else line
             for n, line in enumerate(gold_lines, start=1)]
    lines += [json.dumps(record, ensure_ascii=False, sort_keys=True) for _, record in new]
    with atomic_text(gold_path) as handle:
        handle.write("".join(line + "\n" for line in lines))
    warning = ""
    if twins:
        rid, line, twin, _ = twins[0]
        differ = sum(d for *_, d in twins)
        warning = (f"warning: {counted(len(twins), 'row')} {'has' if len(twins) == 1 else 'have'} the text of "
                   f"a finding labelled under another id, already or in this table (e.g. {rid!r}, "
                   f"line {line}, and {twin!r}), "
                   f"{differ} with other themes: every label is kept; check that they agree\n")
    return (warning + f"labels import: {counted(len(new), 'labelled finding')} added and "
            f"{len(relabelled)} relabelled in {gold_path} ({counted(skipped, 'unlabelled row')} skipped)")


# 'themes' and 'judgement' are left empty for a correction ('labels import --replace')
AUDIT_FIELDS = ["id", "letter_id", "text", "gold_themes", "likely_missing", "likely_wrong",
                "disagreement", "themes", "judgement"]


def audit_rows(findings, Y: np.ndarray, proba: np.ndarray, themes: Sequence[str],
               high: float = 0.85, low: float = 0.1) -> list[dict]:
    """Findings where the out-of-fold model is confident against the gold label."""
    rows = []
    for i, finding in enumerate(findings):
        missing = [themes[j] for j in range(len(themes)) if not Y[i, j] and proba[i, j] >= high]
        wrong = [themes[j] for j in range(len(themes)) if Y[i, j] and proba[i, j] <= low]
        if missing or wrong:
            disagreement = float(np.max(np.abs(Y[i] - proba[i])))
            rows.append({"id": finding.id, "letter_id": finding.letter_id, "text": finding.text,
                         "gold_themes": ";".join(finding.themes),
                         "likely_missing": ";".join(f"{t} ({proba[i, themes.index(t)]:.2f})" for t in missing),
                         "likely_wrong": ";".join(f"{t} ({proba[i, themes.index(t)]:.2f})" for t in wrong),
                         "disagreement": round(disagreement, 4)})
    rows.sort(key=lambda r: (-r["disagreement"], r["id"]))
    return rows


def run_audit(labels: Path, out: Path, params: dict, folds: int, taxonomy: Taxonomy,
              patterns: Path, top: int | None = None) -> str:
    from .dataset import load_dataset
    from .evaluate import out_of_fold
    from .rules import RuleTagger, load_patterns
    from .train import theme_params

    rules = RuleTagger(load_patterns(patterns, taxonomy), taxonomy)
    data = load_dataset(labels, taxonomy, rules)
    oof = out_of_fold(data, taxonomy, theme_params(params), folds,
                      rules.tag([f.text for f in data.findings]))
    rows = audit_rows(data.findings, data.Y, oof["combined_proba"], list(taxonomy.ids))
    if top:
        rows = rows[:top]
    write_csv(out, rows, AUDIT_FIELDS)
    return (f"labels audit: {len(rows)} gold findings where the out-of-fold model disagrees "
            f"strongly -> {out} (read each against the guidelines; correct real errors only)")
