"""Agreement between the first and the independent second labelling pass.

Writes the figures of labels/AGREEMENT.md (run from the repository root):
    python labels/passes/agreement.py > /tmp/agreement-figures.md
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, ".")
from pipeline.metrics import theme_scores  # noqa: E402
from pipeline.themes import load_taxonomy  # noqa: E402
from rounds import ROUNDS  # noqa: E402  (this script's folder is on sys.path)

P = Path("labels/passes")


def rows(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def kappa(a, b):
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in set(a) | set(b))
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


ROUND_OF = {round_.name: round_ for round_ in ROUNDS}   # a pass file's name starts with its round's


def labelled_by_id(*patterns: str) -> dict[str, dict]:
    """Labels of the pass files matching ``patterns``, by gold id (later rounds' ids
    carry their round: "letter#r2-0007")."""
    found = {}
    for pattern in patterns:
        for path in sorted(P.glob(pattern)):
            round_ = ROUND_OF[path.name.split("_")[0]]
            for r in rows(path):
                found[round_.gold_id(r["id"])] = r
    return found


def compared(reference: dict[str, dict], other: list[dict]):
    """ids, theme lists and judgements of ``other`` and of the reference labels."""
    ids = [r["id"] for r in other]
    return (ids, [reference[i]["themes"] for i in ids], [r["themes"] for r in other],
            [reference[i]["judgement"] for i in ids], [r["judgement"] for r in other])


taxonomy = load_taxonomy()
first = labelled_by_id("pass1_*.jsonl")
ids, a, b, ja, jb = compared(first, rows(P / "pass2.jsonl"))
per, micro, macro = theme_scores(a, b, taxonomy.ids)
print(f"findings in both passes: {len(ids)} ({sum(i.startswith(('00',)) for i in ids)} seed, "
      f"{sum(not i.startswith(('00',)) for i in ids)} corpus)\n")
print(f"micro-F1 between the passes (first pass as reference): {micro['f1']:.3f} "
      f"(P {micro['precision']:.3f}, R {micro['recall']:.3f}); macro-F1 {macro['f1']:.3f}\n")
print("| theme | first pass | second pass | Cohen's kappa |\n|---|---|---|---|")
for t in taxonomy.ids:
    x = [t in s for s in a]
    y = [t in s for s in b]
    print(f"| {t} | {sum(x)} | {sum(y)} | {kappa(x, y):.3f} |")
print(f"\njudgement: same in {sum(x == y for x, y in zip(ja, jb))} of {len(ids)}, "
      f"Cohen's kappa {kappa(ja, jb):.3f}")
differ = [i for i, x, y, u, v in zip(ids, a, b, ja, jb) if set(x) != set(y) or u != v]
print(f"findings with any disagreement: {len(differ)}")

# ---------------------------------------------------------------- the audit
# The 300 gold findings the out-of-fold model disagreed with most, relabelled blind.
# These are the hardest findings of the set, chosen for disagreement, so agreement
# here is a lower bound for the set as a whole.
before = {**labelled_by_id("pass1_*.jsonl", "round2_batch*.jsonl", "round3_batch*.jsonl"),
          **{r["id"]: r for r in rows(P / "adjudication.jsonl")}}
ids, a, b, ja, jb = compared(before, rows(P / "audit_relabel.jsonl"))
per, micro, macro = theme_scores(a, b, taxonomy.ids)
print(f"\n## Audit relabel\n\nfindings: {len(ids)}; micro-F1 between gold and the blind relabel: "
      f"{micro['f1']:.3f} (P {micro['precision']:.3f}, R {micro['recall']:.3f}); macro-F1 {macro['f1']:.3f}")
same = sum(set(x) == set(y) and u == v for x, y, u, v in zip(a, b, ja, jb))
print(f"identical labels (themes and judgement): {same} of {len(ids)}; judgement kappa {kappa(ja, jb):.3f}")
decisions = rows(P / "audit_adjudication.jsonl")
kept = {k: sum(d["kept"] == k for d in decisions) for k in ("first", "audit", "both", "neither")}
print(f"adjudicated: {len(decisions)}; kept the gold label {kept['first']}, the relabel {kept['audit']}, "
      f"the union {kept['both']}, neither {kept['neither']}")

# ---------------------------------------------------------------- later rounds
# 60 findings of each later round with a second pass (10 at random from each batch),
# labelled again blind.
for round_ in ROUNDS:
    if round_.tag is None or not round_.pass2:
        continue   # round 1's second pass is above; rounds 2-4 had none
    labelled = labelled_by_id(f"{round_.name}_batch*.jsonl")
    ids, a, b, ja, jb = compared(labelled, [{**r, "id": round_.gold_id(r["id"])}
                                            for r in rows(P / round_.pass2)])
    per, micro, macro = theme_scores(a, b, taxonomy.ids)
    print(f"\n## Round {round_.name[len('round'):]} second pass\n\nfindings: {len(ids)}; micro-F1 between "
          f"the passes (first pass as reference): {micro['f1']:.3f} (P {micro['precision']:.3f}, "
          f"R {micro['recall']:.3f}); macro-F1 {macro['f1']:.3f}")
    print(f"judgement: same in {sum(x == y for x, y in zip(ja, jb))} of {len(ids)}; findings with any "
          f"disagreement: {sum(set(x) != set(y) or u != v for x, y, u, v in zip(a, b, ja, jb))}")
    decisions = rows(P / round_.adjudication)
    kept = {k: sum(d["kept"] == k for d in decisions) for k in ("first", "second", "both", "neither")}
    assert sum(kept.values()) == len(decisions), "a decision whose 'kept' is not first, second, both or neither"
    print(f"adjudicated: {len(decisions)}; kept the first pass {kept['first']}, the second {kept['second']}"
          + "".join(f", the {label} {kept[k]}" for k, label in (("both", "union"), ("neither", "neither"))
                    if kept[k]))
