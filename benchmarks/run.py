"""Benchmarks of safeguarding-themes, written to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run.py train          # training on all gold labels
    .venv/bin/python benchmarks/run.py train --repeat 3

Each benchmark runs the real command in a subprocess on this machine and records
wall time and peak memory (the largest resident set of the process or its
workers). Results are kept per benchmark in benchmarks/results.json, so running
one benchmark updates its section of RESULTS.md and leaves the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "benchmarks" / "results.json"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
CLI = [sys.executable, "-m", "pipeline.cli"]


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 1),
            "python": platform.python_version(), "system": platform.platform()}


def timed(args: list[str]) -> dict:
    """Run ``args``; wall seconds and the peak RSS of the child (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(max(peak, before) / 1024, 1),
            "output": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}


def bench_train(repeat: int) -> dict:
    """`safeguarding-themes train` on labels/gold.jsonl, as `dvc repro` runs it."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            runs.append(timed(CLI + ["train", "--labels", "labels/gold.jsonl", "--out-dir", tmp]))
    gold = sum(1 for line in open(ROOT / "labels" / "gold.jsonl", encoding="utf-8") if line.strip())
    best = min(runs, key=lambda r: r["seconds"])
    return {"findings": gold, "runs": [r["seconds"] for r in runs], "best_seconds": best["seconds"],
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "command_output": best["output"]}


def render(results: dict) -> str:
    m = results["machine"]
    lines = ["# Benchmark results", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}; "
             f"{m['system']}.", "", "Reproduce with `.venv/bin/python benchmarks/run.py BENCHMARK` "
             "(see the script's docstring).", ""]
    train = results.get("train")
    if train:
        lines += ["## Training on all gold labels", "",
                  f"`safeguarding-themes train` on {train['findings']} gold findings (theme model "
                  "with grouped inner cross-validation for calibration and thresholds, and the "
                  "judgement model with its comparison against the wording heuristic), measured "
                  f"{train['measured']}.", "",
                  "| runs (s) | best (s) | peak RSS (MiB) | target |", "|---|---|---|---|",
                  f"| {', '.join(f'{s:.1f}' for s in train['runs'])} | {train['best_seconds']:.1f} | "
                  f"{train['peak_rss_mib']:.0f} | under 30 s |", "",
                  f"Command's own report: `{train['command_output']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    train = sub.add_parser("train", help="time training on all gold labels")
    train.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    results["machine"] = machine()
    if args.benchmark == "train":
        results["train"] = bench_train(args.repeat)
        results["train"]["measured"] = time.strftime("%Y-%m-%d")
    RESULTS_JSON.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    RESULTS_MD.write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
