"""Measuring every rule against the gold labels, as Snorkel's LF analysis does.

Per rule: how often it fires (coverage), how often its theme is in the gold
labels where it fires (precision), what share of the theme's gold findings it
finds (recall), how many of those no other rule of its theme finds (unique),
how often another rule of the same theme fires with it (overlap) and how often
its words are claimed by a rule of another theme (conflict). Rules that never
fire are listed. Per theme: precision, recall and F1 of the rules alone.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from .labelset import LabelledFinding
from .metrics import theme_scores
from .outputs import counted
from .rules import VETO_PREFIX, RuleTagger


def rules_report(gold: Sequence[LabelledFinding], tagger: RuleTagger) -> dict:
    taxonomy = tagger.taxonomy
    texts = [g.text for g in gold]
    results, raw = tagger.tag_with_matches(texts)
    n = len(gold)

    fired: dict[str, set[int]] = defaultdict(set)       # rule -> findings where it counts
    spans: dict[int, list[tuple[str, str, int, int]]] = {}
    for i, result in enumerate(results):
        kept = []
        for theme, evidence in result.evidence.items():
            for e in evidence:
                fired[e.rule].add(i)
                kept.append((e.rule, theme, e.start, e.end))
        spans[i] = kept
    vetoed: dict[str, set[int]] = defaultdict(set)       # veto rule -> findings it acted on
    for i, matches in enumerate(raw):
        for rule, label, start, end in matches:
            if label.startswith(VETO_PREFIX):
                theme = label[len(VETO_PREFIX):]
                if any(l == theme and a < end and start < b for r, l, a, b in matches):
                    vetoed[rule].add(i)

    positives = {t: {i for i, g in enumerate(gold) if t in g.themes} for t in taxonomy.ids}
    rules = []
    for pattern in tagger.patterns:
        hits = vetoed[pattern.id] if pattern.veto else fired[pattern.id]
        theme = pattern.label
        row = {"rule": pattern.id, "theme": theme, "veto": pattern.veto, "line": pattern.line,
               "fires": len(hits), "coverage": round(len(hits) / n, 4) if n else 0.0}
        if pattern.veto:
            # a veto is right where it removed a theme the gold labels do not have
            right = sum(1 for i in hits if i not in positives[theme])
            row["precision"] = round(right / len(hits), 4) if hits else None
        else:
            correct = hits & positives[theme]
            others = set().union(*(fired[p.id] for p in tagger.patterns
                                   if p.label == theme and p.id != pattern.id and not p.veto))
            row["precision"] = round(len(correct) / len(hits), 4) if hits else None
            row["recall"] = round(len(correct) / len(positives[theme]), 4) if positives[theme] else None
            row["unique_correct"] = len(correct - others)
            row["overlap"] = round(len(hits & others) / len(hits), 4) if hits else None
            conflicts = 0
            for i in hits:
                mine = [(a, b) for r, l, a, b in spans[i] if r == pattern.id]
                if any(l != theme and a < e and s < b for r, l, s, e in spans[i] for a, b in mine):
                    conflicts += 1
            row["conflict"] = round(conflicts / len(hits), 4) if hits else None
        rules.append(row)

    predicted = [r.themes for r in results]
    per_theme, micro, macro = theme_scores([g.themes for g in gold], predicted, taxonomy.ids)
    return {
        "findings": n,
        "rules": rules,
        "never_fire": sorted(r["rule"] for r in rules if r["fires"] == 0),
        "themes": per_theme,
        "micro": micro,
        "macro": macro,
    }


def render_markdown(report: dict) -> str:
    lines = ["# Rules report", "",
             f"{counted(report['findings'], 'gold finding')}. Rules alone: micro-F1 "
             f"{report['micro']['f1']:.3f} (P {report['micro']['precision']:.3f}, "
             f"R {report['micro']['recall']:.3f}); macro-F1 {report['macro']['f1']:.3f}.", "",
             "## Per theme", "", "| theme | gold | precision | recall | F1 |", "|---|---|---|---|---|"]
    for theme, s in report["themes"].items():
        lines.append(f"| {theme} | {s['support']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |")
    lines += ["", "## Per rule", "",
              "coverage: share of findings where the rule fires; precision: share of its firings "
              "whose gold labels have its theme (for a veto: where it removed a theme the gold does "
              "not have); recall: share of the theme's gold findings it finds; unique: correct "
              "firings no other rule of the theme has; overlap: firings shared with another rule "
              "of the theme; conflict: firings whose words another theme's rule also claims.", "",
              "| rule | theme | fires | coverage | precision | recall | unique | overlap | conflict |",
              "|---|---|---|---|---|---|---|---|---|"]

    def fmt(value):
        return "" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))

    for r in sorted(report["rules"], key=lambda r: (r["theme"], r["rule"])):
        lines.append(f"| {r['rule']} | {r['theme']} | {r['fires']} | {fmt(r['coverage'])} | "
                     f"{fmt(r.get('precision'))} | {fmt(r.get('recall'))} | {fmt(r.get('unique_correct'))} | "
                     f"{fmt(r.get('overlap'))} | {fmt(r.get('conflict'))} |")
    lines += ["", "## Rules that never fire", ""]
    lines += [f"- {rule}" for rule in report["never_fire"]] or ["(none)"]
    return "\n".join(lines) + "\n"


def run_rules_report(gold: Path, patterns: Path, taxonomy, out: Path | None = None,
                     json_out: Path | None = None) -> tuple[str, str]:
    """The report of every rule against ``gold``: its Markdown (written to ``out``
    where given, the figures to ``json_out``) and a one-line summary."""
    from .labelset import load_labelled
    from .outputs import atomic_text, write_json
    from .rules import load_patterns

    tagger = RuleTagger(load_patterns(patterns, taxonomy), taxonomy)
    labelled = load_labelled(gold, taxonomy)
    report = rules_report(labelled, tagger)
    text = render_markdown(report)
    if out is not None:
        with atomic_text(out) as handle:
            handle.write(text)
    if json_out is not None:
        write_json(json_out, report)
    return text, (f"rules report: micro-F1 {report['micro']['f1']:.3f}, macro-F1 {report['macro']['f1']:.3f} "
                  f"on {counted(report['findings'], 'finding')}"
                  + (f" ({counted(labelled.unlabelled, 'unlabelled row')} skipped)" if labelled.unlabelled else "")
                  + f" -> {out}")
