"""How far the theme thresholds move when the labels change a little.

    .venv/bin/python benchmarks/threshold_stability.py                 # tolerances 0 and 0.01
    .venv/bin/python benchmarks/threshold_stability.py --tolerances 0 0.005 0.01 0.02

For each tolerance (train.threshold_tolerance), the theme model is trained on all gold
labels, then again with one letter's labels left out, for each of three letters drawn
with a fixed seed. It prints the mean and largest change of the 17 thresholds, and the
share of (finding, theme) decisions on the gold findings that change. About a minute
per tolerance on 2 cores. Nothing is written.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    from pipeline.dataset import load_dataset
    from pipeline.model import fit_pipeline
    from pipeline.params import load_params
    from pipeline.rules import RuleTagger, load_patterns
    from pipeline.themes import load_taxonomy
    from pipeline.train import theme_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tolerances", type=float, nargs="+", default=[0.0, 0.01])
    parser.add_argument("--letters", type=int, default=3, help="letters left out, one at a time")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    if args.letters < 1:
        parser.error("--letters must be at least 1")

    taxonomy = load_taxonomy(ROOT / "labels" / "themes.yaml")
    rules = RuleTagger(load_patterns(ROOT / "labels" / "patterns.jsonl", taxonomy), taxonomy)
    data = load_dataset(ROOT / "labels" / "gold.jsonl", taxonomy, rules)
    letters = sorted(set(data.groups))
    if args.letters > len(letters):
        raise SystemExit(f"--letters {args.letters}: the gold labels come from {len(letters)} letters")
    left_out = random.Random(args.seed).sample(letters, args.letters)
    base = theme_params(load_params(ROOT / "params.yaml").get("train", {}))

    for tolerance in args.tolerances:
        params = {**base, "threshold_tolerance": tolerance}

        def fit(keep: set[str]):
            rows = [i for i, g in enumerate(data.groups) if g in keep]
            model = fit_pipeline([data.records[i] for i in rows], data.Y[rows], [data.groups[i] for i in rows],
                                 taxonomy.ids, params)
            classifier = model.named_steps["classifier"]
            return classifier.thresholds_.copy(), classifier.predict(model.named_steps["features"].transform(data.records))

        thresholds, decisions = fit(set(letters))
        moves, changed = [], []
        for letter in left_out:
            other_thresholds, other_decisions = fit(set(letters) - {letter})
            moves.append(np.abs(other_thresholds - thresholds))
            changed.append(float((other_decisions != decisions).mean()))
        moves = np.array(moves)
        print(f"tolerance {tolerance}: thresholds move by {moves.mean():.3f} on average, {moves.max():.3f} at most; "
              f"{100 * np.mean(changed):.2f}% of decisions change ({args.letters} letters left out in turn)")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
