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

from .artifacts import save_model, sha256_file
from .dataset import Dataset, judgement_examples, load_dataset
from .judgement import judge_wording
from .model import (DEFAULT_PARAMS, JUDGEMENT_PARAMS, build_judgement_pipeline, fit_pipeline,
                    single_threaded_blas, strip_unpicklable_sets)
from .rules import RuleTagger, load_patterns
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


def compare_judgement(records, labels, groups, params: dict, folds: int = 5) -> dict:
    """Grouped cross-validated accuracy of the judgement model and of the wording heuristic."""
    labels = np.array(labels)
    predicted = np.empty(len(labels), dtype=object)
    n_folds = min(folds, len(set(groups)))
    for train, test in GroupKFold(n_splits=n_folds).split(records, labels, groups):
        with single_threaded_blas():
            model = build_judgement_pipeline(params).fit([records[i] for i in train], labels[train])
        predicted[test] = model.predict([records[i] for i in test])
    heuristic = np.array([judge_wording(r["text"]) for r in records])
    return {
        "findings": int(len(labels)),
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
        "training_data": {"path": str(labels), "sha256": data.sha256,
                          "findings": len(data.findings), "letters": len(set(data.groups))},
        "patterns_sha256": sha256_file(patterns),
        "themes_file_sha256": sha256_file(taxonomy.path),
    }
    save_model(pipeline, out_dir / THEMES_ARTIFACT, {
        "kind": "themes",
        "themes": list(taxonomy.ids),
        "params": {k: merged[k] for k in sorted(merged)},
        "thresholds": {t: round(float(v), 4) for t, v in zip(taxonomy.ids, classifier.thresholds_)},
        **common,
    })

    records, judgements, groups = judgement_examples(data)
    judgement_params = judgement_settings(params)
    comparison = compare_judgement(records, judgements, groups, judgement_params, folds=3)
    with single_threaded_blas():
        model = strip_unpicklable_sets(build_judgement_pipeline(judgement_params).fit(records, judgements))
    use_model = comparison["model_accuracy"] > comparison["heuristic_accuracy"]
    save_model(model, out_dir / JUDGEMENT_ARTIFACT, {
        "kind": "judgement",
        "classes": sorted(set(judgements)),
        "params": judgement_params,
        "use_model": use_model,
        "cross_validated": {k: comparison[k] for k in ("findings", "model_accuracy", "heuristic_accuracy")},
        **common,
    })
    total = time.perf_counter() - started
    return (f"train: {len(data.findings)} findings from {len(set(data.groups))} letters; theme model "
            f"fitted in {fit_seconds:.1f} s; judgement model accuracy "
            f"{comparison['model_accuracy']:.3f} vs wording {comparison['heuristic_accuracy']:.3f} "
            f"({'model' if use_model else 'wording'} used) -> {out_dir} ({total:.1f} s)")
