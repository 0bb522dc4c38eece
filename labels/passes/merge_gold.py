"""Merge the labelling passes into labels/gold.jsonl (run from the repository root).

How the gold set was made (see labels/README.md):
- todo_*.jsonl: the findings to label. Seeds: every finding. Corpus: 12 findings
  drawn at random within each of the 90 documents (pipeline.labelset.sample_per_letter,
  seed 2026) from `safeguarding-themes segment corpus`.
- pass1_seeds.jsonl: first pass over the seeds; pass1_batch1-5.jsonl: first pass
  over the corpus sample (five annotators, 18 documents each).
- round2_batch1-6.jsonl: a second random sample, 12 more findings per document drawn
  from those not yet labelled (seed 2027; todo_round2_batch*.jsonl), six annotators.
- round3_batch1-6.jsonl: a third, the same way (seed 2028; todo_round3_batch*.jsonl).
- round4_batch1-6.jsonl: a fourth (seed 2029), drawn by `sample_round.py 4 2029`
  after the rule patterns were frozen, so the rules had never seen them.
- round5_batch1-6.jsonl: a fifth (seed 2030, 8 per document), drawn by
  `sample_round.py 5 2030 8` after a review of the rules on rounds 1-4 had changed
  them; labelled after the changed patterns were fixed, so the rules never saw them.
- round6_batch1-6.jsonl: a sixth (seed 2031, 8 per document), drawn by
  `sample_round.py 6 2031 8` with the patterns unchanged since round 5;
  round7_batch1-6.jsonl: a seventh (seed 2032), `sample_round.py 7 2032 8`, the same way;
  round8_batch1-6.jsonl: an eighth (seed 2033), `sample_round.py 8 2033 8`.
- pass2.jsonl: an independent second pass over 250 findings (220 corpus, 30 seed).
- adjudication.jsonl: the decision on every finding where the passes disagreed.
- round5_pass2.jsonl: an independent second pass over 60 findings of round 5 (10 drawn
  at random from each batch, todo_round5_pass2.jsonl); round5_adjudication.jsonl: the
  decision on the 8 where the passes differed. round6_pass2.jsonl and
  round6_adjudication.jsonl: the same for round 6 (9 differed); round7_*: for round 7
  (8 differed); round8_*: for round 8 (12 differed).
- todo_audit.jsonl / audit_relabel.jsonl: the 300 gold findings the audit
  (`safeguarding-themes labels audit`) flagged most, relabelled blind (the labeller
  saw neither the gold label nor the model's); audit_adjudication.jsonl: the
  decision, read against the guidelines, wherever the two differed.
- review_fixes.jsonl: labels that a review reading labels drawn at random found wrong
  against the guidelines and the earlier gold (two of 60 round-6 labels, one of 60
  round-8 labels), each with its reason; the gold record keeps it as `review_fix`.
- judgement_fixes.jsonl: judgements copied from a heading that a segmentation
  error had attached to the wrong section (the error is fixed in the parser).
"""
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, ".")
from pipeline.labelset import text_key  # noqa: E402
from rounds import ROUNDS  # noqa: E402  (this script's folder is on sys.path)

P = Path("labels/passes")


def rows(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


segmented = {}
for name in ("seeds", "corpus"):
    for r in rows(f"data/segmented/{name}.jsonl"):
        segmented[r["id"]] = r
todos = {round_.label_set: {r["id"]: r for path in sorted(P.glob(round_.todo)) for r in rows(path)}
         for round_ in ROUNDS}
adjudicated = {r["id"]: r for round_ in ROUNDS if round_.adjudication for r in rows(P / round_.adjudication)}
fixes = {r["id"]: r for r in rows(P / "judgement_fixes.jsonl")}
second = {round_.gold_id(r["id"]) for round_ in ROUNDS if round_.pass2 for r in rows(P / round_.pass2)}
# labels a review of random labels found wrong (by gold id), each with its reason
review_fixes = {r["id"]: r for r in rows(P / "review_fixes.jsonl")}
audited = {r["id"] for r in rows(P / "audit_relabel.jsonl")}
audit_decisions = {r["id"]: r for r in rows(P / "audit_adjudication.jsonl")}

gold = []
paragraphs = {}
for r in segmented.values():
    paragraphs.setdefault((r["letter_id"], r["paragraph"]), []).append(r["text"])
for r in rows(P / "pass1_seeds.jsonl"):
    seg = segmented[r["id"]]
    record = {**r, "labelled_by": "pass1:main", "section": seg["section"],
              "subsection": seg["subsection"]}
    context = " ".join(paragraphs[(seg["letter_id"], seg["paragraph"])])
    if seg["unit"] == "sentence" and context != seg["text"]:
        record["context"] = context
    gold.append(record)
labelled: dict[str, list[tuple[str, str]]] = {}   # letter -> (round, text_key) of its labels
for round_, b in itertools.product(ROUNDS, range(1, 7)):   # up to six batches a round (round 1: five)
    pass_file, label_set, prefix = P / f"{round_.name}_batch{b}.jsonl", round_.label_set, f"{round_.name}:batch{b}"
    if not pass_file.exists():
        continue
    for r in rows(pass_file):
        t = todos[label_set][r["id"]]
        source = "corpus/" + t["letter_id"] + ".pdf"
        record = {"id": round_.gold_id(r["id"]), "letter_id": t["letter_id"], "source": source,
                  "section": t["section"], "subsection": t["subsection"], "text": t["text"],
                  "judgement": r["judgement"],
                  "judged_by": "heading" if t["heading_judgement"] else "annotator",
                  "themes": sorted(r["themes"]), "set": label_set, "labelled_by": prefix}
        if t.get("paragraph_context") and t["paragraph_context"] != t["text"]:
            record["context"] = t["paragraph_context"]
        if r.get("note"):
            record["note"] = r["note"]
        # a finding drawn again in a later round, its text the same or changed by
        # segmentation since (a closing template sentence no longer glued on, other spaces
        # or hyphens): the earlier label stands. Two findings of one round that share a
        # text (a bullet repeating a sentence of the overview) are two findings.
        key = text_key(record["text"])
        earlier = next((k for other_round, k in labelled.get(record["letter_id"], ())
                        if other_round != label_set and (k.startswith(key) or key.startswith(k))), None)
        if earlier is not None:
            print("skipped, labelled in an earlier round already:", record["id"])
            continue
        labelled.setdefault(record["letter_id"], []).append((label_set, key))
        gold.append(record)
for record in gold:
    if record["judged_by"] == "wording":
        record["judged_by"] = "annotator"
    record["second_pass"] = record["id"] in second
    record["resolved"] = False
    if record["id"] in adjudicated:
        decision = adjudicated[record["id"]]
        record.update(themes=sorted(decision["themes"]), judgement=decision["judgement"],
                      resolved=True, resolution=decision["reason"])
    record["audited"] = record["id"] in audited
    if record["id"] in audit_decisions:
        decision = audit_decisions[record["id"]]
        record.update(themes=sorted(decision["themes"]), judgement=decision["judgement"],
                      audit_resolution=f"{decision['kept']}: {decision['reason']}")
    if record["id"] in review_fixes:
        fix = review_fixes[record["id"]]
        record.update(themes=sorted(fix["themes"]), judgement=fix["judgement"],
                      review_fix=f"{fix['found_by']}: {fix['reason']}")
    if record["id"] in fixes:
        record.update(judgement=fixes[record["id"]]["judgement"], judged_by="annotator"
                      if "narrative" in fixes[record["id"]]["reason"] else "heading",
                      judgement_fix=fixes[record["id"]]["reason"])
# labels added since with `safeguarding-themes labels import` live only in gold.jsonl: keep them
merged_ids = {record["id"] for record in gold}
if Path("labels/gold.jsonl").exists():
    for record in rows("labels/gold.jsonl"):
        if record.get("set") == "imported" and record["id"] not in merged_ids:
            gold.append(record)
known = {record["id"] for record in gold}
unknown = sorted((set(adjudicated) | set(fixes) | audited | set(audit_decisions) | set(review_fixes)) - known)
assert not unknown, f"adjudications or fixes for ids not in the gold set: {unknown}"
assert set(adjudicated) <= second, "an adjudicated finding was not in the second pass"
with open("labels/gold.jsonl", "w", encoding="utf-8") as handle:
    for record in sorted(gold, key=lambda r: r["id"]):
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
print(len(gold), "gold findings")
