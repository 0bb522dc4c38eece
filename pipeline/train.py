"""Stage: train the theme classifier and the judgement classifier.

Writes ``themes.joblib`` and ``judgement.joblib`` with their ``.meta.json``.
The judgement classifier replaces the wording heuristic only where grouped
cross-validation measures it better; the decision is recorded in its metadata.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from .artifacts import save_models, sha256_file
from .dataset import Dataset, judgement_examples, load_dataset
from .judgement import judge_wording
from .model import (DEFAULT_PARAMS, JUDGEMENT_PARAMS, build_judgement_pipeline, fit_pipeline,
                    single_threaded_blas, strip_unpicklable_sets)
from .outputs import counted
from .rules import RuleTagger, load_patterns
from .surrogates import printable
from .themes import Taxonomy

THEMES_ARTIFACT = "themes.joblib"
JUDGEMENT_ARTIFACT = "judgement.joblib"


def theme_params(params: dict) -> dict:
    merged = {**DEFAULT_PARAMS, **{k: v for k, v in params.items() if not k.startswith("judgement")}}
    if merged.get("class_weight") == "none":
        merged["class_weight"] = None
    if merged.get("jobs", 1) == 0:
        merged["jobs"] = -1  # all cores
    return merged


def judgement_settings(params: dict) -> dict:
    settings = {**JUDGEMENT_PARAMS, "seed": params.get("seed", JUDGEMENT_PARAMS["seed"])}
    if "judgement_C" in params:
        settings["C"] = params["judgement_C"]
    return settings


JUDGEMENT_FOLDS = 3  # the comparison decides which reader is used; 3 folds keep train under 30 s


class CannotCompare(Exception):
    """Labels that cannot show whether the judgement model beats the wording heuristic."""


def compare_judgement(records, labels, groups, params: dict, folds: int = JUDGEMENT_FOLDS) -> dict:
    """Grouped cross-validated accuracy of the judgement model and of the wording heuristic."""
    if not labels:
        raise CannotCompare("no finding is labelled with a judgement read from its wording")
    if len(set(groups)) < 2:
        raise CannotCompare("the findings judged from their wording come from one letter")
    labels = np.array(labels)
    predicted = np.empty(len(labels), dtype=object)
    splits = list(GroupKFold(n_splits=min(folds, len(set(groups)))).split(records, labels, groups))
    if any(len(set(labels[train])) < 2 for train, _ in splits):
        raise CannotCompare("the judgements read from the wording are all one kind in some letters' folds")
    for train, test in splits:
        with single_threaded_blas():
            model = build_judgement_pipeline(params).fit([records[i] for i in train], labels[train])
        predicted[test] = model.predict([records[i] for i in test])
    heuristic = np.array([judge_wording(r["text"]) for r in records])
    return {
        "findings": int(len(labels)),
        "folds": len(splits),
        "model_accuracy": round(float((predicted == labels).mean()), 4),
        "heuristic_accuracy": round(float((heuristic == labels).mean()), 4),
        "predicted": predicted.tolist(),
        "heuristic": heuristic.tolist(),
    }


def run_train(labels: Path, out_dir: Path, params: dict, taxonomy: Taxonomy,
              patterns: Path) -> str:
    started = time.perf_counter()
    rules = RuleTagger(load_patterns(patterns, taxonomy), taxonomy)
    data: Dataset = load_dataset(labels, taxonomy, rules)
    merged = theme_params(params)
    fit_start = time.perf_counter()
    pipeline = fit_pipeline(data.records, data.Y, data.groups, taxonomy.ids, merged)
    fit_seconds = time.perf_counter() - fit_start
    classifier = pipeline.named_steps["classifier"]
    common = {
        "training_data": {"path": printable(labels), "sha256": data.sha256,
                          "findings": len(data.findings), "letters": len(set(data.groups))},
        "patterns_sha256": sha256_file(patterns),
        "themes_file_sha256": sha256_file(taxonomy.path),
    }
    records, judgements, groups = judgement_examples(data)
    judgement_params = judgement_settings(params)
    try:
        comparison = compare_judgement(records, judgements, groups, judgement_params)
    except CannotCompare as reason:
        comparison, why_not = None, str(reason)
    else:
        with single_threaded_blas():
            judgement = strip_unpicklable_sets(build_judgement_pipeline(judgement_params).fit(records, judgements))

    # Written together once both are fitted, and a judgement model of earlier labels is
    # removed in the same step: a tagger must never pair models trained on different labels.
    themes_model = (pipeline, out_dir / THEMES_ARTIFACT, {
        "kind": "themes",
        "themes": list(taxonomy.ids),
        "params": {k: merged[k] for k in sorted(merged)},
        "thresholds": {t: round(float(v), 4) for t, v in zip(taxonomy.ids, classifier.thresholds_)},
        # which judgement model goes with it: one copied without the other is found out
        "judgement_model": None if comparison is None else JUDGEMENT_ARTIFACT,
        **common,
    })
    skipped = f" ({counted(data.unlabelled, 'unlabelled row')} skipped)" if data.unlabelled else ""
    done = (f"train: {counted(len(data.findings), 'finding')} from {counted(len(set(data.groups)), 'letter')}"
            f"{skipped}; theme model fitted in {fit_seconds:.1f} s; ")
    if comparison is None:
        save_models([themes_model], remove=(out_dir / JUDGEMENT_ARTIFACT,))
        return (done + f"no judgement model ({why_not}): the wording heuristic judges findings no "
                f"heading judges -> {out_dir} ({time.perf_counter() - started:.1f} s)")
    use_model = comparison["model_accuracy"] > comparison["heuristic_accuracy"]
    save_models([themes_model, (judgement, out_dir / JUDGEMENT_ARTIFACT, {
        "kind": "judgement",
        "classes": sorted(set(judgements)),
        "params": judgement_params,
        "use_model": use_model,
        "cross_validated": {k: comparison[k] for k in ("findings", "folds", "model_accuracy",
                                                       "heuristic_accuracy")},
        **common,
    })])
    total = time.perf_counter() - started
    return (done + f"judgement model accuracy {comparison['model_accuracy']:.3f} vs wording "
            f"{comparison['heuristic_accuracy']:.3f} ({'model' if use_model else 'wording'} used) "
            f"-> {out_dir} ({total:.1f} s)")
