"""Merge the labelling passes into labels/gold.jsonl (run from the repository root).

How the gold set was made (see labels/README.md):
- todo_*.jsonl: the findings to label. Seeds: every finding. Corpus: 12 findings
  drawn at random within each of the 90 documents (pipeline.labelset.sample_per_letter,
  seed 2026) from `safeguarding-themes segment corpus`.
- pass1_seeds.jsonl: first pass over the seeds; pass1_batch1-5.jsonl: first pass
  over the corpus sample (five annotators, 18 documents each).
- pass2.jsonl: an independent second pass over 250 findings (220 corpus, 30 seed).
- adjudication.jsonl: the decision on every finding where the passes disagreed.
- judgement_fixes.jsonl: judgements copied from a heading that a segmentation
  error had attached to the wrong section (the error is fixed in the parser).
"""
import json
from pathlib import Path

P = Path("labels/passes")


def rows(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


segmented = {}
for name in ("seeds", "corpus"):
    for r in rows(f"data/segmented/{name}.jsonl"):
        segmented[r["id"]] = r
todo = {}
for path in sorted(P.glob("todo_batch*.jsonl")):
    for r in rows(path):
        todo[r["id"]] = r
adjudicated = {r["id"]: r for r in rows(P / "adjudication.jsonl")}
fixes = {r["id"]: r for r in rows(P / "judgement_fixes.jsonl")}
second = {r["id"] for r in rows(P / "pass2.jsonl")}

gold = []
for r in rows(P / "pass1_seeds.jsonl"):
    gold.append({**r, "labelled_by": "pass1:main"})
for batch in range(1, 6):
    for r in rows(P / f"pass1_batch{batch}.jsonl"):
        t = todo[r["id"]]
        source = "corpus/" + t["letter_id"] + ".pdf"
        gold.append({"id": r["id"], "letter_id": t["letter_id"], "source": source,
                     "section": t["subsection"] or t["section"], "text": t["text"],
                     "judgement": r["judgement"],
                     "judged_by": "heading" if t["heading_judgement"] else "annotator",
                     "themes": sorted(r["themes"]), "set": "corpus-sample",
                     "labelled_by": f"pass1:batch{batch}",
                     **({"note": r["note"]} if r.get("note") else {})})
for record in gold:
    if record["judged_by"] == "wording":
        record["judged_by"] = "annotator"
    record["second_pass"] = record["id"] in second
    record["resolved"] = False
    if record["id"] in adjudicated:
        decision = adjudicated[record["id"]]
        record.update(themes=sorted(decision["themes"]), judgement=decision["judgement"],
                      resolved=True, resolution=decision["reason"])
    if record["id"] in fixes:
        record.update(judgement=fixes[record["id"]]["judgement"], judged_by="annotator"
                      if "narrative" in fixes[record["id"]]["reason"] else "heading",
                      judgement_fix=fixes[record["id"]]["reason"])
known = {record["id"] for record in gold}
unknown = sorted((set(adjudicated) | set(fixes)) - known)
assert not unknown, f"adjudications or fixes for ids not in the gold set: {unknown}"
assert set(adjudicated) <= second, "an adjudicated finding was not in the second pass"
with open("labels/gold.jsonl", "w", encoding="utf-8") as handle:
    for record in sorted(gold, key=lambda r: r["id"]):
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
print(len(gold), "gold findings")
