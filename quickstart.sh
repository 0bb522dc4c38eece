#!/usr/bin/env bash
# Quick start: set up the environment and run the main job on the seed letters end to
# end: letters -> findings -> trained classifiers -> tagged findings -> theme summary.
# (README.md, "Quick start".)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
# the stages of dvc.yaml call the `safeguarding-themes` command of the environment
export PATH="$PWD/.venv/bin:$PATH"
# the reproducible pipeline up to the summaries (evaluation, the slow stage, is left out)
dvc repro summarise
echo "quickstart: tagged findings of the seed letters: data/tagged/seeds.jsonl"
echo "quickstart: theme summary: reports/summary/"
