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

P = Path("labels/passes")


def rows(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def kappa(a, b):
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in set(a) | set(b))
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


taxonomy = load_taxonomy()
first = {}
for path in sorted(P.glob("pass1_*.jsonl")):
    for r in rows(path):
        first[r["id"]] = r
second = rows(P / "pass2.jsonl")
ids = [r["id"] for r in second]
a = [first[i]["themes"] for i in ids]
b = [r["themes"] for r in second]
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
ja = [first[i]["judgement"] for i in ids]
jb = [r["judgement"] for r in second]
print(f"\njudgement: same in {sum(x == y for x, y in zip(ja, jb))} of {len(ids)}, "
      f"Cohen's kappa {kappa(ja, jb):.3f}")
differ = [i for i, x, y, u, v in zip(ids, a, b, ja, jb) if set(x) != set(y) or u != v]
print(f"findings with any disagreement: {len(differ)}")
