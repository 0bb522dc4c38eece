"""Training, the combined tagger, model integrity, evaluation and the labelling loop,
on small fixtures (the real models/ is never touched)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.artifacts import load_model, meta_path
from pipeline.cli import app
from pipeline.errors import ModelError, ParamsError
from pipeline.params import load_params

THEMES = """themes:
  - id: timeliness
    name: Timeliness
    definition: Speed of response, delay and drift.
  - id: workforce
    name: Workforce
    definition: Staffing, caseloads and training.
  - id: childs_voice
    name: Child's voice
    definition: Children's views, wishes and feelings.
"""
PATTERNS = [
    {"id": "timeliness/delay", "label": "timeliness", "pattern": [{"LEMMA": {"IN": ["delay", "drift"]}}]},
    {"id": "workforce/caseload", "label": "workforce", "pattern": [{"LEMMA": "caseload"}]},
    {"id": "childs_voice/views", "label": "childs_voice", "pattern": [{"LOWER": "wishes"}, {"LOWER": "and"},
                                                                      {"LOWER": "feelings"}]},
]
PHRASES = {
    "timeliness": ["assessments are completed without delay", "there is drift in plans",
                   "visits happen promptly after referral", "children wait too long for help"],
    "workforce": ["caseloads are manageable", "staff turnover is high", "social workers are well trained",
                  "agency staff fill many posts"],
    "childs_voice": ["children's wishes and feelings are recorded", "children are seen alone",
                     "young people's views shape their plans", "direct work with children is creative"],
}
GOOD = ["Overall", "In most cases", "Consistently", "Increasingly"]
BAD = ["However, not all", "Too often", "Inconsistently", "In a minority of cases"]


def labelled_rows(n_letters: int = 8, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for letter in range(n_letters):
        for i in range(12):
            themes = sorted(rng.sample(sorted(PHRASES), rng.choice([1, 1, 2])))
            positive = rng.random() < 0.5
            opener = rng.choice(GOOD if positive else BAD)
            body = " and ".join(rng.choice(PHRASES[t]) for t in themes)
            rows.append({"id": f"letter{letter}#{i:04d}", "letter_id": f"letter{letter}",
                         "text": f"{opener}, {body}.", "themes": themes,
                         "judgement": "strength" if positive else "development"})
        rows.append({"id": f"letter{letter}#0099", "letter_id": f"letter{letter}",
                     "text": "Inspectors met leaders and looked at case records.", "themes": [],
                     "judgement": "neutral"})
    return rows


@pytest.fixture
def project(tmp_path):
    (tmp_path / "themes.yaml").write_text(THEMES, encoding="utf-8")
    (tmp_path / "patterns.jsonl").write_text("\n".join(json.dumps(p) for p in PATTERNS) + "\n",
                                             encoding="utf-8")
    with open(tmp_path / "gold.jsonl", "w", encoding="utf-8") as handle:
        for row in labelled_rows():
            handle.write(json.dumps(row) + "\n")
    (tmp_path / "params.yaml").write_text("train:\n  seed: 1\n  inner_folds: 3\n  min_df: 1\n"
                                          "evaluate:\n  folds: 4\n", encoding="utf-8")
    return tmp_path


def common(project: Path) -> list[str]:
    return ["--themes", str(project / "themes.yaml"), "--patterns", str(project / "patterns.jsonl")]


def train(runner, project: Path, labels: Path | None = None):
    result = runner.invoke(app, ["train", "--labels", str(labels or project / "gold.jsonl"),
                                 "--out-dir", str(project / "models"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    return result


def test_retrain_on_a_fixture_and_tag_with_the_new_model(project, runner):
    train(runner, project)
    meta = json.loads((project / "models" / "themes.meta.json").read_text())
    assert meta["themes"] == ["timeliness", "workforce", "childs_voice"]
    assert meta["training_data"]["findings"] == 8 * 13 and meta["training_data"]["letters"] == 8
    assert set(meta["versions"]) >= {"scikit-learn", "numpy", "scipy", "joblib", "python"}
    assert len(meta["sha256"]) == 64 and set(meta["thresholds"]) == set(meta["themes"])

    letter = project / "letter.txt"
    # one finding per paragraph: the fixture's labels have no paragraph context,
    # so the model has not learnt to discount the neighbours' words
    letter.write_text(
        "12 March 2024\n\nDear Ms Smith\n\nFocused visit to Exampleshire children's services\n\n"
        "Main findings\n\nMost assessments are completed without delay.\n\nCaseloads are manageable "
        "and staff turnover is low.\n\nChildren's wishes and feelings are recorded well.\n\n"
        "Yours sincerely\n\nAnn Lee\n", encoding="utf-8")
    out = project / "tagged.jsonl"
    result = runner.invoke(app, ["tag", str(letter), "--out", str(out), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["themes"] for r in records] == [["timeliness"], ["workforce"], ["childs_voice"]]
    for r in records:
        assert r["method"] == "combined" and set(r["sources"]) == set(r["themes"])
        assert 0.0 <= min(r["scores"].values()) and max(r["scores"].values()) <= 1.0
        for theme, spans in r["evidence"].items():
            assert spans and all(r["text"][s["start"]:s["end"]] == s["text"] for s in spans)
        assert r["judged_by"] == "model" and r["judgement"] in ("strength", "development", "neutral")
    assert records[0]["sources"]["timeliness"] in ("rules", "both")


def test_training_twice_gives_identical_bytes(project, runner):
    train(runner, project)
    first = (project / "models" / "themes.joblib").read_bytes()
    train(runner, project)
    assert (project / "models" / "themes.joblib").read_bytes() == first


def test_a_tampered_model_is_refused(project, runner):
    train(runner, project)
    artifact = project / "models" / "themes.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        load_model(artifact)
    result = runner.invoke(app, ["tag", "--findings", str(project / "gold.jsonl"), "--out",
                                 str(project / "t.jsonl"), "--models", str(project / "models")]
                           + common(project))
    assert result.exit_code == 1 and "refusing to load" in result.stderr
    assert "Traceback" not in result.output and not (project / "t.jsonl").exists()


def test_missing_metadata_and_other_library_versions_are_refused(project, runner, monkeypatch):
    train(runner, project)
    artifact = project / "models" / "themes.joblib"
    meta = json.loads(meta_path(artifact).read_text())
    meta["versions"]["scikit-learn"] = "0.0.1"
    meta_path(artifact).write_text(json.dumps(meta))
    with pytest.raises(ModelError) as info:
        load_model(artifact)
    message = str(info.value)
    assert "scikit-learn 0.0.1" in message and "this environment has scikit-learn" in message
    meta_path(artifact).unlink()
    with pytest.raises(ModelError, match="no metadata"):
        load_model(artifact)


def test_training_refuses_labels_without_examples_of_a_theme(project, runner):
    rows = [r for r in labelled_rows() if "childs_voice" not in r["themes"]]
    path = project / "few.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "m"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 1 and "too few examples of theme(s) childs_voice" in result.stderr
    assert not (project / "m" / "themes.joblib").exists()


def test_evaluate_is_grouped_by_letter_and_writes_dvc_metrics(project, runner, monkeypatch):
    import pipeline.evaluate as evaluate
    from sklearn.model_selection import GroupKFold

    seen = []
    real_split = GroupKFold.split

    def spy(self, X, y=None, groups=None):
        for train_index, test_index in real_split(self, X, y, groups):
            seen.append(({groups[i] for i in train_index}, {groups[i] for i in test_index}))
            yield train_index, test_index

    monkeypatch.setattr(GroupKFold, "split", spy)
    metrics = project / "reports" / "metrics.json"
    result = runner.invoke(app, ["evaluate", "--labels", str(project / "gold.jsonl"), "--metrics",
                                 str(metrics), "--plots", str(project / "reports" / "plots"),
                                 "--report", str(project / "reports" / "evaluation.md"), "--quiet",
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    assert seen and all(not (train & test) for train, test in seen)
    values = json.loads(metrics.read_text())
    for system in ("rules", "model", "combined"):
        assert 0.0 <= values[system]["micro_f1"] <= 1.0 and "macro_f1" in values[system]
    assert values["combined"]["micro_f1"] > 0.8  # the fixture's themes are easy to learn
    assert {"model_accuracy", "heuristic_accuracy"} <= set(values["judgement"])
    plot = json.loads((project / "reports" / "plots" / "per_theme.json").read_text())
    assert {row["system"] for row in plot} == {"rules", "model", "combined"}


def test_suggest_label_import_retrain(project, runner):
    """The retraining loop: suggest -> label in a spreadsheet -> import -> train."""
    train(runner, project)
    new = project / "new.jsonl"
    new.write_text("\n".join(json.dumps({"id": f"new#{i}", "letter_id": "new", "text": t})
                             for i, t in enumerate([
                                 "Children are seen alone and caseloads are high.",
                                 "There is delay and drift in some plans.",
                                 "Inspectors read case records."])) + "\n", encoding="utf-8")
    table = project / "to-label.csv"
    result = runner.invoke(app, ["suggest", "--findings", str(new), "--top", "2", "--out", str(table),
                                 "--labels", str(project / "gold.jsonl"), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(table, encoding="utf-8")))
    assert len(rows) == 2 and float(rows[0]["uncertainty"]) >= float(rows[1]["uncertainty"])
    rows[0]["themes"], rows[0]["judgement"] = "childs_voice;workforce", "development"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)  # the second row left unlabelled: skipped, not lost
    before = len((project / "gold.jsonl").read_text().splitlines())
    result = runner.invoke(app, ["labels", "import", str(table), "--labels",
                                 str(project / "gold.jsonl"), "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    lines = (project / "gold.jsonl").read_text().splitlines()
    assert len(lines) == before + 1
    imported = json.loads(lines[-1])
    assert imported["themes"] == ["childs_voice", "workforce"] and imported["id"] == rows[0]["id"]
    train(runner, project)

    # a bad row is refused with its line, and nothing is written
    rows[1]["themes"] = "no_such_theme"
    rows[0]["themes"] = ""
    rows[0]["judgement"] = ""
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["labels", "import", str(table), "--labels",
                                 str(project / "gold.jsonl"), "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 1 and f"{table}:3" in result.stderr and "no_such_theme" in result.stderr
    assert (project / "gold.jsonl").read_text().splitlines() == lines


def test_audit_finds_a_planted_labelling_error(project, runner):
    rows = labelled_rows()
    target = next(r for r in rows if r["themes"] == ["workforce"])
    target["themes"] = ["timeliness"]  # wrong on purpose
    (project / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = project / "audit.csv"
    result = runner.invoke(app, ["labels", "audit", "--labels", str(project / "gold.jsonl"),
                                 "--out", str(out), "--top", "10", "--params",
                                 str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    flagged = list(csv.DictReader(open(out, encoding="utf-8")))
    assert target["id"] in [r["id"] for r in flagged]
    row = next(r for r in flagged if r["id"] == target["id"])
    assert "workforce" in row["likely_missing"] and "timeliness" in row["likely_wrong"]


@pytest.mark.parametrize("content,message", [
    ("train:\n  C: -1\n", "train.C = -1.0 is out of range"),
    ("train:\n  seed: many\n", "train.seed must be int"),
    ("tag:\n  method: magic\n", "tag.method = 'magic' is not allowed"),
    ("train:\n  colour: blue\n", "unknown parameter train.colour"),
    ("train:\n  word_ngrams: [3, 1]\n", "is not a range"),
    ("train: [\n", "not valid YAML"),
])
def test_params_out_of_range_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "params.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_the_repository_params_are_valid():
    from conftest import REPO

    params = load_params(REPO / "params.yaml")
    assert {"train", "evaluate", "tag", "summarise"} <= set(params)
