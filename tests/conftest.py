from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
CORPUS = REPO / "corpus"
GOLDEN = Path(__file__).resolve().parent / "golden"

sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED_FILES = {
    "swindon_2011": SEEDS / "000_36e5fbfbba0ee66f.txt",
    "press_summary": SEEDS / "001_cfbf27595307e4ec.txt",
    "sandwell_2011": SEEDS / "002_484b3e865a9b4e6e.txt",
    "wandsworth_2011": SEEDS / "003_ea257c52f45a74c1.txt",
    "gloucestershire_2010": SEEDS / "004_b7a4537e86bd4f88.txt",
}



def segmented_seeds() -> list:
    """The seed letters, segmented (a Segmented per letter, in file order)."""
    from pipeline.ingest import read_document
    from pipeline.segment import segment_document

    return [segment_document(read_document(path)) for path in sorted(SEED_FILES.values())]

def loky_workers(pid: int) -> list:
    """The worker processes (loky's) of process ``pid``, as psutil processes."""
    import psutil

    try:
        return [c for c in psutil.Process(pid).children(recursive=True)
                if "LokyProcess" in " ".join(c.cmdline())]
    except psutil.Error:
        return []


def wait_for_workers(process, count: int = 1, seconds: float = 120) -> list:
    """Poll until the run has ``count`` workers (or has ended, or time is up)."""
    deadline = time.monotonic() + seconds
    workers = []
    while time.monotonic() < deadline and process.poll() is None and len(workers) < count:
        workers = loky_workers(process.pid)
        time.sleep(0.002)
    return workers


@pytest.fixture
def ctrl_c_on():
    """Ctrl-C as a terminal gives it, here and in the runs started meanwhile, even when
    the test run ignores it (started in the background of a script, ``cmd &``)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def in_a_terminal(args: list[str]) -> subprocess.Popen:
    """Start ``args`` in their own process group: os.killpg(process.pid, SIGINT) is
    then the user's Ctrl-C (with the ctrl_c_on fixture)."""
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def ctrl_c_after_workers_start(args: list[str], delay: float) -> tuple[int, str, str]:
    """Press Ctrl-C ``delay`` seconds after the run's first worker appears (a worker
    that lost its start-up data prints its traceback on stdout). The exit code,
    stdout and stderr."""
    process = in_a_terminal(args)
    wait_for_workers(process)
    time.sleep(delay)
    assert process.poll() is None, "the run ended before Ctrl-C"
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def kill_and_expect_workers_to_end(process, workers, what: str = "run") -> None:
    """kill -9 the run, then give its worker processes 15 s to notice and end."""
    import psutil

    process.kill()
    process.wait()
    gone, alive = psutil.wait_procs(workers, timeout=15)
    for worker in alive:
        worker.kill()
    assert not alive, f"{len(alive)} of {len(workers)} worker processes outlived the killed {what}"


def golden_lines(segmented) -> list[str]:
    """The golden-file form of a segmented letter: metadata, then one line per finding."""
    info = segmented.info
    head = {"kind": info.kind, "authority": info.authority, "letter_date": info.letter_date,
            "inspection_start": info.inspection_start, "inspection_end": info.inspection_end,
            "inspector": info.inspector, "warnings": segmented.warnings}
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)]
    for f in segmented.findings:
        lines.append(json.dumps({
            "index": f.index, "section": f.section, "subsection": f.subsection,
            "judgement": f.judgement, "judged_by": f.judged_by, "grade": f.grade, "unit": f.unit,
            "paragraph": f.paragraph, "start": f.start, "end": f.end, "text": f.text,
        }, ensure_ascii=False, sort_keys=True))
    return lines


def check_golden(name: str, segmented) -> None:
    """Compare with tests/golden/<name>.jsonl; UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    path = GOLDEN / f"{name}.jsonl"
    lines = golden_lines(segmented)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == expected[0], "letter metadata differs from the golden file"
    for got, want in zip(lines[1:], expected[1:]):
        assert got == want
    assert len(lines) == len(expected), f"{len(lines) - 1} findings, golden has {len(expected) - 1}"


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture(autouse=True)
def away_from_the_repository(tmp_path_factory, monkeypatch):
    """Run every test from an empty directory, so that default relative paths
    (models/, labels/...) cannot reach the repository's real files."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
