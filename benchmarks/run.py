"""Benchmarks of safeguarding-themes, written to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run.py train          # training on all gold labels
    .venv/bin/python benchmarks/run.py train --repeat 3
    .venv/bin/python benchmarks/run.py batch          # batch tagging, N = 1,000 and 10,000
    .venv/bin/python benchmarks/run.py batch --sizes 1000 --jobs 1 2 --repeat 3
    .venv/bin/python benchmarks/run.py batch --sizes 1000 --jobs 1 --method rules   # a bound: no models
    .venv/bin/python benchmarks/run.py summarise      # summaries of N tagged letters, N = 1,000 and 10,000

Each benchmark runs the real command in a subprocess on this machine and records
wall time and peak memory (the largest resident set of the process or its
workers). Results are kept per benchmark in benchmarks/results.json, so running
one benchmark updates its section of RESULTS.md and leaves the others (each
--method of the batch benchmark has its own section).
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
    """This machine, told apart from others of the same name: the CPU's family, model
    and widest vector unit (two 'AMD EPYC' here differed by 1.8 times in PDF reading)."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": info.get("model name", "unknown"), "cpu_family": info.get("cpu family", "?"),
            "cpu_model": info.get("model", "?"), "vector": vector, "cores": os.cpu_count(),
            "memory_gib": round(memory, 1), "python": platform.python_version(),
            "system": platform.platform()}


def describe_machine(m: dict | None) -> str:
    if not m:
        return "not recorded"
    cpu = m["cpu"]
    if "cpu_family" in m:
        cpu += f" (family {m['cpu_family']} model {m['cpu_model']}, {m['vector']})"
    return (f"{cpu}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}; "
            f"{m['system']}")


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
    return {"findings": gold, "machine": machine(), "runs": [r["seconds"] for r in runs],
            "best_seconds": best["seconds"],
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "command_output": best["output"]}


# ----------------------------------------------------------------- batch tagging

def build_batch(folder: Path, n: int) -> list[Path]:
    """N documents: the corpus PDFs and the seeds in turn, under new names. Each copy
    is made distinct (a PDF comment after the end of file, trailing spaces after a
    text), as real letters are: the tagger tags identical files once."""
    sources = sorted((ROOT / "corpus").glob("*.pdf")) + sorted((ROOT / "seeds").glob("*.txt"))
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        source = sources[i % len(sources)]
        copy = i // len(sources)
        data = source.read_bytes()
        data += (f"\n% batch copy {copy}\n".encode() if source.suffix == ".pdf" else b" " * copy + b"\n")
        target = folder / f"{i:05d}_{source.name}"
        target.write_bytes(data)
        made.append(target)
    return made


FLOOR = r"""
import sys, time, json
from pathlib import Path
import pypdfium2 as pdfium, spacy
files = sorted(Path(sys.argv[1]).iterdir())
started = time.perf_counter()
texts = []
for f in files:
    data = f.read_bytes()
    if f.suffix == ".pdf":
        pdf = pdfium.PdfDocument(data)
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        pdf.close()
        texts.append("\n".join(pages))
    else:
        texts.append(data.decode("utf-8", "replace"))
extracted = time.perf_counter()
nlp = spacy.blank("en")
tokens = 0
for doc in nlp.pipe(texts, batch_size=64):
    tokens += len(doc)
done = time.perf_counter()
print(json.dumps({"extract_seconds": extracted - started, "tokenise_seconds": done - extracted,
                  "seconds": done - started, "tokens": tokens}))
"""


def tree_rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory of a process and all its descendants, and of the largest of
    them (MiB), from /proc."""
    total, largest, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    largest = max(largest, int(line.split()[1]))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / 1024, largest / 1024


def timed_tree(args: list[str]) -> dict:
    """Like ``timed``, also sampling the memory of the whole process tree (workers too)."""
    import threading

    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0, 0.0]

    def sample():
        while process.poll() is None:
            total, largest = tree_rss_mib(process.pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{stderr[-2000:]}")
    # (sampled rather than from getrusage, whose figure for children is the largest
    # process of any earlier run too, such as the floor's)
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak[1], 1),
            "peak_tree_rss_mib": round(peak[0], 1),
            "output": stderr.strip().splitlines()[-1] if stderr.strip() else "", "stdout": stdout}


def bench_batch(sizes: list[int], jobs: list[int], method: str, repeat: int = 1) -> dict:
    """Per size: the floor and the command with each job count, ``repeat`` rounds of
    each in turn (so that a slow spell of a shared machine touches all alike); the
    best time of each is reported, with every run listed, as for training."""
    runs = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "letters"
            build_batch(folder, n)
            floors: list[dict] = []
            tags: dict[int, list[dict]] = {j: [] for j in jobs}
            for _ in range(repeat):
                floor_run = timed_tree([sys.executable, "-c", FLOOR, str(folder)])
                floors.append(json.loads(floor_run["stdout"]))
                for j in jobs:
                    out = Path(tmp) / f"tagged-{j}.jsonl"
                    run = timed_tree(CLI + ["tag", str(folder), "--out", str(out), "--jobs", str(j),
                                            "--method", method, "--quiet"])
                    run["findings"] = sum(1 for _ in open(out, encoding="utf-8"))
                    out.unlink()
                    tags[j].append(run)
                    print(f"batch: {n} documents, {j} job(s): {run['seconds']:.1f} s "
                          f"(floor {floors[-1]['seconds']:.1f} s), peak {run['peak_tree_rss_mib']:.0f} MiB",
                          file=sys.stderr, flush=True)
            floor = min(floors, key=lambda f: f["seconds"])
            entry = {"documents": n, "repeat": repeat, "machine": machine(), "measured": time.strftime("%Y-%m-%d"),
                     "floor_seconds": round(floor["seconds"], 2),
                     "floor_runs": [round(f["seconds"], 2) for f in floors],
                     "floor_extract_seconds": round(floor["extract_seconds"], 2),
                     "floor_tokenise_seconds": round(floor["tokenise_seconds"], 2), "tag": {}}
            for j, done in tags.items():
                run = min(done, key=lambda r: r["seconds"])
                entry["tag"][str(j)] = {
                    "seconds": run["seconds"], "runs": [r["seconds"] for r in done],
                    "documents_per_second": round(n / run["seconds"], 2),
                    "findings": run["findings"], "findings_per_second": round(run["findings"] / run["seconds"], 1),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in done),
                    "peak_tree_rss_mib": max(r["peak_tree_rss_mib"] for r in done),
                    "times_floor": round(run["seconds"] / floor["seconds"], 2),
                    "command_output": run["output"]}
            runs.append(entry)
    return {"method": method, "runs": runs}


def _measured(batch: dict) -> str:
    """When each size was measured (a size run again keeps the others' rows and dates)."""
    dates = {entry["documents"]: entry.get("measured", batch["measured"]) for entry in batch["runs"]}
    if len(set(dates.values())) == 1:
        return f"Measured {next(iter(dates.values()))}."
    return "Measured " + "; ".join(f"{n:,} documents {d}" for n, d in sorted(dates.items())) + "."


def render_batch(batch: dict) -> list[str]:
    rules_only = batch["method"] == "rules"
    lines = ["## Batch tagging" + (", rules only" if rules_only else ""), ""]
    if rules_only:
        lines += ["For comparison, a bound on this design: the rules tagger alone (no models; "
                  "judgements from the wording heuristic), measured like the combined tagger above.", ""]
    lines += [f"`safeguarding-themes tag FOLDER --jobs J --method {batch['method']}` on N documents "
             "(the corpus PDFs and the seed letters in turn under new names, each copy made "
             "distinct), end to end: reading, segmentation, rules, "
             f"{'' if rules_only else 'models, '}evidence, writing JSONL. "
             "The floor, measured in the same run on the same files, is bare text extraction "
             "(pypdfium2) plus bare `spacy.blank(\"en\")` tokenisation, in one process. Where a "
             "size was run several times (floor and commands in turn, round after round), the "
             "best time of each is used and every run is listed. Peak memory (RSS), sampled every "
             "0.2 s: of the largest process (the command or one worker), and the sum over the "
             f"command and its workers (the highest of the runs). {_measured(batch)}", ""]
    machines = list(dict.fromkeys(describe_machine(entry.get("machine")) for entry in batch["runs"]))
    if len(machines) == 1:
        lines += [f"Machine: {machines[0]}.", ""]
    else:
        # sizes measured on different machines: each row says which (a ratio to the
        # floor is of one machine, and two machines' rows are not to be compared)
        lines += ["Sizes were measured on different machines:", ""]
        lines += [f"- machine {chr(65 + i)}: {m}" for i, m in enumerate(machines)] + [""]
    lines += [
             "| documents | jobs | seconds (best; runs) | documents/s | findings/s | x floor "
             "| floor (s): extract + tokenise (runs) | peak RSS, largest process (MiB) "
             "| peak RSS, all processes (MiB) |" + (" machine |" if len(machines) > 1 else ""),
             "|---:|---:|---|---:|---:|---:|---|---:|---:|" + ("---|" if len(machines) > 1 else "")]
    for entry in batch["runs"]:
        for j, run in sorted(entry["tag"].items()):
            runs = ", ".join(f"{s:.1f}" for s in run.get("runs", [run["seconds"]]))
            floors = ", ".join(f"{s:.1f}" for s in entry.get("floor_runs", [entry["floor_seconds"]]))
            lines.append(f"| {entry['documents']:,} | {j} | {run['seconds']:.1f}; {runs} | "
                         f"{run['documents_per_second']:.1f} | "
                         f"{run['findings_per_second']:.0f} | {run['times_floor']:.2f} | "
                         f"{entry['floor_seconds']:.1f}: {entry['floor_extract_seconds']:.1f} + "
                         f"{entry['floor_tokenise_seconds']:.1f} ({floors}) | {run['peak_rss_mib']:.0f} | "
                         f"{run['peak_tree_rss_mib']:.0f} |"
                         + (f" {chr(65 + machines.index(describe_machine(entry.get('machine'))))} |"
                            if len(machines) > 1 else ""))
    lines.append("")
    for entry in batch["runs"]:
        one, two = entry["tag"].get("1"), entry["tag"].get("2")
        if one and two:
            lines.append(f"- {entry['documents']:,} documents: 2 jobs run at "
                         f"{two['documents_per_second'] / one['documents_per_second']:.2f} times the one-job "
                         f"rate; one job takes {one['times_floor']:.2f} times the floor (target: at most 1.5).")
    if batch.get("note"):
        lines.append(f"Note: {batch['note']}")
    lines.append("")
    return lines


# ----------------------------------------------------------------- summaries

def build_tagged(tmp: Path, sizes: list[int]) -> dict[int, Path]:
    """Tagged files of N letters: the corpus PDFs and the seeds tagged once, then each
    tagged letter written again under a new content hash and id until there are N, as
    'tag' writes distinct letters (and 'summarise' counts letters by their hash)."""
    sources = sorted((ROOT / "corpus").glob("*.pdf")) + sorted((ROOT / "seeds").glob("*.txt"))
    folder = tmp / "letters"
    build_batch(folder, len(sources))
    base = tmp / "base.jsonl"
    timed(CLI + ["tag", str(folder), "--out", str(base), "--quiet"])
    letters: dict[str, list[str]] = {}
    for line in open(base, encoding="utf-8"):
        letters.setdefault(json.loads(line)["sha256"], []).append(line)
    order = list(letters.items())
    made = {}
    for n in sizes:
        path = made[n] = tmp / f"tagged-{n}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for i in range(n):
                sha256, lines = order[i % len(order)]
                copy = i // len(letters)
                if not copy:
                    out.writelines(lines)
                    continue
                letter_id = json.loads(lines[0])["letter_id"]
                new_sha = f"{copy:08x}{sha256[8:]}"
                out.writelines(line.replace(sha256, new_sha).replace(letter_id, f"{letter_id}~{copy}")
                               for line in lines)
    return made


def bench_summarise(sizes: list[int], repeat: int = 1) -> dict:
    """`safeguarding-themes summarise` on tagged files of N letters: time and peak memory."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        files = build_tagged(Path(tmp), sizes)
        for n, path in files.items():
            findings = sum(1 for _ in open(path, encoding="utf-8"))
            done = [timed_tree(CLI + ["summarise", str(path), "--out", str(Path(tmp) / f"summary-{n}")])
                    for _ in range(repeat)]
            best = min(done, key=lambda r: r["seconds"])
            print(f"summarise: {n} letters, {findings} findings: {best['seconds']:.1f} s, "
                  f"peak {best['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
            runs.append({"letters": n, "findings": findings, "machine": machine(),
                         "file_mib": round(path.stat().st_size / 2**20, 1),
                         "seconds": best["seconds"], "runs": [r["seconds"] for r in done],
                         "findings_per_second": round(findings / best["seconds"], 1),
                         "peak_rss_mib": max(r["peak_rss_mib"] for r in done),
                         "command_output": best["output"]})
            path.unlink()
    return {"runs": runs}


def render_summarise(result: dict) -> list[str]:
    lines = ["## Summaries", "",
             "`safeguarding-themes summarise TAGGED --out DIR` on the tagged findings of N letters "
             "(the corpus PDFs and the seed letters tagged once, then each tagged letter written "
             "again under a new content hash and id), end to end: reading and checking every "
             "finding, the tables, XLSX, JSON and both reports. Peak memory (RSS) sampled every "
             f"0.2 s. Measured {result['measured']}.", ""]
    machines = list(dict.fromkeys(describe_machine(entry.get("machine")) for entry in result["runs"]))
    lines += [f"Machine: {'; '.join(machines)}.", "",
              "| letters | findings | file (MiB) | seconds (best; runs) | findings/s | peak RSS (MiB) |",
              "|---:|---:|---:|---|---:|---:|"]
    for entry in result["runs"]:
        runs = ", ".join(f"{s:.1f}" for s in entry["runs"])
        lines.append(f"| {entry['letters']:,} | {entry['findings']:,} | {entry['file_mib']:,.0f} | "
                     f"{entry['seconds']:.1f}; {runs} | {entry['findings_per_second']:,.0f} | "
                     f"{entry['peak_rss_mib']:.0f} |")
    if result.get("note"):
        lines += ["", f"Note: {result['note']}"]
    return lines + [""]


def render(results: dict) -> str:
    lines = ["# Benchmark results", "",
             "Each section names the machine it was measured on (a section measured again on "
             "another machine names both).", "", "Reproduce with `.venv/bin/python benchmarks/run.py BENCHMARK` "
             "(see the script's docstring).", ""]
    train = results.get("train")
    if train:
        lines += ["## Training on all gold labels", "",
                  f"`safeguarding-themes train` on {train['findings']} gold findings (theme model "
                  "with grouped inner cross-validation for calibration and thresholds, and the "
                  "judgement model with its comparison against the wording heuristic), measured "
                  f"{train['measured']}.", "",
                  f"Machine: {describe_machine(train.get('machine'))}.", "",
                  "| runs (s) | best (s) | peak RSS (MiB) | target |", "|---|---|---|---|",
                  f"| {', '.join(f'{s:.1f}' for s in train['runs'])} | {train['best_seconds']:.1f} | "
                  f"{train['peak_rss_mib']:.0f} | under 30 s |", "",
                  f"Command's own report: `{train['command_output']}`", ""]
        if train.get("note"):
            lines += [f"Note: {train['note']}", ""]
    for key in ("batch", "batch_rules"):
        if results.get(key):
            lines += render_batch(results[key])
    if results.get("summarise"):
        lines += render_summarise(results["summarise"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    train = sub.add_parser("train", help="time training on all gold labels")
    train.add_argument("--repeat", type=int, default=3)
    batch = sub.add_parser("batch", help="time batch tagging of N documents against the floor")
    batch.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    batch.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    batch.add_argument("--method", default="combined", choices=["combined", "rules"])
    batch.add_argument("--repeat", type=int, default=1,
                       help="rounds per size; the best time of each is reported")
    summarise = sub.add_parser("summarise", help="time summaries of N tagged letters")
    summarise.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    summarise.add_argument("--repeat", type=int, default=1,
                           help="runs per size; the best time is reported")
    args = parser.parse_args(argv)

    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    results.pop("machine", None)  # recorded per section and per size instead
    notes = {key: section.get("note") for key, section in results.items()}
    if args.benchmark == "train":
        results["train"] = bench_train(args.repeat)
        results["train"]["measured"] = time.strftime("%Y-%m-%d")
    if args.benchmark == "batch":
        key = "batch" if args.method == "combined" else f"batch_{args.method}"
        new = bench_batch(args.sizes, args.jobs, args.method, args.repeat)
        old = results.get(key) or {}
        if old.get("method") == args.method:  # keep the sizes not measured this time, with their date
            kept = [{"measured": old.get("measured"), **r} for r in old.get("runs", [])
                    if r["documents"] not in args.sizes]
            new["runs"] = sorted(kept + new["runs"], key=lambda r: r["documents"])
        results[key] = {**new, "measured": time.strftime("%Y-%m-%d")}
    if args.benchmark == "summarise":
        new = bench_summarise(args.sizes, args.repeat)
        old = (results.get("summarise") or {}).get("runs", [])
        new["runs"] = sorted([r for r in old if r["letters"] not in args.sizes] + new["runs"],
                             key=lambda r: r["letters"])
        results["summarise"] = {**new, "measured": time.strftime("%Y-%m-%d")}
    for key, section in results.items():
        # a note records history that a new run cannot measure again: it outlives the run
        # (to drop one, edit benchmarks/results.json)
        if notes.get(key) and not section.get("note"):
            section["note"] = notes[key]
    RESULTS_JSON.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    RESULTS_MD.write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
