"""The labelling rounds, named once for merge_gold.py and agreement.py."""
from typing import NamedTuple


class Round(NamedTuple):
    label_set: str              # the gold records' `set`
    name: str                   # its annotators' files: NAME_batchB.jsonl, labelled by NAME:batchB
    todo: str                   # the findings it drew, by their id at its sampling time
    tag: str | None             # what a gold id carries for "#" to stay unique (round 1: nothing)
    pass2: str | None = None    # its blind second pass (by the findings' ids), if any
    adjudication: str | None = None  # the decisions where the passes differed (by gold ids)

    def gold_id(self, finding_id: str) -> str:
        # ids are the segmentation's at sampling time, so two rounds may hold the same id
        # for different findings
        return finding_id if self.tag is None else finding_id.replace("#", self.tag)


ROUNDS = (Round("corpus-sample", "pass1", "todo_batch*.jsonl", None, "pass2.jsonl", "adjudication.jsonl"),
          Round("corpus-sample-2", "round2", "todo_round2_batch*.jsonl", "#r2-"),
          Round("corpus-sample-3", "round3", "todo_round3_batch*.jsonl", "#r3-"),
          Round("corpus-sample-4", "round4", "todo_round4_batch*.jsonl", "#r4-"),
          Round("corpus-sample-5", "round5", "todo_round5_batch*.jsonl", "#r5-",
                "round5_pass2.jsonl", "round5_adjudication.jsonl"),
          Round("corpus-sample-6", "round6", "todo_round6_batch*.jsonl", "#r6-",
                "round6_pass2.jsonl", "round6_adjudication.jsonl"),
          Round("corpus-sample-7", "round7", "todo_round7_batch*.jsonl", "#r7-",
                "round7_pass2.jsonl", "round7_adjudication.jsonl"),
          Round("corpus-sample-8", "round8", "todo_round8_batch*.jsonl", "#r8-",
                "round8_pass2.jsonl", "round8_adjudication.jsonl"))
