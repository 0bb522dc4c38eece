"""Batch tagging: parallel workers, errors that do not stop the batch, duplicates,
the lock, and --resume after a real kill. The rules method keeps these tests
away from the real models/."""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (CORPUS, REPO, SEED_FILES, ctrl_c_after_workers_start, in_a_terminal,
                      kill_and_expect_workers_to_end)
from pipeline.cli import app

RULES = ["--method", "rules", "--quiet", "--themes", str(REPO / "labels" / "themes.yaml"),
         "--patterns", str(REPO / "labels" / "patterns.jsonl")]


def letters_folder(tmp_path: Path, corpus_pdfs: int = 0) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, path in SEED_FILES.items():
        shutil.copy(path, folder / f"{name}.txt")
    for pdf in sorted(CORPUS.glob("*.pdf"))[:corpus_pdfs]:
        shutil.copy(pdf, folder / pdf.name)
    return folder


def test_two_jobs_write_the_same_output_as_one(tmp_path, runner):
    folder = letters_folder(tmp_path, corpus_pdfs=3)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(one), "--jobs", "1"] + RULES)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["tag", str(folder), "--out", str(two), "--jobs", "2"] + RULES)
    assert result.exit_code == 0, result.output
    assert one.read_bytes() == two.read_bytes()
    records = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert {r["letter_id"] for r in records} == {p.stem for p in folder.iterdir()}
    assert all(len(r["sha256"]) == 64 for r in records)
    assert "8 letters" in result.output and not (tmp_path / "two.jsonl.partial").exists()
    # the output's folder holds the outputs only (DVC hashes whole folders)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "inbox", "one.jsonl", "one.jsonl.tagger.json", "two.jsonl", "two.jsonl.tagger.json"]


def test_a_bad_letter_is_reported_and_the_others_are_tagged(tmp_path, runner):
    folder = letters_folder(tmp_path)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "2"] + RULES)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "5 letters" in last and "2 letters failed" in last and "tagged.jsonl.errors.csv" in last
    errors = (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8").splitlines()
    assert errors[0] == "file,error" and len(errors) == 3
    assert any("broken.pdf" in e and "unreadable PDF" in e for e in errors)
    assert any("empty.txt" in e for e in errors)
    assert {json.loads(l)["letter_id"] for l in out.read_text(encoding="utf-8").splitlines()} == set(SEED_FILES)
    # a clean run afterwards removes the old errors file
    (folder / "broken.pdf").unlink()
    (folder / "empty.txt").unlink()
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    assert not (tmp_path / "tagged.jsonl.errors.csv").exists()


@pytest.mark.parametrize("findings", [False, True])
def test_an_output_that_is_a_folder_is_refused_before_any_letter_is_read(tmp_path, runner, monkeypatch, findings):
    import pipeline.ingest

    folder = letters_folder(tmp_path)
    out = tmp_path / "outdir"
    out.mkdir()
    monkeypatch.setattr(pipeline.ingest, "read_document", lambda path: pytest.fail("a letter was read"))
    source = ["--findings", str(REPO / "labels" / "gold.jsonl")] if findings else [str(folder)]
    result = runner.invoke(app, ["tag", *source, "--out", str(out)] + RULES)
    assert result.exit_code == 1 and f"{out}: is a folder, not a file" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inbox", "outdir"]


def test_the_same_letter_twice_is_tagged_once(tmp_path, runner):
    folder = letters_folder(tmp_path)
    shutil.copy(folder / "swindon_2011.txt", folder / "zz copy of swindon é.txt")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    assert "1 duplicate file tagged once" in result.output
    letters = {json.loads(l)["letter_id"] for l in out.read_text(encoding="utf-8").splitlines()}
    assert letters == set(SEED_FILES)
    assert "same content as" in (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8")


def test_the_final_line_counts_in_words_a_person_reads():
    from pipeline.batch import BatchSummary, describe

    one = describe(BatchSummary(letters=1, tagged=1, findings=1, tags=1, resumed=1, seconds=1.0,
                                errors=[("a.pdf", "x")], duplicates=[("b.pdf", "y")]), Path("t.jsonl"))
    assert one.startswith("tag: 1 letter, 1 finding, 1 theme tag -> t.jsonl (1.0 s, 1.0 letters/s; "
                          "1 letter was already done); 1 letter failed")
    assert "; 1 duplicate file tagged once" in one
    two = describe(BatchSummary(letters=2, tagged=2, findings=2, tags=2, resumed=2, seconds=1.0), Path("t.jsonl"))
    assert two == "tag: 2 letters, 2 findings, 2 theme tags -> t.jsonl (1.0 s, 2.0 letters/s; 2 letters were already done)"


def test_a_second_run_on_the_same_output_is_refused(tmp_path, runner):
    from pipeline.batch import OutputLock

    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    with OutputLock(out):
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 1
    assert "another 'tag' run" in result.output and "is writing this output" in result.output
    assert "Traceback" not in result.output and not out.exists()
    # released: the next run goes ahead
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "tag", *args] + RULES


@pytest.mark.slow
@pytest.mark.parametrize("fmt, jobs", [("jsonl", "1"), ("csv", "2")])
def test_resume_after_a_kill_gives_the_uninterrupted_output(tmp_path, fmt, jobs):
    folder = letters_folder(tmp_path, corpus_pdfs=12)
    letters = len(list(folder.iterdir()))
    expected = tmp_path / f"expected.{fmt}"
    options = ["--format", fmt, "--jobs", jobs]
    subprocess.run(cli(str(folder), "--out", str(expected), *options), cwd=REPO, check=True,
                   capture_output=True)

    out = tmp_path / f"tagged.{fmt}"
    partial = tmp_path / f"tagged.{fmt}.partial"
    journal = tmp_path / f"tagged.{fmt}.partial.journal"
    seed = random.randrange(1 << 30)
    choose = random.Random(seed)
    last = letters - 4
    for attempt in range(4):
        out.write_text("an earlier output\n", encoding="utf-8")
        for leftover in (partial, journal):
            leftover.unlink(missing_ok=True)
        stop_after = choose.randrange(1, last)   # letters left to kill it in
        process = subprocess.Popen(cli(str(folder), "--out", str(out), *options), cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            # the journal's first line is its header; then a line per letter
            if journal.exists() and journal.read_text(encoding="utf-8").count("\n") > stop_after:
                break
            time.sleep(0.005)
        time.sleep(choose.random() * 0.02)   # somewhere in the next letter
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)   # a run that ended meanwhile is a zombie until waited for
        code = process.wait()
        assert code in (0, -signal.SIGKILL), f"the run failed with exit code {code} (seed {seed})"
        # A kill after the partial output became the output (while the run wrote its
        # record) is a kill of a finished run, not one mid-run
        if code == -signal.SIGKILL and partial.exists():
            break
        # Workers run ahead of the writer: the last letters can all be written within
        # that pause and the run finish before the kill. Try again, earlier in the run.
        last = max(2, stop_after)
    else:
        pytest.fail(f"every run finished before the kill (seed {seed})")

    # the earlier output is intact, and the partial one holds whole letters only
    assert out.read_text(encoding="utf-8") == "an earlier output\n"
    done = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()[1:]]
    assert done, f"seed {seed}"
    kept = partial.read_bytes()[:done[-1]["end"]]
    assert expected.read_bytes().startswith(kept), f"seed {seed}"
    if fmt == "jsonl":
        assert all(json.loads(line) for line in kept.decode("utf-8").splitlines())

    resumed = subprocess.run(cli(str(folder), "--out", str(out), "--resume", *options), cwd=REPO,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert (f"{len(done)} letters were already done" if len(done) > 1 else "1 letter was already done") \
        in resumed.stderr
    assert out.read_bytes() == expected.read_bytes(), f"seed {seed}"
    assert not journal.exists() and not partial.exists()


def interrupted(out: Path) -> list[str]:
    """All a run stopped by Ctrl-C may print: one line."""
    return [f"safeguarding-themes: error: interrupted; the letters done are kept in {out}.partial: "
            "run the same command with --resume to finish"]


@pytest.mark.slow
def test_ctrl_c_with_two_jobs_prints_one_line(tmp_path, ctrl_c_on):
    """Ctrl-C reaches the run and its workers (the terminal's process group): the run
    stops them and says one line. It used to print a traceback of loky's manager
    thread, or the resource tracker's warnings, in most tries."""
    # every corpus PDF: a run of a few seconds, so that Ctrl-C lands while it works
    folder = letters_folder(tmp_path, corpus_pdfs=len(list(CORPUS.glob("*.pdf"))))
    journal = tmp_path / "t.jsonl.partial.journal"
    for attempt in range(3):
        for leftover in (journal, tmp_path / "t.jsonl.partial"):
            leftover.unlink(missing_ok=True)
        process = in_a_terminal(cli(str(folder), "--out", str(tmp_path / "t.jsonl"), "--jobs", "2"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and not (
                journal.exists() and journal.read_text(encoding="utf-8").count("\n") > 1 + attempt):
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before Ctrl-C"
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130 and stdout == "", stdout + stderr
        assert stderr.strip().splitlines() == interrupted(tmp_path / "t.jsonl"), stderr


WORKERS_STARTED = """
import json, signal, sys
from pathlib import Path

import psutil
from joblib import Parallel, delayed

from pipeline import workers


def sigint_blocked(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigBlk:"))
    return bool(mask & (1 << (signal.SIGINT - 1)))


with workers.worker_pool():
    parallel = Parallel(n_jobs=2, return_as="generator", batch_size=1)
    with workers.sigint_held():
        results = parallel(delayed(abs)(-k) for k in range(4))
        run_inside = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    # read at once: the workers are still importing
    started = [c.pid for c in psutil.Process().children(recursive=True)
               if "LokyProcess" in " ".join(c.cmdline())]
    held = [sigint_blocked(pid) for pid in started]
    values = list(results)
json.dump({"held": held, "run_inside": run_inside, "values": values,
           "run_after": signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])}, sys.stdout)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_workers_start_with_ctrl_c_held_back_until_they_ignore_it():
    """Each worker takes about half a second to import before watch_parent makes it
    ignore Ctrl-C; a Ctrl-C in that time printed a KeyboardInterrupt traceback from
    every worker (3 of 10 tries 0.07-0.21 s after the workers appeared). CPython's
    resource tracker, started with them, unblocked the run's Ctrl-C. A new process:
    this one's workers may have started already, for other tests."""
    result = subprocess.run([sys.executable, "-c", WORKERS_STARTED], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["values"] == [0, 1, 2, 3]
    assert len(seen["held"]) == 2 and all(seen["held"]), seen
    assert seen["run_inside"] and not seen["run_after"], seen


@contextlib.contextmanager
def a_thread_that_takes_ctrl_c():
    """A thread that does not block Ctrl-C (the run has several): the kernel gives it
    a Ctrl-C that the main thread blocks."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        yield
    finally:
        stop.set()
        other.join()


def test_a_ctrl_c_while_workers_start_is_raised_after_they_have_started(ctrl_c_on):
    """The mask holds Ctrl-C back from this thread only: another thread takes it and
    Python raised KeyboardInterrupt here at once, in the middle of starting a worker,
    which then printed tracebacks on stdout."""
    from pipeline.workers import sigint_held

    before = signal.getsignal(signal.SIGINT)
    finished = False
    with a_thread_that_takes_ctrl_c(), pytest.raises(KeyboardInterrupt):
        with sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)   # where KeyboardInterrupt came
            finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_a_ctrl_c_while_workers_start_wins_over_an_error_meanwhile(ctrl_c_on):
    from pipeline.workers import sigint_held

    with a_thread_that_takes_ctrl_c(), pytest.raises(KeyboardInterrupt):
        with sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            raise ValueError("a worker could not start")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_an_ignored_ctrl_c_stays_ignored_while_workers_start():
    """A run in the background of a script ignores Ctrl-C; so does its start of workers."""
    from pipeline.workers import sigint_held

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with a_thread_that_takes_ctrl_c(), sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    except KeyboardInterrupt:
        pytest.fail("an ignored Ctrl-C was raised")
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.slow
def test_ctrl_c_as_the_workers_start_prints_one_line(tmp_path, ctrl_c_on):
    folder = letters_folder(tmp_path, corpus_pdfs=12)
    # the first: while the run starts its workers; then while they import
    for delay in (0.0, 0.002, 0.005, 0.01, 0.05, 0.1, 0.15, 0.2):
        out = tmp_path / f"t{delay}.jsonl"
        returncode, stdout, stderr = ctrl_c_after_workers_start(
            cli(str(folder), "--out", str(out), "--jobs", "2"), delay)
        assert returncode == 130 and stdout == "", stdout + stderr
        assert stderr.strip().splitlines() == interrupted(out), f"Ctrl-C {delay} s after the workers started:\n{stderr}"


def test_ctrl_c_held_back_while_the_workers_start_stops_the_run_quietly(tmp_path, ctrl_c_on):
    """The Ctrl-C is raised where the workers were started, before any result: the
    run stops them and says one line (no joblib warning about cancelled letters)."""
    folder = letters_folder(tmp_path)
    out = tmp_path / "t.jsonl"
    script = (
        "import contextlib, os, signal, sys\n"
        "import pipeline.workers as workers\n"
        "held = workers.sigint_held\n"
        "@contextlib.contextmanager\n"
        "def interrupted():\n"
        "    with held():\n"
        "        yield\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "workers.sigint_held = interrupted\n"
        "from pipeline.cli import main\n"
        "sys.argv = ['safeguarding-themes'] + sys.argv[1:]\n"
        "main()\n")
    result = subprocess.run([sys.executable, "-c", script, "tag", str(folder), "--out", str(out), "--jobs", "2"]
                            + RULES, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines() == interrupted(out)


def test_a_killed_run_leaves_no_worker_behind(tmp_path):
    """kill -9 (or the out-of-memory killer) gives a run no chance to stop its workers:
    they must notice and end, not wait for ever holding a tagger's memory."""
    import psutil

    folder = letters_folder(tmp_path, corpus_pdfs=12)
    process = subprocess.Popen(cli(str(folder), "--out", str(tmp_path / "t.jsonl"), "--jobs", "2"), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "t.jsonl.partial.journal"
    deadline = time.monotonic() + 120
    # workers are started and tagging once the first letter is written
    while time.monotonic() < deadline and process.poll() is None and not (
            journal.exists() and journal.read_text(encoding="utf-8").count("\n") > 1):
        time.sleep(0.01)
    workers = [c for c in psutil.Process(process.pid).children(recursive=True)
               if "loky" in " ".join(c.cmdline())]
    assert process.poll() is None and len(workers) >= 2, "the run ended before the kill"
    kill_and_expect_workers_to_end(process, workers)


def test_a_csv_output_of_an_earlier_version_is_not_carried_on(tmp_path, runner):
    """Its letters have no inspection dates: carried on, they would stay undated in the
    summaries. Both a finished output and a partial one are refused, and kept."""
    import csv

    from pipeline.batch import EARLIER_TAG_FIELDS

    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.csv"
    options = ["--out", str(out), "--format", "csv"] + RULES
    assert runner.invoke(app, ["tag", str(folder)] + options).exit_code == 0
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(out, "w", encoding="utf-8", newline="") as handle:   # as an earlier version wrote it
        writer = csv.DictWriter(handle, EARLIER_TAG_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    before = out.read_bytes()
    result = runner.invoke(app, ["tag", str(folder), "--resume"] + options)
    assert result.exit_code == 1
    assert ("cannot resume: tagged.csv was written by an earlier version of 'tag', without the inspection's "
            "dates") in result.stderr and "leave out --resume" in result.stderr
    assert out.read_bytes() == before

    partial = tmp_path / "tagged.csv.partial"
    partial.write_bytes(before)
    result = runner.invoke(app, ["tag", str(folder), "--resume"] + options)
    assert result.exit_code == 1
    assert "cannot resume: tagged.csv.partial was written by an earlier version of 'tag'" in result.stderr
    assert partial.read_bytes() == before and out.read_bytes() == before


def test_resume_skips_letters_by_content_and_retags_a_changed_one(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    before = {json.loads(l)["id"]: l for l in out.read_text(encoding="utf-8").splitlines()}
    changed = folder / "sandwell_2011.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace(
        "Sandwell", "Sandwell Metropolitan Borough"), encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    assert "4 letters were already done" in result.output
    after = {json.loads(l)["id"]: l for l in out.read_text(encoding="utf-8").splitlines()}
    assert set(after) == set(before)
    for finding_id, line in after.items():
        if finding_id.startswith("sandwell_2011#"):
            assert json.loads(line)["sha256"] != json.loads(before[finding_id])["sha256"]
        else:
            assert line == before[finding_id]


def test_resume_keeps_a_letter_of_another_folder_with_the_same_file_name(tmp_path, runner):
    seeds = sorted(SEED_FILES.values())
    out = tmp_path / "tagged.jsonl"
    for year, seed in (("2019", seeds[0]), ("2020", seeds[1])):
        (tmp_path / year).mkdir()
        shutil.copy(seed, tmp_path / year / "letter.txt")
    assert runner.invoke(app, ["tag", str(tmp_path / "2019"), "--out", str(out)] + RULES).exit_code == 0
    result = runner.invoke(app, ["tag", str(tmp_path / "2020"), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    sources = {json.loads(line)["source"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert sources == {str(tmp_path / "2019" / "letter.txt"), str(tmp_path / "2020" / "letter.txt")}


def test_resume_from_a_moved_folder_retags_a_changed_letter_once(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    moved = folder.rename(tmp_path / "moved")
    changed = moved / "sandwell_2011.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace("Sandwell", "Sandwell Borough"),
                       encoding="utf-8")
    result = runner.invoke(app, ["tag", str(moved), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    letters = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        letters.setdefault(Path(record["source"]).name, set()).add(record["sha256"])
    assert len(letters) == len(SEED_FILES) and all(len(hashes) == 1 for hashes in letters.values())
    assert letters["sandwell_2011.txt"] == {hashlib.sha256(changed.read_bytes()).hexdigest()}


def test_resume_with_another_format_is_refused(tmp_path, runner):
    from pipeline.batch import PartialOutput, Plan

    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.out"
    output = PartialOutput(out, "csv", False, Plan([]), "settings")
    output.close()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 1
    assert "cannot resume: tagged.out.partial was written with --format csv" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_resume_refuses_an_output_edited_to_hold_half_a_character(tmp_path, runner):
    """'tag' writes no lone surrogate ('\\ud800'); one written into the output by hand
    would end the run with a traceback when the journal or the letter's path is written."""
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[1])
    lines[1] = json.dumps({**record, "letter_id": record["letter_id"] + "\ud800"}) + "\n"
    out.write_text("".join(lines), encoding="utf-8")
    before = out.read_bytes()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{out}:2: cannot resume: half of a character" in result.output
    assert out.read_bytes() == before


def test_a_failed_carry_over_leaves_nothing_a_later_resume_would_trust(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.out"   # a name that says no format: --format decides
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out), "--format", "csv"] + RULES).exit_code == 0
    before = out.read_bytes()
    # the wrong --format: the finished CSV output is not JSONL
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--format", "jsonl"] + RULES)
    assert result.exit_code == 1 and "cannot resume" in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("tagged")) == [
        "tagged.out", "tagged.out.tagger.json"]
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--format", "csv"] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters were already done" in result.output
    assert out.read_bytes() == before


def test_a_letter_added_with_the_same_file_name_gets_its_own_id(tmp_path, runner):
    folder = tmp_path / "inbox"
    (folder / "2020").mkdir(parents=True)
    shutil.copy(SEED_FILES["swindon_2011"], folder / "2020" / "letter.txt")
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    (folder / "2019").mkdir()
    shutil.copy(SEED_FILES["sandwell_2011"], folder / "2019" / "letter.txt")  # sorts first
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    records = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    by_source = {}
    for r in records:
        by_source.setdefault(r["letter_id"], set()).add(r["source"])
    assert all(len(sources) == 1 for sources in by_source.values()), by_source
    assert len(by_source) == 2 and len({r["id"] for r in records}) == len(records)


def test_when_every_letter_fails_the_run_fails_and_the_earlier_output_stays(tmp_path, runner):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    out.write_text("the earlier output\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no letter could be tagged" in lines[0] and "errors.csv" in lines[0]
    assert out.read_text(encoding="utf-8") == "the earlier output\n"
    assert not (tmp_path / "tagged.jsonl.partial").exists()
    assert len((tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8").splitlines()) == 3


def test_resume_is_refused_for_a_findings_file(tmp_path, runner):
    findings = tmp_path / "f.jsonl"
    findings.write_text(json.dumps({"id": "a", "text": "Visits are timely."}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(tmp_path / "t.jsonl"),
                                 "--resume"] + RULES)
    assert result.exit_code == 1 and "--resume is for letters" in result.output


def interrupt_after(monkeypatch, letters: int) -> None:
    """Make the next run stop like Ctrl-C once ``letters`` letters are written."""
    from pipeline import batch

    real_add = batch.PartialOutput.add
    count = {"n": 0}

    def add(self, entry, block):
        real_add(self, entry, block)
        count["n"] += 1
        if count["n"] == letters:
            raise KeyboardInterrupt

    monkeypatch.setattr(batch.PartialOutput, "add", add)


def test_a_letter_changed_after_an_interrupt_is_tagged_again_once(tmp_path, runner, monkeypatch):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 3)
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES)
    assert result.exit_code == 130 and "--resume" in result.output
    assert (tmp_path / "tagged.jsonl.partial").exists() and not out.exists()
    changed = folder / "gloucestershire_2010.txt"   # the first in order: already done
    changed.write_text(changed.read_text(encoding="utf-8") + "\nThe authority must improve supervision.\n",
                       encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--jobs", "1"] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters" in result.output and "2 letters were already done" in result.output
    fresh = tmp_path / "fresh.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(fresh), "--jobs", "1"] + RULES).exit_code == 0
    records = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in records}) == len(records)
    assert sorted(out.read_text(encoding="utf-8").splitlines()) == sorted(fresh.read_text(encoding="utf-8").splitlines())


def test_resuming_a_finished_output_with_another_method_is_refused(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    # as if tagged by the combined tagger (the tests never use the real models/)
    out.write_text(out.read_text(encoding="utf-8").replace('"method": "rules"', '"method": "combined"'),
                   encoding="utf-8")
    before = out.read_bytes()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 1, result.output
    assert "cannot resume: the output was tagged with --method combined" in result.output
    assert out.read_bytes() == before and not (tmp_path / "tagged.jsonl.partial").exists()


def test_a_finished_output_records_the_tagger_that_made_it(tmp_path, runner):
    from pipeline.artifacts import sha256_file

    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.csv"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out), "--format", "csv"] + RULES).exit_code == 0
    made = json.loads((tmp_path / "tagged.csv.tagger.json").read_text(encoding="utf-8"))
    assert made["format"] == "csv" and made["method"] == "rules"
    assert made["files"] == {"themes": sha256_file(REPO / "labels" / "themes.yaml"),
                             "patterns": sha256_file(REPO / "labels" / "patterns.jsonl")}
    assert "unchecked" not in made
    # an output written by 'tag --findings' is not that batch run's output any more
    findings = tmp_path / "findings.csv"
    findings.write_text("id,text\na,Visits are timely.\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(out), "--format", "csv"] + RULES)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "tagged.csv.tagger.json").exists()


def test_resuming_a_finished_output_after_the_patterns_changed_is_refused(tmp_path, runner):
    folder = letters_folder(tmp_path)
    patterns = tmp_path / "patterns.jsonl"
    shutil.copy(REPO / "labels" / "patterns.jsonl", patterns)
    options = RULES[:-1] + [str(patterns)]
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + options).exit_code == 0
    before = out.read_bytes()
    (folder / "new.txt").write_text((folder / "swindon_2011.txt").read_text(encoding="utf-8") + "\nNew.\n",
                                    encoding="utf-8")
    lines = patterns.read_text(encoding="utf-8").splitlines(keepends=True)
    patterns.write_text("".join(lines[:-1]), encoding="utf-8")   # one rule fewer
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + options)
    assert result.exit_code == 1, result.output
    assert "cannot resume: tagged.jsonl was tagged with other patterns (see tagged.jsonl.tagger.json)" \
        in result.output
    assert "leave out --resume" in result.output and "Traceback" not in result.output
    assert out.read_bytes() == before and not (tmp_path / "tagged.jsonl.partial").exists()
    # with the patterns it was made with (under any file name), the new letter is added
    renamed = tmp_path / "patterns-2026-11.jsonl"
    renamed.write_text("".join(lines), encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES[:-1] + [str(renamed)])
    assert result.exit_code == 0, result.output
    assert "5 letters were already done" in result.output and out.read_bytes().startswith(before)


def test_resuming_a_finished_output_without_its_tagger_record_warns(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    record = tmp_path / "tagged.jsonl.tagger.json"
    record.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 1
    assert "cannot resume: tagged.jsonl.tagger.json cannot be read" in result.output
    record.unlink()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    assert "no tagged.jsonl.tagger.json beside it" in result.output
    assert "5 letters were already done" in result.output
    # the record made now does not vouch for the letters kept unchecked
    assert json.loads(record.read_text(encoding="utf-8"))["unchecked"] is True
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0 and "not checked against the current patterns" in result.output
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 0 and "unchecked" not in json.loads(record.read_text(encoding="utf-8"))


def test_a_stop_as_the_output_is_replaced_leaves_no_record_of_another_output(tmp_path, runner, monkeypatch):
    from pipeline import batch

    folder = letters_folder(tmp_path)
    patterns = tmp_path / "patterns.jsonl"
    lines = (REPO / "labels" / "patterns.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    patterns.write_text("".join(lines), encoding="utf-8")
    options = RULES[:-1] + [str(patterns)]
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + options).exit_code == 0
    before = out.read_bytes()
    patterns.write_text("".join(lines[:-1]), encoding="utf-8")   # other patterns, and a stop:
    real_replace = os.replace

    def replace(source, target):
        if Path(target) == out:
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(batch.os, "replace", replace)
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + options)
    assert result.exit_code == 1 and out.read_bytes() == before
    # the leftover partial output is deleted: the old output stays, with no record that
    # claims the new patterns made it
    for leftover in tmp_path.glob("tagged.jsonl.partial*"):
        leftover.unlink()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + options)
    assert result.exit_code == 0 and "no tagged.jsonl.tagger.json beside it" in result.output


def test_a_file_name_that_is_not_utf8_is_reported_and_the_others_are_tagged(tmp_path, runner):
    folder = letters_folder(tmp_path)
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.txt")
    with open(odd, "wb") as handle:
        handle.write(SEED_FILES["swindon_2011"].read_bytes() + b"\n")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters" in result.output and "1 letter failed" in result.output
    errors = (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8")
    assert "caf\\xe9.txt: file name is not valid UTF-8" in errors


@pytest.mark.parametrize("folder_name, file_name, message", [
    (b"caf\xe9", b"letter.txt",
     "caf\\xe9/letter.txt: the name of a folder on its path is not valid UTF-8 (rename that folder)"),
    (b"caf\xe9", b"d\xfe.txt",
     "caf\\xe9/d\\xfe.txt: neither the file's name nor a folder's on its path is valid UTF-8 (rename them)"),
])
def test_a_folder_name_that_is_not_utf8_is_reported_and_the_others_are_tagged(tmp_path, runner, folder_name,
                                                                             file_name, message):
    folder = letters_folder(tmp_path)
    odd = os.path.join(os.fsencode(folder), folder_name)
    os.mkdir(odd)
    with open(os.path.join(odd, file_name), "wb") as handle:
        handle.write(SEED_FILES["swindon_2011"].read_bytes() + b"\n")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters" in result.output and "1 letter failed" in result.output
    assert message in (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8")


def test_letters_kept_unchecked_stay_marked_across_an_interrupt(tmp_path, runner, monkeypatch):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES).exit_code == 0
    (tmp_path / "tagged.jsonl.tagger.json").unlink()
    for name in ("new1", "new2"):
        (folder / f"{name}.txt").write_text((folder / "swindon_2011.txt").read_text(encoding="utf-8")
                                            + f"\nAdded as {name}.\n", encoding="utf-8")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 6)   # the 5 letters kept, and one new
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--jobs", "1"] + RULES)
    assert result.exit_code == 130
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--jobs", "1"] + RULES)
    assert result.exit_code == 0, result.output
    assert "tagged.jsonl.partial: holds letters kept from an output that had no tagger record" in result.output
    assert "6 letters were already done" in result.output
    made = json.loads((tmp_path / "tagged.jsonl.tagger.json").read_text(encoding="utf-8"))
    assert made["unchecked"] is True


def test_a_run_interrupted_under_an_earlier_version_resumes(tmp_path, runner):
    """Versions before 2026-11-23 fingerprinted the settings by file name: their
    partial output, resumed with the same options, is carried on, not refused."""
    from pipeline.batch import PartialOutput, Plan, TaggerConfig

    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    config = TaggerConfig(RULES[4], RULES[6], "rules", "models")
    assert config.legacy_fingerprint() != config.fingerprint()
    PartialOutput(out, "jsonl", False, Plan([]), config.legacy_fingerprint()).close()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters" in result.output and out.exists()
    # other settings in that old form are still refused
    PartialOutput(out, "jsonl", False, Plan([]), TaggerConfig(RULES[4], RULES[6], "combined",
                                                              "models").legacy_fingerprint()).close()
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 1 and "other tagger settings" in result.output


def test_a_tagger_record_of_another_version_is_not_trusted(tmp_path, runner):
    folder = letters_folder(tmp_path)
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    record = tmp_path / "tagged.jsonl.tagger.json"
    made = json.loads(record.read_text(encoding="utf-8"))
    made.pop("record", None)   # as the record of an earlier version
    record.write_text(json.dumps(made), encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
    assert result.exit_code == 0, result.output
    assert "tagged.jsonl.tagger.json is of another version" in result.output
    assert json.loads(record.read_text(encoding="utf-8"))["unchecked"] is True


def test_a_record_that_cannot_be_removed_is_a_one_line_error(tmp_path, runner, monkeypatch):
    out = tmp_path / "tagged.jsonl"
    out.write_text("the earlier output\n", encoding="utf-8")
    (tmp_path / "tagged.jsonl.tagger.json").write_text("{}", encoding="utf-8")
    findings = tmp_path / "findings.csv"
    findings.write_text("id,text\na,Visits are timely.\n", encoding="utf-8")
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self.name.endswith(".tagger.json"):
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(out)] + RULES)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot write here (permission denied)" in result.output
    assert out.read_text(encoding="utf-8") == "the earlier output\n"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_findings_without_ids_in_a_file_whose_name_is_not_utf8_get_ids_of_its_bytes(tmp_path, runner, suffix):
    findings = tmp_path / os.fsdecode(b"find\xe9" + suffix.encode())
    text = "Leaders must act on delays in child protection work."
    findings.write_text(json.dumps({"text": text}) + "\n" if suffix == ".jsonl" else f"text\n{text}\n",
                        encoding="utf-8")
    out = tmp_path / "t.jsonl"
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["find\\xe9#0002"
                                                                                                if suffix == ".csv"
                                                                                                else "find\\xe9#0001"]


def test_a_findings_spreadsheet_keeps_its_own_judgements(tmp_path, runner):
    sheet = tmp_path / "findings.csv"
    sheet.write_text("id,text,judgement\n"
                     "a,Leaders must act on delays in child protection work.,priority_action\n"
                     "b,Supervision is regular and reflective.,\n"
                     "c,Caseloads are high.,needs work\n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert (records["a"]["judgement"], records["a"]["judged_by"]) == ("priority_action", "given")
    assert records["b"]["judged_by"] == "wording" and "judgement_given" not in records["b"]
    assert records["c"]["judged_by"] == "wording" and records["c"]["judgement_given"] == "needs work"


def test_resume_refuses_findings_that_are_not_a_batch_output(tmp_path, runner):
    """Findings from 'segment' or 'tag --findings' name no letter's sha256: counted as
    done, their letters would never be tagged (or tagged twice)."""
    folder = letters_folder(tmp_path)
    segmented = tmp_path / "segmented.jsonl"
    result = runner.invoke(app, ["segment", str(folder), "--out", str(segmented), "--quiet"])
    assert result.exit_code == 0, result.output
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,text\nx1,Children wait too long for help.\n", encoding="utf-8")
    from_sheet = tmp_path / "sheet-tagged.jsonl"
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(from_sheet)] + RULES)
    assert result.exit_code == 0, result.output
    for out in (segmented, from_sheet):
        before = out.read_bytes()
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume"] + RULES)
        assert result.exit_code == 1, result.output
        assert f"{out}:1: cannot resume: not a batch output of 'tag'" in result.output
        assert out.read_bytes() == before


def test_an_out_ending_csv_gets_csv_without_format(tmp_path, runner):
    folder = letters_folder(tmp_path)
    result = runner.invoke(app, ["tag", str(folder), "--out", str(tmp_path / "t.csv")] + RULES)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").startswith("id,letter_id,")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(tmp_path / "j.out"), "--format", "jsonl"]
                           + RULES)
    assert (tmp_path / "j.out").read_text(encoding="utf-8").startswith("{")


@pytest.mark.parametrize("command", [["tag", "--method", "rules"], ["segment"]])
@pytest.mark.parametrize("name, options, message", [
    # 'summarise' reads a table by its name's ending: it refused the tool's own output
    ("j.csv", ["--format", "jsonl"], "j.csv: --format jsonl does not match the name's ending .csv "
                                     "(name it .jsonl, or leave out --format)"),
    ("c.jsonl", ["--format", "csv"], "c.jsonl: --format csv does not match the name's ending .jsonl"),
    ("t.xlsx", [], "t.xlsx: --out names a .xlsx file, but this command writes JSONL or CSV (end the name "
                   ".jsonl or .csv; 'summarise' writes XLSX"),
    ("t.html", ["--format", "csv"], "t.html: --out names a .html file"),
])
def test_an_out_whose_name_says_another_format_is_refused_before_any_work(tmp_path, runner, command, name,
                                                                         options, message):
    folder = letters_folder(tmp_path)
    out = tmp_path / "new" / name
    result = runner.invoke(app, [command[0], str(folder), "--out", str(out), *options, *command[1:]])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"error: {out.parent}/{message}" in result.output
    assert not out.parent.exists()
    if command[0] != "tag":
        return
    # a findings file too, before the models are looked for or the output's folder made
    findings = tmp_path / "findings.jsonl"
    findings.write_text('{"id": "a", "text": "Visits are timely."}\n', encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(out), *options,
                                 "--models", str(tmp_path / "no-models")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"error: {out.parent}/{message}" in result.output
    assert not out.parent.exists()


@pytest.mark.parametrize("content, message", [
    (None, "is a folder, not a file"),
    ('{"id": "b", "text": 123}\n', "sheet.jsonl:1: 'text' must be a string, got 123"),
    ('{"id": "a", "text": "One."}\n{"id": "a", "text": "Two."}\n',
     "sheet.jsonl:2: duplicate id 'a' (first on line 1)"),
])
def test_a_bad_findings_file_is_a_one_line_error(tmp_path, runner, content, message):
    sheet = tmp_path / "sheet.jsonl"
    if content is None:
        sheet.mkdir()
    else:
        sheet.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(tmp_path / "o.jsonl")] + RULES)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_empty_rows_at_the_end_of_a_spreadsheet_are_skipped(tmp_path, runner):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("\ufeffid,text,notes\nx1,Children wait too long for help.,n\n,,\n,,\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(tmp_path / "o.jsonl")] + RULES)
    assert result.exit_code == 0, result.output
    assert "1 finding, " in result.output
    assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_a_copy_of_a_letter_that_failed_is_reported_failed_not_tagged_once(tmp_path, runner):
    folder = letters_folder(tmp_path)
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (folder / "empty copy.txt").write_text("   \n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "5 letters" in last and "2 letters failed" in last and "duplicate" not in last
    errors = (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8")
    assert "same content as " in errors and "which could not be tagged" in errors


def test_a_letter_without_findings_is_not_read_again_by_a_resume(tmp_path, runner, monkeypatch):
    import pipeline.ingest

    folder = letters_folder(tmp_path)
    minutes = folder / "minutes.txt"
    minutes.write_text("Minutes of the meeting\n\nDear colleagues\n\nYours sincerely\n\nA Clerk\n",
                       encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    first = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES)
    assert first.exit_code == 0, first.output
    assert "minutes.txt: no findings" in first.output and "6 letters" in first.output
    before = out.read_bytes()
    made = json.loads((tmp_path / "tagged.jsonl.tagger.json").read_text(encoding="utf-8"))
    assert [m["source"] for m in made["without_findings"]] == [str(minutes)]

    read = []
    real = pipeline.ingest.read_document
    monkeypatch.setattr(pipeline.ingest, "read_document", lambda path: read.append(path) or real(path))
    again = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1", "--resume"] + RULES)
    assert again.exit_code == 0, again.output
    assert read == [] and "6 letters were already done" in again.output and "no findings" not in again.output
    assert out.read_bytes() == before
    # still listed after the resume, and read again once its content changes
    made = json.loads((tmp_path / "tagged.jsonl.tagger.json").read_text(encoding="utf-8"))
    assert [m["source"] for m in made["without_findings"]] == [str(minutes)]
    minutes.write_text("Minutes of the meeting\n\nDear all\n\nYours sincerely\n\nA Clerk\n", encoding="utf-8")
    third = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1", "--resume"] + RULES)
    assert third.exit_code == 0, third.output
    assert [str(p) for p in read] == [str(minutes)] and "5 letters were already done" in third.output


def test_tagging_findings_into_a_batch_output_removes_its_errors_file(tmp_path, runner):
    folder = letters_folder(tmp_path)
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    assert runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES).exit_code == 0
    assert (tmp_path / "tagged.jsonl.errors.csv").exists()
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,text\na,Visits are timely.\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "tagged.jsonl.errors.csv").exists()


def test_a_spreadsheet_with_two_text_columns_is_a_one_line_error(tmp_path, runner):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,Text,notes,text \na,Visits are timely.,n,Plans are weak.\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(sheet), "--out", str(tmp_path / "o.jsonl")] + RULES)
    assert result.exit_code == 1
    assert "sheet.csv:1: 'text': this column is in the header twice" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_copy_of_a_letter_that_failed_before_an_interrupt_is_reported_failed(tmp_path, runner, monkeypatch):
    folder = letters_folder(tmp_path)
    (folder / "aa empty.txt").write_text("   \n", encoding="utf-8")   # first in order: fails, then the stop
    out = tmp_path / "tagged.jsonl"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        assert runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES).exit_code == 130
    # a copy added since, first in order now: the failure kept names the other file
    (folder / "a copy.txt").write_text("   \n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--resume", "--jobs", "1"] + RULES)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "5 letters" in last and "2 letters failed" in last and "duplicate" not in last
    errors = (tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(line.split(",")[0] for line in errors) == [str(folder / "a copy.txt"), str(folder / "aa empty.txt")]
    assert any("a copy.txt: same content as " in line and "which could not be tagged" in line for line in errors)


def test_a_file_named_twice_is_read_once(tmp_path, runner):
    folder = letters_folder(tmp_path)
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    out = tmp_path / "tagged.jsonl"
    some = sorted(folder.glob("*.txt"))[0]
    result = runner.invoke(app, ["tag", str(folder), str(folder / "empty.txt"), str(some), "--out", str(out)]
                           + RULES)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "5 letters" in last and "1 letter failed" in last and "duplicate" not in last
    assert len((tmp_path / "tagged.jsonl.errors.csv").read_text(encoding="utf-8").splitlines()) == 2


def test_resume_keeps_a_deleted_letter_whose_name_another_letter_has(tmp_path, runner, monkeypatch):
    seeds = sorted(SEED_FILES.values())
    folder = tmp_path / "letters"
    for year, seed in (("2023", seeds[0]), ("2024", seeds[1])):
        (folder / year).mkdir(parents=True)
        shutil.copy(seed, folder / year / "letter.txt")
    shutil.copy(seeds[2], folder / "other.txt")
    out = tmp_path / "tagged.jsonl"
    tag = ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES
    assert runner.invoke(app, tag).exit_code == 0
    whole = out.read_bytes()
    deleted = folder / "2023" / "letter.txt"
    kept = deleted.read_bytes()
    deleted.unlink()
    # after a finished run
    result = runner.invoke(app, tag + ["--resume"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == whole and "3 letters" in result.output
    # after an interrupted one that had done both letters of that name
    deleted.write_bytes(kept)
    out.unlink()
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        assert runner.invoke(app, tag).exit_code == 130
    deleted.unlink()
    result = runner.invoke(app, tag + ["--resume"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == whole and "3 letters" in result.output


def test_tag_never_writes_over_its_input(tmp_path, runner):
    letter = tmp_path / "letter.txt"
    shutil.copy(sorted(SEED_FILES.values())[0], letter)
    before = letter.read_bytes()
    result = runner.invoke(app, ["tag", str(letter), "--out", str(letter)] + RULES)
    assert result.exit_code == 1 and "letter.txt: is one of the letters read" in result.output
    findings = tmp_path / "findings.jsonl"
    findings.write_text(json.dumps({"text": "Plans are weak."}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(findings)] + RULES)
    assert result.exit_code == 1 and "findings.jsonl: is the findings file read" in result.output
    assert letter.read_bytes() == before and json.loads(findings.read_text(encoding="utf-8")) == {"text": "Plans are weak."}


@pytest.mark.parametrize("field, value, message", [
    ("section", ["Help"], "'section' must be text, got list"),
    ("subsection", {"a": 1}, "'subsection' must be text, got dict"),
    ("context", True, "'context' must be text, got bool"),
    ("paragraph", [1], "'paragraph' must be a number, got list"),
])
def test_a_findings_field_of_the_wrong_type_is_a_one_line_error(tmp_path, runner, field, value, message):
    findings = tmp_path / "findings.jsonl"
    rows = [{"text": "Plans are weak."}, {"text": "Plans are weak.", field: value}]
    findings.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(tmp_path / "t.jsonl")] + RULES)
    assert result.exit_code == 1 and f"findings.jsonl:2: {message}" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_findings_keep_a_judgement_typed_as_a_person_would_and_their_columns_order(tmp_path, runner):
    findings = tmp_path / "findings.csv"
    findings.write_text("Region,text,judgement,section,notes\n"
                        "North West,Plans are weak.,Priority action,5,checked\n", encoding="utf-8")
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8", newline="") as handle:
        row = next(csv.DictReader(handle))
        header = list(row)
    assert (row["judgement"], row["judged_by"], row["section"]) == ("priority_action", "given", "5")
    assert header[-2:] == ["Region", "notes"]


@contextlib.contextmanager
def a_named_pipe(path: Path):
    """A FIFO at ``path``. Reading one waits for a writer: should a reader wait, a
    writer comes after a few seconds and closes at once, so that a reader that should
    not have opened it fails the test instead of hanging it."""
    os.mkfifo(path)
    done = threading.Event()

    def unblock():
        while not done.wait(0.5):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:   # no reader waiting
                continue

    writer = threading.Thread(target=unblock, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        done.set()
        writer.join()


def test_a_named_pipe_in_a_folder_is_passed_over_and_one_named_is_an_error(tmp_path, runner):
    folder = letters_folder(tmp_path)
    with a_named_pipe(folder / "pipe.txt") as pipe:
        out = tmp_path / "tagged.jsonl"
        result = runner.invoke(app, ["tag", str(folder), "--out", str(out)] + RULES)
        assert result.exit_code == 0, result.output
        assert "5 letters" in result.output and not (tmp_path / "tagged.jsonl.errors.csv").exists()
        # named, it cannot be read: listed as a failure, the other letters tagged
        result = runner.invoke(app, ["tag", str(pipe), str(folder / "sandwell_2011.txt"),
                                     "--out", str(tmp_path / "named.jsonl")] + RULES)
        errors = (tmp_path / "named.jsonl.errors.csv").read_text(encoding="utf-8")
        assert "pipe.txt: not a regular file (a named pipe, socket or device)" in errors, result.output
        assert (tmp_path / "named.jsonl").read_text(encoding="utf-8").count("\n") > 10
        result = runner.invoke(app, ["segment", str(pipe), "--out", str(tmp_path / "f.jsonl")])
        assert result.exit_code == 1, result.output
        assert f"error: {pipe}: not a regular file (a named pipe, socket or device): no letter to read" \
            in result.output


@pytest.mark.slow
@pytest.mark.parametrize("gap", [None, 0.02, 0.1])
def test_a_kill_with_sigterm_stops_the_run_as_ctrl_c_does(tmp_path, ctrl_c_on, gap):
    """kill and timeout send SIGTERM, which ended the run on the spot: no message, the
    output's lock left behind and loky's warnings about leaked semaphores. GNU timeout
    sends a second SIGTERM, to the whole process group (``gap`` later): it landed in
    the middle of the shutdown the first had started (a traceback, or exit code 143
    with no message)."""
    folder = letters_folder(tmp_path, corpus_pdfs=len(list(CORPUS.glob("*.pdf"))))
    out, journal = tmp_path / "t.jsonl", tmp_path / "t.jsonl.partial.journal"
    process = subprocess.Popen(cli(str(folder), "--out", str(out), "--jobs", "2"), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not (
            journal.exists() and journal.read_text(encoding="utf-8").count("\n") > 2):
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before the kill"
    process.terminate()
    if gap is not None:
        time.sleep(gap)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    # a second SIGTERM after the message, while Python shuts down (it restores the
    # default handlers there), ends it by that signal: to a shell, 143 all the same
    assert process.returncode in (143, -signal.SIGTERM) and stdout == "", stdout + stderr
    assert stderr.strip().splitlines() == interrupted(out), stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "inbox") == [
        "t.jsonl.partial", "t.jsonl.partial.journal"]


def test_an_interrupt_before_any_letter_is_written_says_so(tmp_path, runner, monkeypatch):
    import pipeline.batch

    def interrupted_at_once(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.batch, "run_batch", interrupted_at_once)
    folder = letters_folder(tmp_path)
    result = runner.invoke(app, ["tag", str(folder), "--out", str(tmp_path / "t.jsonl")] + RULES)
    assert result.exit_code == 130
    assert result.output.strip() == ("safeguarding-themes: error: interrupted before any letter was written; "
                                     "nothing was changed")


def test_no_more_workers_than_letters(tmp_path, runner, monkeypatch):
    """--jobs 8 for two letters started eight workers: 860 MB, and slower than two; a
    resume counts only the letters left."""
    import pipeline.batch

    asked = []
    real = pipeline.batch._results

    def counted(jobs, config, tagger, n_jobs, output_format):
        asked.append(n_jobs)
        return real(jobs, config, tagger, n_jobs, output_format)

    monkeypatch.setattr(pipeline.batch, "_results", counted)
    letters = [str(path) for path in list(SEED_FILES.values())[:2]]
    result = runner.invoke(app, ["tag", *letters, "--out", str(tmp_path / "t.jsonl"), "--jobs", "8"] + RULES)
    assert result.exit_code == 0, result.output
    assert asked == [2]
    letters.append(str(list(SEED_FILES.values())[2]))
    result = runner.invoke(app, ["tag", *letters, "--out", str(tmp_path / "t.jsonl"), "--jobs", "8", "--resume"]
                           + RULES)
    assert result.exit_code == 0, result.output
    assert asked == [2, 1]


def test_a_ctrl_c_while_the_output_is_put_in_place_lets_the_run_finish(tmp_path, runner, monkeypatch, ctrl_c_on):
    """Cut between its steps, the output was in place without its record, the journal
    was left, and the message said nothing had changed."""
    from pipeline.batch import PartialOutput

    real = PartialOutput._tagger

    def pressed_meanwhile(self):
        os.kill(os.getpid(), signal.SIGINT)
        return real(self)

    monkeypatch.setattr(PartialOutput, "_tagger", pressed_meanwhile)
    folder = letters_folder(tmp_path)
    out = tmp_path / "t.jsonl"
    result = runner.invoke(app, ["tag", str(folder), "--out", str(out), "--jobs", "1"] + RULES)
    assert result.exit_code == 0, result.output
    assert "5 letters" in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "inbox") == ["t.jsonl", "t.jsonl.tagger.json"]
