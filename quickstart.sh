#!/usr/bin/env bash
# Quick start: set up the environment and run the pipeline on the seed letters.
# Results go to out/ (see README.md, "Quick start").
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
mkdir -p out
.venv/bin/safeguarding-themes segment seeds --out out/seeds-findings.jsonl
echo "quickstart: findings of the seed letters are in out/seeds-findings.jsonl"
