"""Bad inputs, faults and untrusted files: each case is made by the test and has a
defined outcome (a one-line error with exit code 1, or a warning and a correct
result); no traceback reaches the user. (More bad inputs are in test_ingest.py,
labels and patterns files in test_themes_rules.py, models and params in
test_model.py, the lock, kills and duplicates of batches in test_batch.py, and the
report's escaping in test_summarise.py.)"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, SEED_FILES, ctrl_c_after_workers_start, kill_and_expect_workers_to_end, wait_for_workers
from pipeline.cli import app
from pipeline.errors import InputError, LabelsError
from pipeline.ingest import SUPPORTED, parse_bytes
from pipeline.parse import segment_text
from test_model import project  # noqa: F401  (the fixture: a small labelled project)

RULES = ["--method", "rules", "--quiet", "--themes", str(REPO / "labels" / "themes.yaml"),
         "--patterns", str(REPO / "labels" / "patterns.jsonl")]
SEED = SEED_FILES["swindon_2011"]


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("safeguarding-themes: error:"), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# ----------------------------------------------------------------- bad inputs

def test_a_50_mb_text_file_is_refused_before_it_is_read(tmp_path, runner):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    result = runner.invoke(app, ["segment", str(big), "--out", str(tmp_path / "f.jsonl")])
    one_line_error(result, "huge.txt", "file too large (50 MB)")
    assert not (tmp_path / "f.jsonl").exists()


def test_a_line_of_1_mb_is_read_as_text(tmp_path, runner):
    words = ("Assessments are timely and thorough, " * 30000)[:1024 * 1024]
    letter = tmp_path / "one line.txt"
    letter.write_text(SEED.read_text(encoding="utf-8") + "\n" + words + "\n", encoding="utf-8")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(letter), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_text_in_an_unexpected_encoding_is_read_with_a_warning(tmp_path, runner):
    text = SEED.read_text(encoding="utf-8").replace("Dear", "Dear Ms Müller,\n\nDear", 1)
    letter = tmp_path / "latin1.txt"
    letter.write_bytes(text.encode("latin-1", errors="replace"))
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(letter), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "not UTF-8: read as Windows-1252" in result.output
    reference = tmp_path / "utf8.txt"
    reference.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["segment", str(reference), "--out", str(tmp_path / "g.jsonl")]).exit_code == 0
    texts = lambda p: [json.loads(l)["text"] for l in p.read_text(encoding="utf-8").splitlines()]
    assert texts(out) == texts(tmp_path / "g.jsonl")


def test_html_with_no_report_in_it_is_a_clear_error(tmp_path, runner):
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>GOV.UK</title></head><body><nav>Menu</nav>"
                    "<p>Accept cookies?</p><footer>Crown copyright</footer></body></html>", encoding="utf-8")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(page), "--out", str(out)])
    one_line_error(result, "page.html", "no report in this HTML page")
    assert not out.exists()


def test_a_document_that_gives_no_findings_is_reported_with_a_warning(tmp_path, runner):
    letter = tmp_path / "minutes.txt"
    letter.write_text("Minutes of the meeting\n\nDear colleagues\n\nYours sincerely\n\nA Clerk\n",
                      encoding="utf-8")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(letter), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "minutes.txt: no findings: is this an inspection letter or report?" in result.output
    assert out.read_text(encoding="utf-8") == ""


def test_a_letter_with_no_recognised_headings_is_read_as_narrative_with_a_warning(tmp_path, runner):
    letter = tmp_path / "plain.txt"
    letter.write_text("Dear Mr Jones\n\nSocial workers visit children regularly. Plans are not "
                      "specific enough.\n\nManagers have a good understanding of practice.\n\n"
                      "Yours sincerely\n\nA Inspector\n", encoding="utf-8")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(letter), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no recognised section headings" in result.output
    texts = [json.loads(l)["text"] for l in out.read_text(encoding="utf-8").splitlines()]
    assert texts == ["Social workers visit children regularly.", "Plans are not specific enough.",
                     "Managers have a good understanding of practice."]



def test_the_narrative_warning_names_what_judges_the_findings():
    from pipeline.parse import segment_text

    text = "Dear Mr Jones\n\nSocial workers visit children regularly.\n\nYours sincerely\n"
    assert any(w.endswith("judged from its wording") for w in segment_text(text)[2])
    # the combined tagger passes no judge: its judgement model reads the findings
    assert any(w.endswith("judged by the judgement model") for w in segment_text(text, None)[2])


def test_file_names_with_spaces_and_non_ascii_characters(tmp_path, runner):
    folder = tmp_path / "Lettres reçues" / "2011 – Swindon"
    folder.mkdir(parents=True)
    letter = folder / "Swindon lettre d’inspection ü.txt"
    letter.write_bytes(SEED.read_bytes())
    out = tmp_path / "sortie é.jsonl"
    result = runner.invoke(app, ["tag", str(tmp_path / "Lettres reçues"), "--out", str(out)] + RULES)
    assert result.exit_code == 0, result.output
    records = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert records and {r["source"] for r in records} == {str(letter)}
    assert records[0]["letter_id"] == "Swindon_lettre_d_inspection_ü"


def test_a_symlink_loop_in_a_folder_is_followed_once(tmp_path, runner):
    folder = tmp_path / "letters"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_bytes(SEED.read_bytes())
    os.symlink(folder, folder / "sub" / "loop")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(app, ["segment", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {json.loads(l)["letter_id"] for l in out.read_text(encoding="utf-8").splitlines()} == {"a"}


# ----------------------------------------------------------------- faults

def test_an_unwritable_output_folder(tmp_path, runner):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    # found before any letter is read (a letter that cannot be read would be named first)
    (tmp_path / "unreadable.pdf").write_bytes(b"%PDF-1.4 damaged")
    letters = [str(tmp_path / "unreadable.pdf"), str(SEED)]
    result = runner.invoke(app, ["segment", *letters, "--out", str(blocker / "f.jsonl")])
    one_line_error(result, f"{blocker / 'f.jsonl'}: is inside {blocker}, which is a file (give --out a path in a folder)")
    result = runner.invoke(app, ["tag", *letters, "--out", str(blocker / "t.jsonl")] + RULES)
    one_line_error(result, f"{blocker / 't.jsonl'}: is inside {blocker}, which is a file")
    findings = tmp_path / "findings.jsonl"
    findings.write_text("not read\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "--findings", str(findings), "--out", str(blocker / "t.jsonl")] + RULES)
    one_line_error(result, f"{blocker / 't.jsonl'}: is inside {blocker}, which is a file")


def test_a_permission_denied_output_folder(tmp_path, runner, monkeypatch):
    """Tests may run as root, whom chmod does not stop: the refusal is simulated where
    the system would give it."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    result = runner.invoke(app, ["segment", str(SEED), "--out", str(tmp_path / "f.jsonl")])
    one_line_error(result, "cannot write here (permission denied)", "f.jsonl")


def test_a_letter_in_a_folder_that_may_not_be_searched_is_a_one_line_error(tmp_path, runner, monkeypatch):
    """Simulated as above. pathlib's exists() raises where the folder may not be searched."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    result = runner.invoke(app, ["segment", str(locked / "letter.txt"), "--out", str(tmp_path / "f.jsonl")])
    one_line_error(result, f"{locked / 'letter.txt'}: permission denied (check its permissions and those of "
                           "the folders on its path: ls -ld)")


def test_a_full_disk_leaves_the_earlier_output_intact(tmp_path, runner, monkeypatch, recwarn):
    import gc

    from pipeline import batch

    out = tmp_path / "tagged.jsonl"
    out.write_text("the earlier output\n", encoding="utf-8")
    real_add = batch.PartialOutput.add
    calls = []

    def add(self, entry, block):
        calls.append(entry)
        if len(calls) == 3:  # the disk fills up on the third letter
            self.data.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left"))
        return real_add(self, entry, block)

    monkeypatch.setattr(batch.PartialOutput, "add", add)
    result = runner.invoke(app, ["tag", *map(str, SEED_FILES.values()), "--out", str(out)] + RULES)
    one_line_error(result, "disk full while writing", "free some disk space")
    assert out.read_text(encoding="utf-8") == "the earlier output\n"
    gc.collect()   # the letters still being tagged were cancelled, without a warning
    assert not [w for w in recwarn if "tasks" in str(w.message)], [str(w.message) for w in recwarn]

    # and for an output written in one piece
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    result = runner.invoke(app, ["segment", str(SEED), "--out", str(out)])
    one_line_error(result, "disk full while writing")
    assert out.read_text(encoding="utf-8") == "the earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()
                  if not p.name.startswith("tagged.jsonl.partial")) == ["tagged.jsonl"]


@pytest.mark.slow
def test_a_kill_during_train_leaves_the_old_model_intact(project):
    tmp_path = project
    labels = project / "gold.jsonl"
    models = tmp_path / "models"
    args = [sys.executable, "-m", "pipeline.cli", "train", "--labels", str(labels), "--out-dir", str(models),
            "--themes", str(tmp_path / "themes.yaml"), "--patterns", str(tmp_path / "patterns.jsonl"),
            "--params", str(tmp_path / "params.yaml")]
    subprocess.run(args, cwd=REPO, check=True, capture_output=True)
    before = {p.name: p.read_bytes() for p in models.iterdir()}
    started = time.monotonic()
    subprocess.run(args, cwd=REPO, check=True, capture_output=True)
    duration = time.monotonic() - started
    seed = random.randrange(1 << 30)
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(seed).uniform(0.3, 0.95) * duration)
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = {p.name: p.read_bytes() for p in models.iterdir() if not p.name.startswith(".")}
    # training is deterministic: whether the kill came before or after the rename,
    # every model file is whole and the same as before
    assert after == before, f"seed {seed}"
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", "tag", str(SEED), "--out",
                             str(tmp_path / "t.jsonl"), "--models", str(models), "--quiet",
                             "--themes", str(tmp_path / "themes.yaml"),
                             "--patterns", str(tmp_path / "patterns.jsonl")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def train_with_two_workers(project) -> list[str]:
    """The command of a train with 2 workers, whatever the machine's cores."""
    params = project / "params.yaml"
    params.write_text(params.read_text(encoding="utf-8").replace("train:\n", "train:\n  jobs: 2\n"),
                      encoding="utf-8")
    return [sys.executable, "-m", "pipeline.cli", "train", "--labels", str(project / "gold.jsonl"),
            "--out-dir", str(project / "models"), "--themes", str(project / "themes.yaml"),
            "--patterns", str(project / "patterns.jsonl"), "--params", str(params)]


@pytest.mark.slow
def test_a_killed_train_leaves_no_worker_behind(project):
    """The theme model's regressions are fitted by loky workers; kill -9 gives train no
    chance to stop them, and they waited for ever, each holding its memory."""
    args = train_with_two_workers(project)
    for attempt in range(5):
        process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = wait_for_workers(process, count=2)
        if workers and process.poll() is None:
            break
        process.wait()
    assert process.poll() is None and workers, "train ended before its workers could be seen"
    time.sleep(1.0)  # the workers have started: their watch is in place
    kill_and_expect_workers_to_end(process, workers, "train")


@pytest.mark.slow
def test_ctrl_c_as_trains_workers_start_prints_one_line(project, ctrl_c_on):
    """The theme model's workers, like batch tagging's, start with Ctrl-C held back:
    a Ctrl-C while they imported printed a traceback from each (4 of 6 tries)."""
    args = train_with_two_workers(project)
    for delay in (0.0, 0.005, 0.05, 0.1, 0.2):
        returncode, stdout, stderr = ctrl_c_after_workers_start(args, delay)
        assert returncode == 130 and stdout == "", stdout + stderr
        assert stderr.strip().splitlines() == [
            "safeguarding-themes: error: interrupted; outputs already complete were kept, partial ones removed"
        ], f"Ctrl-C {delay} s after the workers started:\n{stderr}"


# ----------------------------------------------------------------- untrusted files

def test_nothing_evaluates_text_from_letters_or_labels():
    """No eval/exec, no pickle of inputs; the only unpickling is of a model whose
    sha256 was checked first."""
    sources = {p: p.read_text(encoding="utf-8") for p in (REPO / "pipeline").glob("*.py")}
    for path, text in sources.items():
        code = re.sub(r'"""[\s\S]*?"""|#.*', "", text)
        assert not re.search(r"\b(eval|exec|compile)\s*\(", code.replace("re.compile(", "")), path
        assert not re.search(r"\b(pickle|marshal|shelve|dill)\b", code), path
        assert "yaml.load(" not in code and "unsafe_load" not in code, path
        if path.name != "artifacts.py":
            assert "joblib.load" not in code, path
    artifacts = sources[REPO / "pipeline" / "artifacts.py"]
    body = artifacts[artifacts.index("def load_model"):]
    assert body.index("verify_artifact(") < body.index("joblib.load(")


# ----------------------------------------------------------------- fuzzing

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), ext=st.sampled_from(sorted(SUPPORTED)),
       prefix=st.sampled_from([b"", b"%PDF-1.4\n", b"PK\x03\x04", b"<html>", b"\xef\xbb\xbf", b"\xff\xfe"]))
def test_random_bytes_give_a_document_or_a_documented_error(data, ext, prefix):
    try:
        document = parse_bytes(prefix + data, f"fuzz{ext}", ext)
    except InputError as exc:
        assert str(exc).startswith(f"fuzz{ext}: ")
        return
    info, findings, warnings = segment_text(document.text)
    for f in findings:
        assert 0 <= f.start <= f.end <= len(document.text)


def seed_findings(text: str) -> list[str]:
    return [" ".join(f.text.split()) for f in segment_text(text)[1]]


def mutate(text: str, rng: random.Random, kinds: list[str]) -> str:
    """Damage of the kind exports and e-mail do, that leaves every sentence's words
    in place: CRLF line ends, trailing spaces and tabs, doubled blank lines, a BOM,
    non-breaking spaces between words, a form feed between paragraphs."""
    lines = text.split("\n")
    # in the order files have them: trailing spaces come before a CRLF line end
    order = ["trailing", "blank", "nbsp", "formfeed", "crlf"]
    for kind in sorted((k for k in kinds if k in order), key=order.index):
        if kind == "crlf":
            lines = [l + "\r" for l in lines]
        elif kind == "trailing":
            lines = [l + rng.choice(["", " ", "  ", "\t"]) for l in lines]
        elif kind == "blank":
            lines = [x for l in lines for x in ([l, ""] if not l.strip() and rng.random() < 0.5 else [l])]
        elif kind == "nbsp":
            lines = [l.replace(" ", "\u00a0", 1) if rng.random() < 0.2 else l for l in lines]
        elif kind == "formfeed":
            lines = [("\f" + l) if not l.strip() and rng.random() < 0.2 else l for l in lines]
    out = "\n".join(lines)
    return ("\ufeff" + out) if "bom" in kinds else out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SEED_FILES)), seed=st.integers(0, 10**6),
       kinds=st.lists(st.sampled_from(["crlf", "trailing", "blank", "nbsp", "formfeed", "bom"]),
                      min_size=1, max_size=4, unique=True))
def test_mutated_seed_letters_lose_no_finding_text(name, seed, kinds):
    original = SEED_FILES[name].read_text(encoding="utf-8")
    expected = seed_findings(original)
    damaged = mutate(original, random.Random(seed), kinds)
    document = parse_bytes(damaged.encode("utf-8"), f"{name}.txt", ".txt")
    got = [" ".join(t.replace("\u00a0", " ").split()) for t in
           (f.text for f in segment_text(document.text)[1])]
    assert got == expected, kinds


# ----------------------------------------------------------------- bad labels, patterns, params at the CLI

GOOD_LABEL = '{"id": "first", "letter_id": "l1", "text": "Visits are timely.", "themes": ["timeliness"]}'


@pytest.mark.parametrize("lines, message", [
    ([GOOD_LABEL, "not json"], "labels.jsonl:2: malformed JSON (Expecting value at column 1)"),
    # a tab typed inside a text
    ([GOOD_LABEL, '{"id": "a", "text": "Visits\tare timely.", "themes": []}'],
     "labels.jsonl:2: malformed JSON (Invalid control character at column 28)"),
    # a line cut short (or a comma after its last field) fails past its end: json names
    # column 1 of the next line
    ([GOOD_LABEL, '{"id": "a", "text": "Visits are timely.", "themes": ["timeliness"],'],
     "labels.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes at the end of the line)"),
    ([GOOD_LABEL, '{"id": "a", "text": "Visits are timely.",, "themes": ["timeliness"]}'],
     "labels.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes at column 42)"),
    ([GOOD_LABEL, '{"id": "a", "text": "x", "themes": ["nope"]}'], "labels.jsonl:2: unknown theme id 'nope'"),
    ([GOOD_LABEL, GOOD_LABEL], "duplicate id 'first'"),
    ([GOOD_LABEL, '{"id": "a", "text": "  ", "themes": []}'], "labels.jsonl:2: empty text"),
    ([GOOD_LABEL, '{"id": "a", "text": 7, "themes": []}'], "labels.jsonl:2: 'text' must be a string, got 7"),
    ([GOOD_LABEL], "too few examples of theme(s)"),
    # a spreadsheet's CSV: a comma in an unquoted cell, and a row cut short
    (["id,letter_id,text,themes", "a#1,a,Visits are timely.,timeliness,planning"],
     "labels.csv:2: more cells than the header's 4"),
    (["id,letter_id,text,themes", "a#1,a,Visits are timely.,timeliness", "a#2,a,Plans are clear."],
     "labels.csv:3: fewer cells than the header's 4"),
])
def test_bad_labels_files_are_one_line_errors_at_the_cli(tmp_path, runner, lines, message):
    labels = tmp_path / ("labels.csv" if lines[0].startswith("id,") else "labels.jsonl")
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--labels", str(labels), "--out-dir", str(tmp_path / "models"),
                                 "--themes", str(REPO / "labels" / "themes.yaml"),
                                 "--patterns", str(REPO / "labels" / "patterns.jsonl")])
    one_line_error(result, message)
    assert not (tmp_path / "models").exists()


def test_a_labels_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    from pipeline.labelset import load_labelled
    from pipeline.themes import load_taxonomy

    labels = tmp_path / "labels.jsonl"
    labels.write_text("\ufeff" + GOOD_LABEL + "\n", encoding="utf-8")
    [finding] = load_labelled(labels, load_taxonomy(REPO / "labels" / "themes.yaml"))
    assert finding.id == "first" and finding.themes == ["timeliness"]


def test_two_labels_files_joined_each_with_its_byte_order_mark_are_read(tmp_path):
    """`cat a.jsonl b.jsonl` of two files saved by Excel: the second's mark opens a line."""
    from pipeline.labelset import load_labelled
    from pipeline.themes import load_taxonomy

    second = json.loads(GOOD_LABEL) | {"id": "second", "text": "Plans drift for months."}
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\ufeff" + GOOD_LABEL + "\n\ufeff" + json.dumps(second) + "\n", encoding="utf-8")
    found = load_labelled(labels, load_taxonomy(REPO / "labels" / "themes.yaml"))
    assert [(f.id, f.text) for f in found] == [("first", json.loads(GOOD_LABEL)["text"]),
                                               ("second", "Plans drift for months.")]


def test_an_invalid_pattern_is_a_one_line_error_at_the_cli(tmp_path, runner):
    patterns = tmp_path / "patterns.jsonl"
    patterns.write_text('{"id": "x/1", "label": "timeliness", "pattern": [{"LEMA": "delay"}]}\n',
                        encoding="utf-8")
    result = runner.invoke(app, ["tag", str(SEED), "--out", str(tmp_path / "t.jsonl"), "--method", "rules",
                                 "--themes", str(REPO / "labels" / "themes.yaml"), "--patterns", str(patterns)])
    one_line_error(result, "patterns.jsonl:1", "invalid spaCy pattern")
    assert not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize("content, message", [
    ("train:\n  C: -1\n", "train.C = -1.0 is out of range"),
    ("tag:\n  jobs: -3\n", "tag.jobs = -3 is out of range"),
    ("summarise:\n  typical_findings: 0\n", "summarise.typical_findings = 0 is out of range"),
])
def test_params_out_of_range_are_one_line_errors_at_the_cli(tmp_path, runner, content, message):
    params = tmp_path / "params.yaml"
    params.write_text(content, encoding="utf-8")
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text(json.dumps({"id": "a#1", "letter_id": "a", "text": "x", "themes": []}) + "\n",
                      encoding="utf-8")
    command = {"train": ["train", "--out-dir", str(tmp_path / "m")],
               "tag:": ["tag", str(SEED), "--out", str(tmp_path / "t.jsonl"), "--method", "rules"],
               "summarise": ["summarise", str(tagged), "--out", str(tmp_path / "s")]}
    args = next(v for k, v in command.items() if content.startswith(k))
    result = runner.invoke(app, args + ["--params", str(params), "--themes", str(REPO / "labels" / "themes.yaml")])
    one_line_error(result, message, "params.yaml")


@pytest.mark.parametrize("group", [[], ["labels"], ["rules"]])
def test_every_command_group_has_a_help_example(runner, group):
    # the top level's help is typer.Typer(help=...): the callback's docstring never showed
    shown = runner.invoke(app, [*group, "--help"], terminal_width=80).output
    block = shown.split("Example:", 1)[1].strip().split("\n\n", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    assert lines and all(line.startswith(" ".join(["safeguarding-themes", *group, ""])) for line in lines), shown
    if not group:
        assert "Run from the repository's root folder" in " ".join(shown.split())


def test_every_command_has_a_help_example_that_can_be_copied(runner):
    """Each --help shows an example; at 80 columns each stays one line that parses."""
    import shlex

    import typer

    def commands(group, path=()):
        for name, command in sorted(group.commands.items()):
            if hasattr(command, "commands"):  # a group: typer brings its own click
                yield from commands(command, path + (name,))
            else:
                yield path + (name,), command

    seen = 0
    for path, command in commands(typer.main.get_command(app)):
        shown = runner.invoke(app, [*path, "--help"], terminal_width=80).output
        assert "Example:" in shown, path
        block = shown.split("Example:", 1)[1].strip().split("\n\n", 1)[0]
        lines = [line.strip() for line in block.splitlines()]
        assert lines and all(line.startswith("safeguarding-themes " + " ".join(path)) for line in lines), block
        for line in lines:
            args = shlex.split(line)[1 + len(path):]
            with command.make_context(path[-1], args):  # a bad option or value raises here
                seen += 1
    assert seen >= 12


@pytest.mark.parametrize("command, option", [
    (["segment", "letter.txt"], "--out"), (["tag", "letter.txt"], "--out"), (["evaluate"], "--metrics"),
    (["evaluate"], "--report"), (["suggest", "letter.txt"], "--out"), (["labels", "import", "table.csv"], "--labels"),
    (["labels", "audit"], "--out"), (["rules", "report"], "--out"), (["rules", "report"], "--json")])
def test_an_output_file_with_a_trailing_slash_is_refused_before_any_work(tmp_path, runner, command, option):
    """pathlib drops a trailing '/' (or '/.'), so 'new/' given for a file wrote a file
    called 'new'."""
    for ending in ("/", "/.", "/./", "/.."):
        result = runner.invoke(app, [*command, option, f"{tmp_path / 'new'}{ending}"])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert f"Invalid value for '{option}'" in result.output
        assert f"'{tmp_path / 'new'}{ending}' names a folder, not a file; give a file's name" in result.output
        assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("name, shown", [("it's", '"it\'s/"'), ("a\\b", "'a\\\\b/'"),
                                         ("d\udcff", "'d\\xff/'")])   # b"d\xff", not UTF-8
def test_a_folder_given_for_an_output_file_is_named_as_typed(tmp_path, runner, name, shown):
    result = runner.invoke(app, ["tag", "letter.txt", "--out", f"{name}/"])
    assert result.exit_code == 2 and f"{shown} names a folder, not a file" in result.output, result.output


def test_a_rules_report_to_a_new_folder_with_a_trailing_slash_writes_nothing(tmp_path, runner):
    arguments = ["rules", "report", "--gold", str(REPO / "labels" / "gold.jsonl"), "--themes",
                 str(REPO / "labels" / "themes.yaml"), "--patterns", str(REPO / "labels" / "patterns.jsonl")]
    result = runner.invoke(app, [*arguments, "--out", f"{tmp_path / 'new'}/"])
    assert result.exit_code == 2 and list(tmp_path.iterdir()) == []
    # without the slash, the same option writes its file (in a folder it makes)
    result = runner.invoke(app, [*arguments, "--out", str(tmp_path / "new" / "rules.md")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "rules.md").is_file()


def test_usage_lines_name_the_arguments_in_capitals(runner):
    """typer shows an argument by its parameter's name ('{tagged}', '<list[Path]>') unless
    it has a metavar; a usage line reads as the README's examples do."""
    import re

    for path in (["segment"], ["tag"], ["suggest"], ["labels", "import"], ["summarise"]):
        usage = runner.invoke(app, [*path, "--help"], terminal_width=80).output.splitlines()[0]
        arguments = usage.split("[OPTIONS]", 1)[1].strip()
        assert arguments and re.fullmatch(r"[\[{]?[A-Z]+[\]}]?(\.\.\.)?", arguments), usage


def test_a_csv_row_is_numbered_by_the_line_it_starts_on(tmp_path):
    """A cell written over several lines (Alt+Enter in a spreadsheet) moves where its row
    ends: the row is still named by its first line, where an editor shows it."""
    from pipeline.labelset import iter_rows

    sheet = tmp_path / "sheet.csv"
    sheet.write_text('id,text\r\na#1,"Visits are\r\ntimely,\nand\rrecorded."\r\n\r\na#2,Plans are clear.\r\n'
                     'a#3,"Two\nlines",cut\n', encoding="utf-8", newline="")
    rows = iter_rows(sheet)
    assert [(line, row["id"]) for line, row in (next(rows), next(rows))] == [(2, "a#1"), (7, "a#2")]
    with pytest.raises(LabelsError, match="more cells than the header's 2") as caught:
        next(rows)
    assert caught.value.line == 8
    # a cell under a header name given twice (Excel's trailing commas), a row of spaces
    # only, and a quote left open to the end of the file
    for text, first in (('id,text,,\n\na,b,"note\nline",\n', 3), ('text,note,note\n\nb,"x\ny",z\n', 3),
                        ('id,text\n  \n , \na,b\n', 4), ('id,text\na,"unclosed\nmore\n', 2)):
        sheet.write_text(text, encoding="utf-8", newline="")
        assert [line for line, _ in iter_rows(sheet)] == [first], text
    sheet.write_text('id,text,themes\na,"unclosed\nb,c,d\n', encoding="utf-8", newline="")
    with pytest.raises(LabelsError, match="fewer cells") as caught:
        list(iter_rows(sheet))
    assert caught.value.line == 2


def test_spreadsheet_headers_are_read_whatever_their_case_and_a_semicolon_file_is_named(tmp_path):
    from pipeline.labelset import iter_rows

    sheet = tmp_path / "sheet.csv"
    sheet.write_text(" ID ,Text,Authority\na#1,Visits are timely.,Leeds\n", encoding="utf-8")
    assert list(iter_rows(sheet)) == [(2, {"id": "a#1", "text": "Visits are timely.", "authority": "Leeds"})]
    sheet.write_text("id;text\na#1;Visits are timely.\n", encoding="utf-8")
    with pytest.raises(LabelsError, match=r"no 'text' column \(its cells are separated by ';'\)"):
        list(iter_rows(sheet))
