"""Precision, recall and F1 for multi-label theme predictions."""

from __future__ import annotations

from typing import Iterable, Sequence


def prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


def theme_scores(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]],
                 themes: Sequence[str]) -> tuple[dict, dict, dict]:
    """Per-theme scores (with gold support), micro and macro averages.

    Macro-F1 averages the F1 of the themes that have gold examples, so a theme
    absent from the gold set does not count as a zero.
    """
    counts = {t: [0, 0, 0] for t in themes}
    for g, p in zip(gold, predicted):
        g, p = set(g), set(p)
        for t in themes:
            if t in g and t in p:
                counts[t][0] += 1
            elif t in p:
                counts[t][1] += 1
            elif t in g:
                counts[t][2] += 1
    per_theme = {}
    for t in themes:
        tp, fp, fn = counts[t]
        per_theme[t] = {**prf(tp, fp, fn), "support": tp + fn}
    micro = prf(sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()),
                sum(c[2] for c in counts.values()))
    present = [s for s in per_theme.values() if s["support"]]
    macro = {k: round(sum(s[k] for s in present) / len(present), 4) if present else 0.0
             for k in ("precision", "recall", "f1")}
    return per_theme, micro, macro
