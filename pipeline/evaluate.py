"""Stage: cross-validated evaluation, grouped by letter.

No letter has findings in both the training and the test folds. Three systems
are scored per theme and on average: the rules alone, the model alone (text
features only) and the combined tagger (text and rule features). The judgement
classifier is scored against the wording heuristic on the findings whose
judgement a reader took from the wording. Outputs are a metrics JSON and plot
data that ``dvc metrics`` and ``dvc plots`` read, and a Markdown table.

The rules were written and refined while looking at the gold labels, so their
scores here (and the share of the combined tagger's that comes from them) are
not held out in the way the model's are; labels/README.md gives the rules'
figure on labels they had never seen.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from .dataset import Dataset, judgement_examples, load_dataset
from .errors import LabelsError
from .fastvec import transform_union
from .metrics import theme_scores
from .model import fit_pipeline
from .outputs import json_text, replace_together
from .rules import RuleTagger, load_patterns
from .themes import Taxonomy
from .train import CannotCompare, compare_judgement, judgement_settings, theme_params

# written to the --plots folder (for "dvc plots")
PLOT_FILES = ("per_theme.json", "calibration.json")

SYSTEMS = ("rules", "model", "combined")


def out_of_fold(data: Dataset, taxonomy: Taxonomy, params: dict, folds: int,
                rule_results: list, progress=None, groups: list[str] | None = None) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities and decisions of the model alone and of the combined
    tagger; the combined decisions are made as `tag` makes them (``tag.decide``).
    The folds are by ``groups`` (default: ``letter_groups(data)``)."""
    from .tag import decide

    n, k = data.Y.shape
    outputs = {name: np.zeros((n, k)) for name in
               ("model_proba", "model_pred", "combined_proba", "combined_pred")}
    settings = {"model": {**params, "rule_features": False}, "combined": {**params, "rule_features": True}}
    groups = letter_groups(data) if groups is None else groups
    splits = list(GroupKFold(n_splits=min(folds, len(set(groups)))).split(data.records, data.Y, groups))
    ids = list(taxonomy.ids)
    for fold, (train, test) in enumerate(splits):
        for name, setting in settings.items():
            pipeline = fit_pipeline([data.records[i] for i in train], data.Y[train],
                                    [data.groups[i] for i in train], taxonomy.ids, setting)
            test_records = [data.records[i] for i in test]
            classifier = pipeline.named_steps["classifier"]
            features = transform_union(pipeline.named_steps["features"], test_records)
            proba = classifier.predict_proba(features)
            outputs[f"{name}_proba"][test] = proba
            if name == "model":
                outputs["model_pred"][test] = proba >= classifier.thresholds_
                continue
            text_only = classifier.text_only_proba(features)
            for row, i in enumerate(test):
                themes, _, _ = decide(pipeline, ids, data.records[i], proba[row], text_only[row],
                                      rule_results[i], classifier.thresholds_)
                outputs["combined_pred"][i] = [t in themes for t in ids]
        if progress:
            progress(fold + 1, len(splits))
    return outputs


SAME_LETTER_FINDINGS = 3   # identical findings that make two letters one (a phrase or two is chance)


def letter_groups(data: Dataset) -> list[str]:
    """Each finding's letter for the outer folds, where letters that share several
    identical findings count as one (a joint visit to two authorities gave two letters
    with the same findings): a test fold must not have its findings in the training
    folds. If that left fewer than two groups, the letters themselves are used."""
    letters_of: dict[str, set[str]] = {}
    for finding in data.findings:
        letters_of.setdefault(" ".join(finding.text.lower().split()), set()).add(finding.letter_id)
    shared: dict[tuple[str, str], int] = {}
    for letters in letters_of.values():
        ordered = sorted(letters)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                shared[a, b] = shared.get((a, b), 0) + 1
    parent: dict[str, str] = {}

    def root(letter: str) -> str:
        while parent.setdefault(letter, letter) != letter:
            letter = parent[letter]
        return letter

    for (a, b), count in sorted(shared.items()):
        if count >= SAME_LETTER_FINDINGS:
            first, second = sorted((root(a), root(b)))
            parent[second] = first
    groups = [root(letter) for letter in data.groups]
    return groups if len(set(groups)) >= 2 else list(data.groups)


def _as_lists(matrix: np.ndarray, themes) -> list[list[str]]:
    return [[themes[j] for j in np.flatnonzero(row)] for row in matrix]


def run_evaluate(labels: Path, metrics_path: Path, plots_dir: Path, report_path: Path | None,
                 params: dict, folds: int, taxonomy: Taxonomy, patterns: Path,
                 progress=None, held_out_set: str | list[str] | None = None) -> str:
    started = time.perf_counter()
    rules = RuleTagger(load_patterns(patterns, taxonomy), taxonomy)
    data = load_dataset(labels, taxonomy, rules)
    held_out_sets = set_names(held_out_set)
    held_out_rows = held_out_findings(data, held_out_sets, labels)
    rule_results = rules.tag([f.text for f in data.findings])
    groups = letter_groups(data)
    # as many folds as asked where there are letters enough: the figures record the folds run
    folds = min(folds, len(set(groups)))
    oof = out_of_fold(data, taxonomy, theme_params(params), folds, rule_results, progress, groups)
    gold = [f.themes for f in data.findings]
    predictions = {
        "rules": [r.themes for r in rule_results],
        "model": _as_lists(oof["model_pred"], taxonomy.ids),
        "combined": _as_lists(oof["combined_pred"], taxonomy.ids),
    }
    scores = {name: theme_scores(gold, predicted, taxonomy.ids) for name, predicted in predictions.items()}
    held_out = None
    if held_out_rows:
        held_out = _held_out_scores(data, gold, predictions, taxonomy, held_out_sets, held_out_rows)

    records, judgements, letters = judgement_examples(data)
    group_of = dict(zip(data.groups, groups))
    try:
        judgement = compare_judgement(records, judgements, [group_of[letter] for letter in letters],
                                      judgement_settings(params), folds)
    except CannotCompare as reason:
        judgement = {"findings": len(judgements), "not_compared": str(reason)}

    metrics = {
        "findings": len(data.findings),
        "letters": len(set(data.groups)),
        "folds": folds,
        **{name: {"micro_f1": s[1]["f1"], "micro_precision": s[1]["precision"],
                  "micro_recall": s[1]["recall"], "macro_f1": s[2]["f1"]}
           for name, s in scores.items()},
        "judgement": {k: judgement[k] for k in ("findings", "model_accuracy", "heuristic_accuracy",
                                                "not_compared") if k in judgement},
    }
    if held_out is not None:
        metrics["held_out"] = held_out
    per_theme = [{"theme": theme, "system": name, "f1": s[0][theme]["f1"],
                  "precision": s[0][theme]["precision"], "recall": s[0][theme]["recall"],
                  "support": s[0][theme]["support"]}
                 for name, s in scores.items() for theme in taxonomy.ids]
    per_theme_file, calibration_file = PLOT_FILES
    files = {Path(metrics_path): ("--metrics", json_text(metrics)),
             Path(plots_dir) / per_theme_file: ("--plots", json_text(per_theme)),
             Path(plots_dir) / calibration_file:
                 ("--plots", json_text(calibration_points(oof["combined_proba"], data.Y)))}
    if report_path is not None:
        files[Path(report_path)] = ("--report", render_report(metrics, scores, taxonomy))
    # one run's metrics, plot data and report: a failure (a full disk) leaves the last
    # run's, all of them, never this run's metrics beside the last run's report
    replace_together({path: text.encode("utf-8") for path, (_, text) in files.items()},
                     option={path: option for path, (option, _) in files.items()})
    seconds = time.perf_counter() - started
    c = metrics["combined"]
    apart = (f"; on {_sets_named(held_out['sets'])} combined micro-F1 {held_out['combined']['micro_f1']:.3f}"
             if held_out else "")
    skipped = (f"warning: the findings of {labels} name no labelling set ('set'): no figures apart for "
               f"{', '.join(map(repr, held_out_sets))} (evaluate.held_out_set)\n"
               if held_out_sets and not held_out else "")
    return skipped + (f"evaluate: {len(data.findings)} findings, {folds} folds grouped by letter; combined "
            f"micro-F1 {c['micro_f1']:.3f} macro-F1 {c['macro_f1']:.3f} (rules "
            f"{metrics['rules']['macro_f1']:.3f}, model {metrics['model']['macro_f1']:.3f} macro)"
            f"{apart} -> {metrics_path} ({seconds:.0f} s)")


def set_names(value: str | list[str] | None) -> list[str]:
    """``evaluate.held_out_set`` as a list of names: one name, or a list, each once."""
    names = [value] if isinstance(value, str) else list(value or [])
    return list(dict.fromkeys(names))


def held_out_findings(data: Dataset, names: str | list[str] | None, labels: Path) -> list[int]:
    """The findings of the labelling sets scored apart. Labels with no sets at all (another
    project's) have none, and a warning says so; a set name the labels do not have is an
    error, before the folds are fitted."""
    names = set_names(names)
    if not names:
        return []
    sets = sorted({str(f.extra["set"]) for f in data.findings if f.extra.get("set")})
    missing = [name for name in names if name not in sets]
    if sets and missing:
        raise LabelsError(f"no finding is in the set {missing[0]!r} (evaluate.held_out_set)", path=str(labels),
                          fix=f"the labels' sets are {', '.join(sets)}")
    return [i for i, f in enumerate(data.findings) if f.extra.get("set") in names]


def _held_out_scores(data: Dataset, gold, predictions: dict, taxonomy: Taxonomy, names: list[str],
                     rows: list[int]) -> dict:
    """The same out-of-fold decisions, scored on the findings of the sets held out only (and,
    of several, on each): sets no rule was refined on show what the rules' part of the
    figures owes to that."""
    def scored(subset: list[int]) -> dict:
        figures = {"findings": len(subset), "letters": len({data.groups[i] for i in subset})}
        for system, predicted in predictions.items():
            _, micro, macro = theme_scores([gold[i] for i in subset], [predicted[i] for i in subset],
                                           taxonomy.ids)
            figures[system] = {"micro_f1": micro["f1"], "micro_precision": micro["precision"],
                               "micro_recall": micro["recall"], "macro_f1": macro["f1"]}
        return figures

    figures = {"set": " + ".join(names), "sets": list(names), **scored(rows)}
    if len(names) > 1:
        # a list, so that metrics.json (sorted keys) keeps the sets in the order named
        figures["by_set"] = [{"set": name, **scored([i for i in rows if data.findings[i].extra.get("set") == name])}
                             for name in names]
    return figures


def _sets_named(names: list[str]) -> str:
    return f"set {names[0]}" if len(names) == 1 else f"sets {', '.join(names)}"


def calibration_points(proba: np.ndarray, Y: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted score against observed rate, pooled over themes (a reliability plot)."""
    flat_p, flat_y = proba.ravel(), Y.ravel()
    points = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (flat_p >= lo) & ((flat_p < hi) if b < bins - 1 else (flat_p <= hi))
        if mask.any():
            points.append({"bin": round((lo + hi) / 2, 2), "predicted": round(float(flat_p[mask].mean()), 4),
                           "observed": round(float(flat_y[mask].mean()), 4), "count": int(mask.sum())})
    return points


def render_report(metrics: dict, scores: dict, taxonomy: Taxonomy) -> str:
    lines = ["# Evaluation", "",
             f"{metrics['findings']} gold findings from {metrics['letters']} letters; "
             f"{metrics['folds']}-fold cross-validation grouped by letter.", "",
             "| system | micro-F1 | micro-P | micro-R | macro-F1 |", "|---|---|---|---|---|"]
    for name in SYSTEMS:
        m = metrics[name]
        lines.append(f"| {name} | {m['micro_f1']:.3f} | {m['micro_precision']:.3f} | "
                     f"{m['micro_recall']:.3f} | {m['macro_f1']:.3f} |")
    lines += ["", "## F1 per theme", "", "| theme | gold | rules | model | combined |",
              "|---|---|---|---|---|"]
    for theme in taxonomy.ids:
        row = [f"{scores[name][0][theme]['f1']:.3f}" for name in SYSTEMS]
        lines.append(f"| {theme} | {scores['combined'][0][theme]['support']} | " + " | ".join(row) + " |")
    if "held_out" in metrics:
        h = metrics["held_out"]
        lines += ["", f"## On findings no rule was refined on ({_sets_named(h['sets'])})", "",
                  f"The same out-of-fold decisions, scored on the {h['findings']} findings of the "
                  f"{_sets_named(h['sets'])} ({h['letters']} letters). The model never saw their letters (the folds "
                  "are grouped by letter). The rules were written and pruned on the other labelling "
                  "rounds, which may hold other findings of the same letters, and never changed for "
                  "these findings. This is the closest estimate here for new letters; the figures "
                  "above include findings the rules were refined on.", "",
                  "| system | micro-F1 | micro-P | micro-R | macro-F1 |", "|---|---|---|---|---|"]
        for name in SYSTEMS:
            m = h[name]
            lines.append(f"| {name} | {m['micro_f1']:.3f} | {m['micro_precision']:.3f} | "
                         f"{m['micro_recall']:.3f} | {m['macro_f1']:.3f} |")
        if "by_set" in h:
            lines += ["", "Each set alone, micro-F1 / macro-F1 (a small set's figures move with a few "
                      "findings):", "",
                      "| set | findings | letters | rules | model | combined |", "|---|---|---|---|---|---|"]
            for figures in h["by_set"]:
                cells = [f"{figures[system]['micro_f1']:.3f} / {figures[system]['macro_f1']:.3f}"
                         for system in SYSTEMS]
                lines.append(f"| {figures['set']} | {figures['findings']} | {figures['letters']} | "
                             + " | ".join(cells) + " |")
    j = metrics["judgement"]
    lines += ["", "## Judgement of findings without a heading", ""]
    if "not_compared" in j:
        lines += [f"{j['findings']} gold findings judged from their wording: not compared "
                  f"({j['not_compared']}).", ""]
    else:
        lines += [f"{j['findings']} gold findings judged from their wording: judgement model accuracy "
                  f"{j['model_accuracy']:.3f}, wording heuristic {j['heuristic_accuracy']:.3f}.", ""]
    return "\n".join(lines)
