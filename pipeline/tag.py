"""Stage: tag findings with themes, each tag with its evidence.

Input is letters (segmented on the way) or a file of findings that are already
split (JSONL or CSV with a ``text`` column and optional ``id``). Every output
record is the finding's record plus ``themes`` (sorted), ``scores`` (per theme,
sorted keys), ``evidence`` (per theme: the spans that support it) and
``sources`` (per theme: which method decided it).
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import InputError, OutputError
from .fastvec import TokenCache, transform_union
from .judgement import JUDGEMENTS, judge_wording, judgement_id
from .labelset import iter_rows
from .rules import RuleTagger
from .surrogates import printable
from .themes import Taxonomy

METHODS = ("combined", "rules")


@dataclass
class Tagger:
    """Everything needed to tag: taxonomy, rules and (for ``combined``) the models."""
    taxonomy: Taxonomy
    rules: RuleTagger
    method: str = "rules"
    model: object | None = None          # the theme Pipeline
    model_meta: dict | None = None
    judgement: object | None = None      # the judgement Pipeline, if it measured better
    judgement_meta: dict | None = None

    def tag_records(self, records: Sequence[dict]) -> list[dict]:
        """The records with themes, scores, evidence and sources added.

        Records of one letter come in order, so a sentence's paragraph and the
        sentence before it (which the model reads) are found among them.
        """
        if not records:
            return []
        results = self.rules.tag([r["text"] for r in records])
        out = [dict(r) for r in records]
        if self.method == "rules":
            for record, result in zip(out, results):
                themes = result.themes
                record["themes"] = themes
                record["scores"] = {t: (1.0 if t in themes else 0.0) for t in sorted(self.taxonomy.ids)}
                record["evidence"] = {t: [e.as_dict() for e in result.evidence[t]] for t in themes}
                record["sources"] = {t: "rules" for t in themes}
                record["method"] = self.method
            self._judge(out)
            return out

        cache = TokenCache()   # each text's words read once for both models
        inputs, proba, text_only, word_rows = self.score(records, results, with_words=True,
                                                         cache=cache)
        ids = list(self.taxonomy.ids)
        by_name = sorted(range(len(ids)), key=ids.__getitem__)
        thresholds = self.thresholds.tolist()
        for i, (record, result, model_input, row, plain) in enumerate(
                zip(out, results, inputs, proba.tolist(), text_only.tolist())):
            themes, evidence, sources = decide(self.model, ids, model_input, row, plain,
                                               result, thresholds, word_rows[i])
            record["themes"] = themes
            record["scores"] = {ids[j]: round(row[j], 4) for j in by_name}
            record["evidence"] = evidence
            record["sources"] = sources
            record["method"] = self.method
        self._judge(out, cache)
        return out

    @property
    def thresholds(self):
        return self.model.named_steps["classifier"].thresholds_

    def score(self, records: Sequence[dict], results=None, with_words: bool = False,
              cache: TokenCache | None = None):
        """Model inputs, calibrated scores and scores without the rules' contribution
        (and, ``with_words``, a function per finding giving its word features, for
        the evidence of model-only tags)."""
        from .dataset import model_record, section_of

        if results is None:
            results = self.rules.tag([r["text"] for r in records])
        contexts, previous = paragraph_context(records)
        inputs = [model_record(r["text"], c, p, section_of(r), res)
                  for r, c, p, res in zip(records, contexts, previous, results)]
        features = transform_union(self.model.named_steps["features"], inputs, cache)
        classifier = self.model.named_steps["classifier"]
        scored = (inputs, *classifier.proba_and_text_only(features))
        if not with_words:
            return scored
        # the word block is the first of the FeatureUnion's blocks
        features = features.tocsr()
        return (*scored, [functools.partial(_row, features, i) for i in range(features.shape[0])])

    @property
    def judges_by_model(self) -> bool:
        """Whether findings no heading judges get the judgement model's reading."""
        return (self.method != "rules" and self.judgement is not None
                and bool((self.judgement_meta or {}).get("use_model")))

    def _judge(self, records: list[dict], cache: TokenCache | None = None) -> None:
        """Judgement of findings no heading judges: the judgement model where it measured
        better, else the wording heuristic (where segmentation left it to the tagger)."""
        targets = [r for r in records if r.get("judged_by", "wording") == "wording"]
        if not targets:
            return
        if not self.judges_by_model:
            for record in targets:
                if not record.get("judgement"):
                    record["judgement"] = judge_wording(record["text"])
            return
        features = transform_union(self.judgement.named_steps["features"],
                                   [{"text": r["text"]} for r in targets], cache)
        predicted = self.judgement.named_steps["classifier"].predict(features)
        for record, judgement in zip(targets, predicted):
            record["judgement"] = str(judgement)
            record["judged_by"] = "model"


def _row(matrix, i: int):
    """Row ``i`` of a CSR matrix as (column indices, values), without a matrix for it."""
    start, end = matrix.indptr[i], matrix.indptr[i + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def decide(model, ids: Sequence[str], model_input: dict, proba, text_only, rule_result,
           thresholds, words_row=None) -> tuple[list[str], dict, dict]:
    """The combined tagger's themes for one finding, with evidence and sources: what
    `tag` writes and what `evaluate` measures.

    A theme is tagged when its calibrated score reaches its threshold. Its evidence is
    the rules' spans where a rule fired (source ``both`` if the model tags it without the
    rule features too, else ``rules``); otherwise the finding's words that weighed most
    for it (source ``model``). A theme no word of the finding speaks for (only its
    paragraph does) is not tagged: every tag must show its evidence."""
    from .model import explain

    themes, evidence, sources = [], {}, {}
    for j, theme in enumerate(ids):
        if proba[j] < thresholds[j]:
            continue
        if theme in rule_result.evidence:
            spans = [e.as_dict() for e in rule_result.evidence[theme]]
            sources[theme] = "both" if text_only[j] >= thresholds[j] else "rules"
        else:
            spans = [e.as_dict() for e in explain(model, model_input, j,
                                                  words_row=words_row() if words_row else None)]
            if not spans:
                continue
            sources[theme] = "model"
        themes.append(theme)
        evidence[theme] = spans
    return sorted(themes), {t: evidence[t] for t in sorted(evidence)}, {t: sources[t] for t in sorted(sources)}


def paragraph_context(records: Sequence[dict]) -> tuple[list[str | None], list[str | None]]:
    """For each sentence finding: its paragraph's text and the sentence before it."""
    paragraphs: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):
        if r.get("unit") == "sentence" and r.get("paragraph") is not None:
            paragraphs.setdefault((r.get("letter_id"), r["paragraph"]), []).append(i)
    contexts: list[str | None] = [r.get("context") for r in records]
    previous: list[str | None] = [r.get("previous") for r in records]
    for members in paragraphs.values():
        text = " ".join(records[i]["text"] for i in members)
        for n, i in enumerate(members):
            contexts[i] = text
            previous[i] = records[members[n - 1]]["text"] if n else ""
    return contexts, previous


def read_findings_file(path: str | Path, keep_judgement: bool = False) -> list[dict]:
    """Findings already split (a spreadsheet of findings): JSONL or CSV with a
    ``text`` column; ``id`` kept when present, otherwise file stem and row."""
    path = Path(path)
    records = []
    lines: dict[str, int] = {}
    for line, row in iter_rows(path):
        if row.get("text") is not None and not isinstance(row.get("text"), str):
            raise InputError(f"'text' must be a string, got {row.get('text')!r}", path=str(path), line=line,
                             fix='write the finding\'s words in quotes, e.g. "text": "..."')
        text = (row.get("text") or "").strip()
        if not text:
            raise InputError("row without text", path=str(path), line=line,
                             fix="every row needs the finding's text in a 'text' column")
        record = {k: v for k, v in row.items() if k not in ("themes", "scores", "evidence", "sources")}
        record["id"] = str(row.get("id") or f"{printable(path.stem)}#{line:04d}")
        if record["id"] in lines:
            raise InputError(f"duplicate id {record['id']!r} (first on line {lines[record['id']]})",
                             path=str(path), line=line, fix="ids must be unique, or leave the id column out")
        lines[record["id"]] = line
        record["text"] = text
        _check_context(record, path, line)
        if isinstance(record.get("judgement"), str) and judgement_id(record["judgement"]) in JUDGEMENTS:
            record["judgement"] = judgement_id(record["judgement"])   # "Priority action" as typed
        if keep_judgement and record.get("judgement") and record.get("judged_by"):
            records.append(record)  # findings from 'segment' keep their section's judgement
            continue
        if record.get("judgement") in JUDGEMENTS:
            record["judged_by"] = "given"  # the spreadsheet's own judgement is kept
            records.append(record)
            continue
        if record.get("judgement"):
            record["judgement_given"] = record["judgement"]
        # No heading gives findings of a spreadsheet their judgement: read it from the words.
        record["judgement"] = judge_wording(text)
        record["judged_by"] = "wording"
        records.append(record)
    return records


# fields the tagger reads besides the text: text, or a number read as its text
_CONTEXT_FIELDS = ("section", "subsection", "context", "previous", "unit", "judgement", "judged_by")


def _check_context(record: dict, path: Path, line: int) -> None:
    for key in _CONTEXT_FIELDS:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            record[key] = str(value)
        elif value is not None and not isinstance(value, str):
            raise InputError(f"'{key}' must be text, got {type(value).__name__}", path=str(path), line=line,
                             fix=f'write it in quotes, e.g. "{key}": "...", or leave it out')
    paragraph = record.get("paragraph")
    if paragraph is not None and (isinstance(paragraph, (bool, list, dict))):
        raise InputError(f"'paragraph' must be a number, got {type(paragraph).__name__}", path=str(path),
                         line=line, fix="give the paragraph's number, or leave it out")


def build_tagger(taxonomy: Taxonomy, patterns_path: str | Path, method: str = "combined",
                 models_dir: str | Path = "models") -> Tagger:
    from .artifacts import load_model
    from .rules import load_patterns
    from .train import JUDGEMENT_ARTIFACT, THEMES_ARTIFACT

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}", fix=f"use one of {', '.join(METHODS)}")
    rules = RuleTagger(load_patterns(patterns_path, taxonomy), taxonomy)
    if method == "rules":
        return Tagger(taxonomy, rules, method)
    models_dir = Path(models_dir)
    check_models(models_dir, taxonomy, patterns_path, verify=False)  # load_model verifies each file
    model, meta = load_model(models_dir / THEMES_ARTIFACT, expect_kind="themes")
    judgement, judgement_meta = None, None
    if (models_dir / JUDGEMENT_ARTIFACT).exists():
        judgement, judgement_meta = load_model(models_dir / JUDGEMENT_ARTIFACT, expect_kind="judgement")
    return Tagger(taxonomy, rules, method, model, meta, judgement, judgement_meta)


def check_models(models_dir: Path, taxonomy: Taxonomy, patterns: str | Path, verify: bool = True) -> None:
    """What every combined tagger needs of its models, checked without loading them:
    a theme model of this taxonomy trained with these patterns (their matches are its
    features), and a judgement model (where there is one) trained on the same labels;
    with ``verify``, each file's hash and library versions too."""
    from .artifacts import meta_path, read_meta, sha256_file, verify_artifact
    from .errors import ModelError
    from .train import JUDGEMENT_ARTIFACT, THEMES_ARTIFACT

    themes_path, judgement_path = models_dir / THEMES_ARTIFACT, models_dir / JUDGEMENT_ARTIFACT
    kinds = {themes_path: "themes", judgement_path: "judgement"}
    metas = {themes_path: read_meta(themes_path)}
    if not judgement_path.exists() and meta_path(judgement_path).exists():
        # train wrote one: tagging on with the wording heuristic would change judgements silently
        raise ModelError("judgement model missing (its metadata is there)", path=str(judgement_path),
                         fix="retrain with 'safeguarding-themes train' into this folder, or copy the "
                             "whole models folder again")
    if not judgement_path.exists() and metas[themes_path].get("judgement_model") == JUDGEMENT_ARTIFACT:
        # copied without it: the wording heuristic would judge in its place, silently
        raise ModelError(f"judgement model missing: {themes_path.name} was trained with one",
                         path=str(judgement_path),
                         fix="copy the whole models folder again, or retrain with 'safeguarding-themes train' "
                             "into this folder")
    if judgement_path.exists():
        metas[judgement_path] = read_meta(judgement_path)
    for path, meta in metas.items():
        if meta.get("kind") != kinds[path]:
            raise ModelError(f"not a {kinds[path]} model (kind {meta.get('kind')!r})", path=str(path),
                             fix="check the path")
        if verify:
            verify_artifact(path, meta)
    if list(metas[themes_path].get("themes", [])) != list(taxonomy.ids):
        raise ModelError(f"the model's themes differ from {taxonomy.path}", path=str(themes_path),
                         fix="retrain with 'safeguarding-themes train' after changing the taxonomy")
    if metas[themes_path].get("patterns_sha256") != sha256_file(patterns):
        raise ModelError(f"the model was trained with other patterns than {patterns}", path=str(themes_path),
                         fix="retrain with 'safeguarding-themes train' and these patterns, or tag with "
                             "--method rules to try the patterns alone")
    trained_on = {path: meta["training_data"].get("sha256") if isinstance(meta.get("training_data"), dict)
                  else None for path, meta in metas.items()}
    if len(set(trained_on.values())) > 1:
        raise ModelError(f"{judgement_path.name} was trained on other labels than {themes_path.name}",
                         path=str(judgement_path),
                         fix="retrain both with 'safeguarding-themes train' into this folder")


def letter_records(paths: Iterable[str | Path]) -> Iterator[list[dict]]:
    """The finding records of each letter, letter by letter."""
    from .ingest import iter_input_files, read_document
    from .segment import LetterIds, finding_records, segment_document

    ids = LetterIds()
    for path in iter_input_files(list(paths)):
        seg = segment_document(read_document(path))
        yield list(finding_records(seg, ids(seg.document)))


def findings_of(paths: Sequence[Path], findings: Path | None) -> list[dict]:
    """Every finding of the letters, or of a findings file (as 'segment' wrote it)."""
    if findings is not None:
        return read_findings_file(findings, keep_judgement=True)
    return [r for letter in letter_records(paths) for r in letter]


def check_inputs(paths: Sequence[Path], findings: Path | None, command: str = "tag") -> None:
    """Before any model is loaded: letters or a findings file, exactly one."""
    if bool(paths) == bool(findings):
        raise InputError("give letters or --findings FILE, not both or neither",
                         fix=f"see 'safeguarding-themes {command} --help'")


def run_tag_findings(tagger: Tagger, findings: Path, out: Path, output_format: str = "jsonl") -> str:
    """Tag a file of findings that are already split into ``out``; a one-line summary."""
    from .batch import TAG_FIELDS, errors_path, tagger_path
    from .outputs import counted, output_error, write_csv, write_jsonl

    if os.path.realpath(out) == os.path.realpath(findings):
        raise OutputError("is the findings file read", path=str(out),
                          fix="give another --out; the findings file is never written over")
    started = time.perf_counter()
    records = read_findings_file(findings, keep_judgement=True)
    # the file's other columns, in its order (then those read from it, such as judgement_given)
    extra_fields = list(dict.fromkeys(k for r in records for k in r if k not in TAG_FIELDS))
    tagged = tagger.tag_records(records)
    # a batch run's record of the tagger that made the output, and its list of failed
    # letters, would no longer be true (removed first: a failed write then leaves no
    # record, never a wrong one)
    try:
        tagger_path(out).unlink(missing_ok=True)
        errors_path(out).unlink(missing_ok=True)
    except OSError as exc:
        raise output_error(out, exc) from None
    if output_format == "csv":
        write_csv(out, tagged, TAG_FIELDS + extra_fields)
    else:
        write_jsonl(out, tagged)
    tags = sum(len(r["themes"]) for r in tagged)
    return (f"tag ({tagger.method}): {counted(len(tagged), 'finding')}, {counted(tags, 'theme tag')} -> {out} "
            f"({time.perf_counter() - started:.1f} s)")
