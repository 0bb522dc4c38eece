"""Draw the findings of a new labelling round (run from the repository root).

    python labels/passes/sample_round.py 4 2029
    python labels/passes/sample_round.py 5 2030 8     # 8 findings per document
    python labels/passes/sample_round.py 6 2031 8
    python labels/passes/sample_round.py 7 2032 8
    python labels/passes/sample_round.py 8 2033 8

takes, within each corpus document, 12 findings (or as many as given) at random
(seed 2029) among those not yet in labels/gold.jsonl (by letter and text, white space
and the kind of hyphen aside, pipeline.labelset.text_key; a text inside a labelled one,
or holding one, counts as labelled: since 2026-11-24, after round 5 was drawn), from the
output of `safeguarding-themes segment corpus` (data/segmented/corpus.jsonl), and writes them
to labels/passes/todo_round4_batch1..6.jsonl, documents dealt to the six batches in
turn. No rule or model output goes into the files: annotators see the text, its
paragraph and its heading only.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, ".")
from pipeline.labelset import sample_per_letter, text_key  # noqa: E402

P = Path("labels/passes")
PER_LETTER = 12
BATCHES = 6


def rows(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(round_number: int, seed: int, per_letter: int = PER_LETTER) -> None:
    segmented = rows("data/segmented/corpus.jsonl")
    labelled: dict[str, list[str]] = {}
    for r in rows("labels/gold.jsonl"):
        labelled.setdefault(r["letter_id"], []).append(text_key(r["text"]))

    def is_labelled(r) -> bool:
        # a finding whose words a label holds, or that holds a label's: a sentence of a
        # paragraph labelled whole before segmentation split it is not drawn again
        key = text_key(r["text"])
        return any(key in k or k in key for k in labelled.get(r["letter_id"], ()))

    paragraphs: dict[tuple, list[str]] = {}
    for r in segmented:
        paragraphs.setdefault((r["letter_id"], r["paragraph"]), []).append(r["text"])
    pool = [r for r in segmented if not is_labelled(r)]
    chosen = sample_per_letter(pool, per_letter, seed)
    letters = sorted({r["letter_id"] for r in chosen})
    batch_of = {letter: i % BATCHES + 1 for i, letter in enumerate(letters)}
    out = {b: [] for b in range(1, BATCHES + 1)}
    for r in chosen:
        context = " ".join(paragraphs[(r["letter_id"], r["paragraph"])])
        out[batch_of[r["letter_id"]]].append({
            "id": r["id"], "letter_id": r["letter_id"], "kind": r["kind"], "section": r["section"],
            "subsection": r["subsection"],
            "heading_judgement": r["judgement"] if r["judged_by"] == "heading" else None,
            "unit": r["unit"], "text": r["text"],
            "paragraph_context": context if r["unit"] == "sentence" and context != r["text"] else None})
    for b, items in out.items():
        path = P / f"todo_round{round_number}_batch{b}.jsonl"
        if path.exists():
            sys.exit(f"{path} exists: a round is drawn once")
        with open(path, "w", encoding="utf-8") as handle:
            for item in items:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(path, len(items), "findings from", len({i["letter_id"] for i in items}), "documents")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:4]))
