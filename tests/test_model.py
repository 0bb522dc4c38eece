"""Training, the combined tagger, model integrity, evaluation and the labelling loop,
on small fixtures (the real models/ is never touched)."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest

from pipeline.artifacts import load_model, meta_digest, meta_path
from pipeline.cli import app
from pipeline.errors import LabelsError, ModelError, ParamsError
from pipeline.labelset import load_labelled
from pipeline.params import load_params
from pipeline.themes import load_taxonomy

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
            # a number of its own: letters share phrases, not whole findings (evaluate
            # counts letters that share several findings as one)
            rows.append({"id": f"letter{letter}#{i:04d}", "letter_id": f"letter{letter}",
                         "text": f"{opener}, {body} (case {letter}{i:02d}).", "themes": themes,
                         "judgement": "strength" if positive else "development"})
        rows.append({"id": f"letter{letter}#0099", "letter_id": f"letter{letter}",
                     "text": f"Inspectors met leaders and looked at case records ({letter}).", "themes": [],
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


def test_gold_labels_under_a_file_name_that_is_not_utf8_are_trained_on(project, runner):
    """A Linux file name is bytes: the metadata names one that is not UTF-8 by its bytes,
    and so do the ids of labels without one (each ended in a traceback)."""
    labels = project / os.fsdecode(b"gold\xff.jsonl")
    rows = labelled_rows()
    target = next(i for i, r in enumerate(rows) if r["themes"] == ["workforce"])
    rows[target]["themes"] = ["timeliness"]  # wrong on purpose, for the audit to name it
    with open(labels, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({k: v for k, v in row.items() if k != "id"}) + "\n")
    result = train(runner, project, labels)
    assert f"-> {project / 'models'} (" in result.output
    meta = json.loads((project / "models" / "themes.meta.json").read_text(encoding="utf-8"))
    assert meta["training_data"]["path"] == str(project / "gold\\xff.jsonl")
    audit = project / os.fsdecode(b"audit\xff.csv")
    result = runner.invoke(app, ["labels", "audit", "--labels", str(labels), "--out", str(audit), "--top", "10",
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    assert f"-> {project}/audit\\xff.csv" in result.output   # the name as typed, not '\\udcff'
    ids = [row["id"] for row in csv.DictReader(open(audit, encoding="utf-8"))]
    assert f"gold\\xff#{target + 1}" in ids


def test_labels_without_ids_under_a_name_that_is_not_utf8_go_round_the_whole_loop(project, runner):
    """evaluate, suggest, and an audit's correction imported back with --replace, on
    labels without ids in a file whose name is not UTF-8: their implied ids carry the
    name by its bytes ('gold\\xff#7') and find their line again."""
    labels = project / os.fsdecode(b"gold\xff.jsonl")
    rows = labelled_rows()
    target = next(i for i, r in enumerate(rows) if r["themes"] == ["workforce"])
    rows[target]["themes"] = ["timeliness"]  # wrong on purpose, for the audit to name it
    write_labels(labels, [{k: v for k, v in row.items() if k != "id"} for row in rows])
    params = ["--params", str(project / "params.yaml")] + common(project)
    result = runner.invoke(app, ["evaluate", "--labels", str(labels), "--metrics", str(project / "m.json"),
                                 "--plots", str(project / "plots"), "--report", str(project / "e.md"),
                                 "--quiet"] + params)
    assert result.exit_code == 0, result.output
    assert json.loads((project / "m.json").read_text(encoding="utf-8"))["findings"] == len(rows)

    train(runner, project, labels)
    new = write_labels(project / os.fsdecode(b"new\xff.jsonl"), [
        {"letter_id": "new", "text": "Children are seen alone and caseloads are high."},
        {"letter_id": "new", "text": rows[0]["text"]}])   # labelled already: not suggested
    table = project / "to-label.csv"
    result = runner.invoke(app, ["suggest", "--findings", str(new), "--out", str(table), "--labels",
                                 str(labels), "--models", str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    # read as findings to tag, whose implied ids are padded (tag.read_findings_file)
    assert [r["id"] for r in csv.DictReader(open(table, encoding="utf-8"))] == ["new\\xff#0001"]

    audit = project / "audit.csv"
    result = runner.invoke(app, ["labels", "audit", "--labels", str(labels), "--out", str(audit),
                                 "--top", "10"] + params)
    assert result.exit_code == 0, result.output
    flagged = list(csv.DictReader(open(audit, encoding="utf-8")))
    for r in flagged:
        r["themes"] = "workforce" if r["id"] == f"gold\\xff#{target + 1}" else ""
    assert any(r["themes"] for r in flagged)
    result = runner.invoke(app, ["labels", "import", str(write_table(audit, flagged)), "--replace", "--labels",
                                 str(labels), "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    gold = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    assert len(gold) == len(rows) and gold[target]["themes"] == ["workforce"]
    assert [g["text"] for g in gold] == [r["text"] for r in rows]
    assert [g["themes"] for i, g in enumerate(gold) if i != target] == \
        [r["themes"] for i, r in enumerate(rows) if i != target]


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
    meta["meta_sha256"] = meta_digest(meta)   # as a model trained elsewhere would have it
    meta_path(artifact).write_text(json.dumps(meta))
    with pytest.raises(ModelError) as info:
        load_model(artifact)
    message = str(info.value)
    assert "scikit-learn 0.0.1" in message and "this environment has scikit-learn" in message
    for content in ("[]", "null", '{"versions": []}'):
        meta_path(artifact).write_text(content)
        with pytest.raises(ModelError, match="not what 'train' writes"):
            load_model(artifact)
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


def write_labels(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_labels_without_judgements_train_no_judgement_model_and_remove_an_earlier_one(project, runner):
    train(runner, project)
    assert (project / "models" / "judgement.joblib").exists()
    plain = write_labels(project / "plain.jsonl",
                         [{k: v for k, v in r.items() if k != "judgement"} for r in labelled_rows()])
    result = train(runner, project, plain)
    assert "no judgement model (no finding is labelled with a judgement" in result.stderr
    # the judgement model of the earlier labels must not be paired with the new theme model
    assert not (project / "models" / "judgement.joblib").exists()
    assert not (project / "models" / "judgement.meta.json").exists()
    out = project / "tagged.jsonl"
    result = runner.invoke(app, ["tag", "--findings", str(plain), "--out", str(out), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["judged_by"] for line in out.read_text().splitlines()} == {"wording"}


def test_judgements_of_one_letter_train_no_judgement_model(project, runner):
    rows = [{**r, "judgement": None} if r["letter_id"] != "letter0" else r for r in labelled_rows()]
    result = train(runner, project, write_labels(project / "one.jsonl", rows))
    assert "no judgement model (the findings judged from their wording come from one letter)" in result.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_judgement_model_trained_on_other_labels_is_refused(project, runner, jobs):
    train(runner, project)
    other = project / "other"
    other.mkdir()
    runner.invoke(app, ["train", "--labels", str(write_labels(project / "other.jsonl", labelled_rows(seed=5))),
                        "--out-dir", str(other), "--params", str(project / "params.yaml")] + common(project))
    for name in ("judgement.joblib", "judgement.meta.json"):
        (project / "models" / name).write_bytes((other / name).read_bytes())
    letters = project / "letters"
    letters.mkdir()
    for n in range(2):
        (letters / f"l{n}.txt").write_text(f"Main findings\n\nCaseloads are manageable {n}.\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(letters), "--out", str(project / "t.jsonl"), "--jobs", jobs,
                                 "--models", str(project / "models")] + common(project))
    assert result.exit_code == 1, result.output
    assert "judgement.joblib was trained on other labels than themes.joblib" in result.stderr
    assert "Traceback" not in result.output and not (project / "t.jsonl").exists()


def test_tagging_with_other_patterns_than_the_model_was_trained_with_is_refused(project, runner):
    train(runner, project)
    other = project / "other-patterns.jsonl"
    other.write_text("".join(json.dumps(p) + "\n" for p in PATTERNS[1:]), encoding="utf-8")
    args = ["tag", "--findings", str(project / "gold.jsonl"), "--out", str(project / "t.jsonl"),
            "--models", str(project / "models"), "--themes", str(project / "themes.yaml"),
            "--patterns", str(other)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and f"trained with other patterns than {other}" in result.stderr
    assert "Traceback" not in result.output and not (project / "t.jsonl").exists()
    assert runner.invoke(app, args + ["--method", "rules"]).exit_code == 0


def test_the_training_data_hash_covers_what_the_models_read(project):
    from pipeline.dataset import labelled_hash
    from pipeline.labelset import load_labelled
    from pipeline.themes import load_taxonomy

    taxonomy = load_taxonomy(project / "themes.yaml")
    rows = labelled_rows()

    def digest(changed: list[dict]) -> str:
        return labelled_hash(load_labelled(write_labels(project / "l.jsonl", changed), taxonomy))

    same = digest(rows)
    assert digest([dict(r) for r in rows]) == same
    for changed in ([{**rows[0], "subsection": "Care leavers"}] + rows[1:],
                    [{**rows[0], "judged_by": "heading"}] + rows[1:],
                    [rows[1], rows[0]] + rows[2:]):
        assert digest(changed) != same


def test_evaluate_replaces_its_outputs_together(project, runner, monkeypatch):
    """Metrics, plot data and report are one run's: a run that fails before the last
    is written leaves the earlier run's, every one of them."""
    from pipeline import evaluate

    outputs = [project / "m.json", project / "plots" / "per_theme.json", project / "plots" / "calibration.json",
               project / "e.md"]
    for path in outputs:
        path.parent.mkdir(exist_ok=True)
        path.write_text("the earlier run's\n")

    def failing_report(*args, **kwargs):
        raise RuntimeError("the report could not be made")

    monkeypatch.setattr(evaluate, "render_report", failing_report)
    result = runner.invoke(app, ["evaluate", "--labels", str(project / "gold.jsonl"), "--metrics", str(outputs[0]),
                                 "--plots", str(project / "plots"), "--report", str(outputs[3]), "--quiet",
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code != 0 and "could not be made" in str(result.exception)
    assert [path.read_text() for path in outputs] == ["the earlier run's\n"] * 4
    assert sorted(p.name for p in (project / "plots").iterdir()) == ["calibration.json", "per_theme.json"]


def test_evaluate_needs_two_letters_and_reports_judgements_it_cannot_compare(project, runner):
    def evaluate(labels: Path):
        return runner.invoke(app, ["evaluate", "--labels", str(labels), "--metrics", str(project / "m.json"),
                                   "--plots", str(project / "plots"), "--report", str(project / "e.md"),
                                   "--quiet", "--params", str(project / "params.yaml")] + common(project))

    one = write_labels(project / "one.jsonl", [r for r in labelled_rows() if r["letter_id"] == "letter0"])
    result = evaluate(one)
    assert result.exit_code == 1 and "all the labelled findings come from one letter" in result.stderr
    assert "Traceback" not in result.output
    plain = write_labels(project / "plain.jsonl",
                         [{k: v for k, v in r.items() if k != "judgement"} for r in labelled_rows()])
    result = evaluate(plain)
    assert result.exit_code == 0, result.output
    assert json.loads((project / "m.json").read_text())["judgement"] == {
        "findings": 0, "not_compared": "no finding is labelled with a judgement read from its wording"}
    assert "not compared (no finding is labelled" in (project / "e.md").read_text()


def test_evaluate_is_grouped_by_letter_and_writes_dvc_metrics(project, runner, monkeypatch):
    from sklearn.model_selection import GroupKFold

    seen = []
    real_split = GroupKFold.split
    letters = [r["letter_id"] for r in labelled_rows()]

    def spy(self, X, y=None, groups=None):
        for train_index, test_index in real_split(self, X, y, groups):
            if len(groups) == len(letters):  # the outer folds: by the findings' own letters
                seen.append(({letters[i] for i in train_index}, {letters[i] for i in test_index}))
            yield train_index, test_index

    monkeypatch.setattr(GroupKFold, "split", spy)
    metrics = project / "reports" / "metrics.json"
    result = runner.invoke(app, ["evaluate", "--labels", str(project / "gold.jsonl"), "--metrics",
                                 str(metrics), "--plots", str(project / "reports" / "plots"),
                                 "--report", str(project / "reports" / "evaluation.md"), "--quiet",
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    # the outer folds of the themes, then those of the judgement comparison (every row judged)
    assert len(seen) == 8 and all(not (train & test) for train, test in seen)
    values = json.loads(metrics.read_text())
    for system in ("rules", "model", "combined"):
        assert 0.0 <= values[system]["micro_f1"] <= 1.0 and "macro_f1" in values[system]
    assert values["combined"]["micro_f1"] > 0.8  # the fixture's themes are easy to learn
    assert {"model_accuracy", "heuristic_accuracy"} <= set(values["judgement"])
    plot = json.loads((project / "reports" / "plots" / "per_theme.json").read_text())
    assert {row["system"] for row in plot} == {"rules", "model", "combined"}


def test_evaluate_scores_a_held_out_labelling_set_apart(project, runner):
    rows = [{**r, "set": "round2" if r["letter_id"] in ("letter6", "letter7") else "round1"}
            for r in labelled_rows()]
    labels = write_labels(project / "rounds.jsonl", rows)
    params = project / "params.yaml"

    def evaluate(held_out: str, labels: Path = labels):
        params.write_text(f"train:\n  seed: 1\n  inner_folds: 3\n  min_df: 1\nevaluate:\n  folds: 4\n"
                          f"  held_out_set: {held_out}\n", encoding="utf-8")
        return runner.invoke(app, ["evaluate", "--labels", str(labels), "--metrics", str(project / "m.json"),
                                   "--plots", str(project / "plots"), "--report", str(project / "e.md"),
                                   "--quiet", "--params", str(params)] + common(project))

    result = evaluate("round2")
    assert result.exit_code == 0, result.output
    held_out = json.loads((project / "m.json").read_text())["held_out"]
    assert held_out["set"] == "round2" and held_out["findings"] == 26 and held_out["letters"] == 2
    assert {"rules", "model", "combined"} <= set(held_out)
    assert "## On findings no rule was refined on (set round2)" in (project / "e.md").read_text()
    alone = held_out
    # several sets: scored together and each alone
    result = evaluate("[round2, round1]")
    assert result.exit_code == 0, result.output
    held_out = json.loads((project / "m.json").read_text())["held_out"]
    assert held_out["sets"] == ["round2", "round1"] and held_out["findings"] == len(rows)
    assert [(figures["set"], figures["findings"]) for figures in held_out["by_set"]] == \
        [("round2", 26), ("round1", len(rows) - 26)]
    assert held_out["by_set"][0]["combined"] == alone["combined"]
    report = (project / "e.md").read_text()
    assert "(sets round2, round1)" in report and "| round2 | 26 | 2 |" in report
    # a set the labels do not have: a typo, refused before the folds are fitted
    for named in ("round9", "[round2, round9]"):
        result = evaluate(named)
        assert result.exit_code == 1 and "no finding is in the set 'round9'" in result.stderr
        assert "the labels' sets are round1, round2" in result.stderr
    # labels with no sets at all (another project's): the whole figures, and a warning
    result = evaluate("round2", write_labels(project / "plain.jsonl", labelled_rows()))
    assert result.exit_code == 0, result.output
    assert "name no labelling set ('set'): no figures apart for 'round2'" in result.stderr
    assert "held_out" not in json.loads((project / "m.json").read_text())


def test_held_out_sets_are_one_name_or_a_list_each_once():
    from types import SimpleNamespace

    from pipeline.evaluate import held_out_findings, set_names

    data = SimpleNamespace(findings=[SimpleNamespace(extra={"set": name}) for name in ("r1", "r2", "r1", "r3")])
    assert held_out_findings(data, "r1", Path("gold.jsonl")) == [0, 2]
    assert held_out_findings(data, ["r3", "r1"], Path("gold.jsonl")) == [0, 2, 3]
    assert set_names(["r2", "r1", "r2"]) == ["r2", "r1"] and set_names(None) == []


def test_letters_that_share_a_finding_are_one_group_in_evaluate(project, runner, monkeypatch):
    from sklearn.model_selection import GroupKFold

    # every finding its own words, but for three that letter7 shares with letter6 (and one
    # that letter5 shares with letter6: a phrase in common is chance, not the same letter)
    rows = labelled_rows()
    six = [r for r in rows if r["letter_id"] == "letter6"]
    seven = [i for i, r in enumerate(rows) if r["letter_id"] == "letter7"]
    five = next(i for i, r in enumerate(rows) if r["letter_id"] == "letter5")
    for i, source in zip(seven, six[:3]):
        rows[i] = {**rows[i], "text": " " + source["text"].upper(), "themes": source["themes"]}
    rows[five] = {**rows[five], "text": six[5]["text"], "themes": six[5]["themes"]}
    labels = write_labels(project / "joint.jsonl", rows)
    sides = []
    real_split = GroupKFold.split

    def spy(self, X, y=None, groups=None):
        letters = [r["letter_id"] for r in rows]
        for train_index, test_index in real_split(self, X, y, groups):
            if len(letters) == len(groups):  # the outer folds over every finding
                tested = {letters[i] for i in test_index}
                sides.append(tuple(f"letter{n}" in tested for n in (5, 6, 7)))
            yield train_index, test_index

    monkeypatch.setattr(GroupKFold, "split", spy)
    result = runner.invoke(app, ["evaluate", "--labels", str(labels), "--metrics", str(project / "m.json"),
                                 "--plots", str(project / "plots"), "--quiet",
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    assert sides and all(six == seven for _, six, seven in sides)
    assert any(five != six for five, six, _ in sides)


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


def test_suggest_reads_a_sentence_in_its_whole_paragraph(project, runner):
    train(runner, project)
    labelled = labelled_rows()[0]
    findings = project / "paragraph.jsonl"
    write_labels(findings, [
        {"id": "p#1", "letter_id": labelled["letter_id"], "text": labelled["text"], "unit": "sentence",
         "paragraph": 1},
        {"id": "p#2", "letter_id": labelled["letter_id"], "text": "Managers review them every month.",
         "unit": "sentence", "paragraph": 1}])
    table = project / "to-label.csv"
    result = runner.invoke(app, ["suggest", "--findings", str(findings), "--out", str(table),
                                 "--labels", str(project / "gold.jsonl"), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(table, encoding="utf-8")))
    # the labelled sentence is not suggested, but it is still the other's paragraph
    assert [r["id"] for r in rows] == ["p#2"]
    assert rows[0]["context"] == labelled["text"] + " Managers review them every month."


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

    # corrected in the audit's own file: the label keeps everything else, in its place
    target.update(set="round-1", section="Help and protection", source="letters/x.pdf")
    (project / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    for r in flagged:
        r["themes"] = "workforce" if r["id"] == target["id"] else ""
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(flagged[0]))
        writer.writeheader()
        writer.writerows(flagged)
    result = runner.invoke(app, ["labels", "import", str(out), "--replace", "--labels",
                                 str(project / "gold.jsonl"), "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    assert f"0 labelled findings added and 1 relabelled in {project / 'gold.jsonl'}" in result.output
    gold = [json.loads(line) for line in (project / "gold.jsonl").read_text().splitlines()]
    assert [g["id"] for g in gold] == [r["id"] for r in rows]
    fixed = next(g for g in gold if g["id"] == target["id"])
    assert fixed["themes"] == ["workforce"] and fixed["judgement"] == target["judgement"]
    assert (fixed["set"], fixed["section"], fixed["source"]) == ("round-1", "Help and protection", "letters/x.pdf")
    assert fixed["labelled_by"] == "import:audit.csv"
    assert [g for g in gold if g["id"] != target["id"]] == [r for r in rows if r["id"] != target["id"]]


@pytest.mark.parametrize("content,message", [
    ("train:\n  C: -1\n", "train.C = -1.0 is out of range"),
    ("train:\n  seed: many\n", "train.seed must be a whole number"),
    ("tag:\n  method: magic\n", "tag.method = 'magic' is not allowed"),
    ("train:\n  colour: blue\n", "unknown parameter train.colour"),
    ("train:\n  word_ngrams: [3, 1]\n", "is not a range"),
    ("train: [\n", "not valid YAML"),
    ("evaluate:\n  held_out_set: [round5, 6]\n", "evaluate.held_out_set must be a name or a list of names"),
    ("evaluate:\n  held_out_set: []\n", "evaluate.held_out_set must be a name or a list of names"),
    ("evaluate:\n  held_out_set: [round5, round6, round5]\n", "evaluate.held_out_set names 'round5' twice"),
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


def test_the_theme_regressions_take_the_dual_solver_while_findings_are_fewer_than_features():
    """The dual solver made training 2.4 times faster on the gold labels (fewer findings
    than features); where findings outnumber features the primal one is the faster."""
    from pipeline.model import ThemeClassifier

    classifier = ThemeClassifier(("timeliness",))
    assert classifier._model((4122, 27877)).dual is True
    assert classifier._model((50000, 27877)).dual is False


@pytest.mark.parametrize("rows,features", [(300, 12), (30, 120)])
def test_fit_gives_each_theme_the_solver_for_the_shape_it_fits(rows, features):
    """End to end: the final model of each theme is the one liblinear fits with the solver
    the matrix's shape calls for (primal where findings outnumber features)."""
    import numpy as np
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from pipeline.model import ThemeClassifier, single_threaded_blas

    rng = np.random.default_rng(5)
    X = sparse.csr_matrix(rng.random((rows, features)))
    Y = (X[:, :2].toarray() + rng.normal(0, 0.2, (rows, 2)) > 0.5).astype(int)
    fitted = ThemeClassifier(("a", "b"), C=2.0, inner_folds=3, seed=7).fit(X, Y, np.arange(rows) % 6)
    for dual in (False, True):
        with single_threaded_blas():   # as the classifier fits
            alone = [LogisticRegression(C=2.0, solver="liblinear", dual=dual, class_weight="balanced",
                                        max_iter=2000, random_state=7).fit(X, Y[:, j]).coef_[0]
                     for j in range(2)]
        assert np.array_equal(fitted.coef_, np.array(alone)) == (dual == (rows < features))


def test_a_threshold_is_the_middle_of_the_thresholds_whose_f1_is_near_the_best():
    import numpy as np

    from pipeline.model import DEFAULT_PARAMS, best_threshold, build_pipeline

    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    target = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    # F1 of a cut below each score: 0.40 0.67 0.57 0.75 0.89 0.80 0.73 0.67
    assert best_threshold(scores, target) == pytest.approx(0.45)        # the best cut alone
    assert best_threshold(scores, target, 0.1) == pytest.approx(0.40)   # and the 0.80 one below it
    assert best_threshold(scores, target, 0.15) == pytest.approx(0.45)  # and the 0.75 one above
    # the lowest score: halfway to 0.05 below it, as before
    assert best_threshold(np.array([0.9, 0.8]), np.array([1, 1])) == pytest.approx(0.775)
    # equal best F1: tolerance 0 keeps the first, as the rule before did (not the middle)
    assert best_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 0, 1])) == pytest.approx(0.85)
    assert DEFAULT_PARAMS["threshold_tolerance"] == 0.01
    classifier = build_pipeline(["timeliness"], {"threshold_tolerance": 0.2}).named_steps["classifier"]
    assert classifier.threshold_tolerance == 0.2


def test_fit_sets_each_threshold_by_the_tolerance_it_is_given():
    import numpy as np
    from scipy import sparse

    from pipeline.model import ThemeClassifier

    rng = np.random.default_rng(2)
    X = sparse.csr_matrix(rng.random((240, 30)))
    Y = (X[:, :3].toarray() + rng.normal(0, 0.35, (240, 3)) > 0.6).astype(int)
    groups = np.arange(240) % 8

    def thresholds(tolerance):
        return ThemeClassifier(("a", "b", "c"), inner_folds=4, threshold_tolerance=tolerance).fit(
            X, Y, groups).thresholds_

    strict, tolerant = thresholds(0.0), thresholds(0.1)
    assert not np.array_equal(strict, tolerant)


def test_theme_models_fitted_on_threads_at_once_are_those_fitted_alone():
    """liblinear's dual solver draws from one random generator per process: fits on
    threads of one process (a grid search around the model) must not share its draws."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from pipeline.model import DEFAULT_PARAMS, ThemeClassifier, build_features

    themes = ["timeliness", "workforce", "childs_voice"]
    rows = labelled_rows(n_letters=40, seed=3)
    Y = np.array([[t in r["themes"] for t in themes] for r in rows], dtype=int)
    X = build_features(themes, {**DEFAULT_PARAMS, "min_df": 1, "rule_features": False,
                                "context_features": False, "section_features": False}).fit_transform(rows)
    groups = [r["letter_id"] for r in rows]

    def fit(_=None):
        return ThemeClassifier(themes, inner_folds=3, n_jobs=1).fit(X, Y, groups).coef_

    alone = fit()
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fit, range(8)))
    assert all(np.array_equal(coef, alone) for coef in together)


def test_the_built_in_defaults_are_the_repository_params():
    """Run outside the repository (no params.yaml), train must make the same models."""
    from conftest import REPO
    from pipeline.train import judgement_settings, theme_params

    train = load_params(REPO / "params.yaml", "train")
    assert theme_params({}) == theme_params(train)
    assert judgement_settings({}) == judgement_settings(train)


def test_a_missing_params_file_or_an_unknown_group_is_an_error(tmp_path, runner, monkeypatch):
    missing = tmp_path / "nosuch.yaml"
    with pytest.raises(ParamsError, match="parameters file not found"):
        load_params(missing)
    result = runner.invoke(app, ["summarise", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "s"),
                                 "--params", str(missing)])
    assert result.exit_code == 1 and f"{missing}: parameters file not found" in result.stderr
    typo = tmp_path / "params.yaml"
    typo.write_text("trian:\n  C: 2.0\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="unknown group 'trian'"):
        load_params(typo)
    # the working folder's params.yaml, read without --params, may be another program's too
    typo.write_text("prepare:\n  split: 0.2\ntrain:\n  C: 2.0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_params(None, "train") == {"C": 2.0}


def test_suggest_leaves_out_a_text_labelled_under_another_id_and_import_warns_of_one(project, runner):
    train(runner, project)
    labelled = labelled_rows()[0]
    findings = write_labels(project / "renamed.jsonl", [
        # the same letter, saved under another file name: other ids, same words
        {"id": "renamed#0001", "letter_id": "renamed", "text": "  " + labelled["text"].replace(" ", "  ")},
        {"id": "renamed#0002", "letter_id": "renamed", "text": "Managers review them every month."}])
    table = project / "to-label.csv"
    result = runner.invoke(app, ["suggest", "--findings", str(findings), "--out", str(table),
                                 "--labels", str(project / "gold.jsonl"), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in csv.DictReader(open(table, encoding="utf-8"))] == ["renamed#0002"]
    twin = write_labels(project / "twin.jsonl", [{"id": "renamed#0001", "text": labelled["text"],
                                                   "themes": ["workforce"], "judgement": ""}])
    result = runner.invoke(app, ["labels", "import", str(twin), "--labels", str(project / "gold.jsonl"),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    assert ("warning: 1 row has the text of a finding labelled under another id, already or in this "
            f"table (e.g. 'renamed#0001', line 1, and '{labelled['id']}'), 1 with other themes") in result.output
    assert "1 labelled finding added and 0 relabelled" in result.output


def test_rows_not_labelled_yet_are_skipped_by_train_as_by_import(project, runner):
    rows = labelled_rows()
    path = project / "part.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "letter_id", "text", "themes", "judgement"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "themes": ";".join(r["themes"])})
        # a spreadsheet part way through labelling: rows with neither themes nor judgement
        for i in range(3):
            writer.writerow({"id": f"later#{i}", "letter_id": "later", "text": f"Not read yet {i}.",
                             "themes": "", "judgement": ""})
    from pipeline.labelset import load_labelled
    from pipeline.themes import load_taxonomy

    labelled = load_labelled(path, load_taxonomy(project / "themes.yaml"))
    assert len(labelled) == len(rows) and labelled.unlabelled == 3
    result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "m"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    assert f"train: {len(rows)} findings from 8 letters (3 unlabelled rows skipped)" in result.output


def test_a_table_without_a_judgement_column_is_read_alike_by_import_and_train(project, runner):
    """Without a judgement column an empty themes cell says "no theme" to train; import
    skipped such rows as not labelled yet, so a file trained on directly and the same
    file imported gave different labels."""
    from pipeline.labelset import load_labelled
    from pipeline.themes import load_taxonomy

    path = project / "themes-only.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "letter_id", "text", "themes"])
        writer.writeheader()
        writer.writerow({"id": "x#1", "letter_id": "x", "text": "Caseloads are high.", "themes": "workforce"})
        writer.writerow({"id": "x#2", "letter_id": "x", "text": "Inspectors met leaders.", "themes": ""})
    read_by_train = load_labelled(path, load_taxonomy(project / "themes.yaml"))
    gold = project / "imported.jsonl"
    result = runner.invoke(app, ["labels", "import", str(path), "--labels", str(gold),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    imported = [json.loads(line) for line in gold.read_text().splitlines()]
    assert [(r["id"], r["themes"]) for r in imported] == [(r.id, r.themes) for r in read_by_train] == [
        ("x#1", ["workforce"]), ("x#2", [])]

    no_themes = project / "no-themes.csv"
    no_themes.write_text("id,letter_id,text,judgement\nx#3,x,Plans are weak.,development\n", encoding="utf-8")
    result = runner.invoke(app, ["labels", "import", str(no_themes), "--labels", str(gold),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 1
    assert f"{no_themes}:1: CSV has no 'themes' column" in result.stderr
    read_by_train = runner.invoke(app, ["train", "--labels", str(no_themes), "--out-dir", str(project / "m"),
                                        "--params", str(project / "params.yaml")] + common(project))
    assert read_by_train.exit_code == 1 and read_by_train.stderr == result.stderr
    jsonl = write_labels(project / "no-themes.jsonl", [{"id": "x#3", "text": "Plans are weak."}])
    result = runner.invoke(app, ["labels", "import", str(jsonl), "--labels", str(gold),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 1 and f"{jsonl}:1: no 'themes' field" in result.stderr


def test_training_refuses_a_theme_that_every_finding_has(project, runner):
    rows = [{**r, "themes": sorted(set(r["themes"]) | {"timeliness"})} for r in labelled_rows()]
    path = write_labels(project / "all.jsonl", rows)
    result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "m"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 1 and "too few findings without theme(s) timeliness" in result.stderr
    assert not (project / "m").exists() or not any((project / "m").iterdir())


def test_edited_metadata_is_refused(project, runner):
    train(runner, project)
    artifact = project / "models" / "themes.joblib"
    meta = json.loads(meta_path(artifact).read_text())
    meta["thresholds"]["timeliness"] = 0.9   # claims a threshold the model does not use
    meta_path(artifact).write_text(json.dumps(meta, indent=2))
    with pytest.raises(ModelError, match="model metadata was edited"):
        load_model(artifact)


def test_models_are_put_in_place_together_and_a_ctrl_c_waits_for_them(tmp_path, monkeypatch):
    import os
    import signal

    from pipeline import outputs
    from pipeline.errors import OutputError

    files = {tmp_path / "a.joblib": b"new a", tmp_path / "a.meta.json": b"new meta",
             tmp_path / "b.joblib": b"new b"}
    for path in files:
        path.write_bytes(b"old")
    (tmp_path / "c.joblib").write_bytes(b"earlier")
    real_replace = os.replace

    def ctrl_c_midway(src, dst):   # Ctrl-C pressed after the first file is in place
        real_replace(src, dst)
        if Path(dst).name == "a.joblib":
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(outputs.os, "replace", ctrl_c_midway)
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            outputs.replace_together(files, [tmp_path / "c.joblib"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert {p.name: p.read_bytes() for p in files} == {p.name: d for p, d in files.items()}
    assert not (tmp_path / "c.joblib").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.joblib", "a.meta.json", "b.joblib"]

    # a write that fails leaves every file as it was
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    real_fdopen = os.fdopen

    def full_disk(fd, *args, **kwargs):
        if len(list(tmp_path.glob(".*.tmp"))) == 2:
            os.close(fd)
            raise OSError(28, "No space left on device")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "fdopen", full_disk)
    with pytest.raises(OutputError, match="disk full"):
        outputs.replace_together({p: b"newer" for p in files})
    assert {p.name: p.read_bytes() for p in files} == {p.name: d for p, d in files.items()}
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_ctrl_c_while_models_are_put_in_place_wins_over_a_failed_rename(tmp_path, monkeypatch):
    """The user asked to stop: the run stops as on any Ctrl-C, with its temporary files
    removed, rather than reporting the rename's error (as the start of workers does)."""
    import os
    import signal

    from pipeline import outputs

    files = {tmp_path / "a.joblib": b"new a", tmp_path / "b.joblib": b"new b"}
    for path in files:
        path.write_bytes(b"old")

    def ctrl_c_then_fail(src, dst):
        os.kill(os.getpid(), signal.SIGINT)
        raise OSError(13, "Permission denied", str(dst))

    monkeypatch.setattr(outputs.os, "replace", ctrl_c_then_fail)
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            outputs.replace_together(files)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert {p.name: p.read_bytes() for p in files} == {"a.joblib": b"old", "b.joblib": b"old"}
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("option", ["--labels", "--themes", "--patterns", "--params"])
def test_a_folder_for_a_file_is_a_one_line_error(project, runner, option):
    options = {"--labels": str(project / "gold.jsonl"), "--themes": str(project / "themes.yaml"),
               "--patterns": str(project / "patterns.jsonl"), "--params": str(project / "params.yaml")}
    options[option] = str(project)
    result = runner.invoke(app, ["train", "--out-dir", str(project / "m"),
                                 *[x for pair in options.items() for x in pair]])
    assert result.exit_code == 1
    assert f"{project}: is a folder, not a file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def write_table(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_labels(runner, project: Path, table: Path, *options: str):
    return runner.invoke(app, ["labels", "import", str(table), "--labels", str(project / "gold.jsonl"),
                               "--themes", str(project / "themes.yaml"), *options])


def test_a_table_whose_name_is_not_utf8_is_imported_and_named_by_its_bytes(project, runner):
    table = write_table(project / os.fsdecode(b"new\xff.csv"), [
        {"id": "new#0001", "text": "Caseloads are now lower for most social workers.", "themes": "workforce",
         "judgement": "development"}])
    result = import_labels(runner, project, table)
    assert result.exit_code == 0, result.output
    last = json.loads((project / "gold.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["id"] == "new#0001" and last["labelled_by"] == "import:new\\xff.csv"


def test_import_never_gives_a_labelled_finding_another_text(project, runner):
    """An id of the gold file with another finding's text (a new letter saved under a
    labelled letter's file name, a sheet sorted on one column) is refused, --replace or not."""
    before = (project / "gold.jsonl").read_bytes()
    table = write_table(project / "t.csv", [
        {"id": "letter0#0003", "text": "Completely different text typed by mistake.",
         "themes": "workforce", "judgement": ""}])
    for options in ((), ("--replace",)):
        result = import_labels(runner, project, table, *options)
        assert result.exit_code == 1 and f"{table}:2: id 'letter0#0003' is labelled already" in result.stderr
        assert "with another text" in result.stderr and "--replace" not in result.stderr
        assert (project / "gold.jsonl").read_bytes() == before
    # the same text, spaced otherwise, relabels it and keeps the text as labelled
    original = next(r for r in labelled_rows() if r["id"] == "letter0#0003")
    write_table(table, [{"id": "letter0#0003", "text": "  " + original["text"].replace(" ", "  "),
                         "themes": "workforce", "judgement": ""}])
    result = import_labels(runner, project, table, "--replace")
    assert result.exit_code == 0, result.output
    fixed = next(json.loads(line) for line in (project / "gold.jsonl").read_text().splitlines()
                 if json.loads(line)["id"] == "letter0#0003")
    assert fixed["text"] == original["text"] and fixed["themes"] == ["workforce"]


def test_a_failed_import_leaves_the_gold_file_as_it_was(project, runner):
    table = write_table(project / "t.csv", [{"id": "new#0001", "text": "Plans drift.",
                                             "themes": "timeliness", "judgement": "development"}])
    # the gold file uses a theme the taxonomy given does not have
    (project / "two.yaml").write_text(THEMES.split("  - id: childs_voice")[0], encoding="utf-8")
    before = (project / "gold.jsonl").read_bytes()
    result = runner.invoke(app, ["labels", "import", str(table), "--labels", str(project / "gold.jsonl"),
                                 "--themes", str(project / "two.yaml")])
    assert result.exit_code == 1 and "unknown theme id 'childs_voice'" in result.stderr
    assert f"{project / 'gold.jsonl'}:" in result.stderr
    assert (project / "gold.jsonl").read_bytes() == before
    # a hand-edited gold line that train would refuse
    rows = labelled_rows()
    rows[5]["judgement"] = "sometimes"
    write_labels(project / "gold.jsonl", rows)
    before = (project / "gold.jsonl").read_bytes()
    result = import_labels(runner, project, table)
    assert result.exit_code == 1 and f"{project / 'gold.jsonl'}:6: unknown judgement 'sometimes'" in result.stderr
    assert (project / "gold.jsonl").read_bytes() == before
    # a CSV given as the gold labels is refused, not filled with JSON lines
    (project / "gold.csv").write_text("id,text,themes\nx#1,Plans drift.,timeliness\n", encoding="utf-8")
    result = runner.invoke(app, ["labels", "import", str(table), "--labels", str(project / "gold.csv"),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 1 and "must be a JSONL file" in result.stderr
    assert (project / "gold.csv").read_text() == "id,text,themes\nx#1,Plans drift.,timeliness\n"


def test_import_keeps_every_gold_line_where_it_was_so_no_label_changes_its_id(project, runner):
    """A gold line without an id is named by its line (gold#N) in train and evaluate: an
    import keeps blank lines and a line split by a character that is a line break to
    Python's splitlines (U+2028 in a finding's text) as they were, so that id stays."""
    rows = labelled_rows()
    del rows[4]["id"]
    rows[7]["text"] = "Plans\u2028drift\x85 for weeks."
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
    lines.insert(2, "\n")   # line 3 blank: the record without an id is on line 6
    (project / "gold.jsonl").write_text("".join(lines), encoding="utf-8")
    ids = [f.id for f in load_labelled(project / "gold.jsonl", load_taxonomy(project / "themes.yaml"))]
    assert "gold#6" in ids
    table = write_table(project / "t.csv", [{"id": "new#0001", "text": "Plans drift.",
                                             "themes": "timeliness", "judgement": ""}])
    result = import_labels(runner, project, table)
    assert result.exit_code == 0, result.output
    after = [f.id for f in load_labelled(project / "gold.jsonl", load_taxonomy(project / "themes.yaml"))]
    assert after == ids + ["new#0001"]
    assert (project / "gold.jsonl").read_text(encoding="utf-8").startswith("".join(lines))


def test_an_imported_id_that_a_gold_line_without_an_id_is_named_by_is_that_label(project, runner):
    """'gold#6' names the sixth line of gold.jsonl when it has no id of its own: a row of
    that id is that label (relabelled with --replace), never a second label that train
    would refuse as a duplicate id."""
    rows = labelled_rows()
    del rows[5]["id"]
    write_labels(project / "gold.jsonl", rows)
    taxonomy = load_taxonomy(project / "themes.yaml")
    table = write_table(project / "t.csv", [{"id": "gold#6", "text": "Plans drift.",
                                             "themes": "timeliness", "judgement": ""}])
    before = (project / "gold.jsonl").read_bytes()
    result = import_labels(runner, project, table, "--replace")
    assert result.exit_code == 1 and f"{table}:2: id 'gold#6' is labelled already" in result.stderr
    assert (project / "gold.jsonl").read_bytes() == before
    write_table(table, [{"id": "gold#6", "text": rows[5]["text"], "themes": "workforce", "judgement": ""}])
    result = import_labels(runner, project, table)
    assert result.exit_code == 1 and "id 'gold#6' is already in" in result.stderr
    result = import_labels(runner, project, table, "--replace")
    assert result.exit_code == 0, result.output
    relabelled = {f.id: f for f in load_labelled(project / "gold.jsonl", taxonomy)}
    assert len(relabelled) == len(rows) and relabelled["gold#6"].themes == ["workforce"]


def test_an_import_that_would_leave_the_gold_file_unreadable_names_the_row(project, runner, monkeypatch):
    """The last check reads the gold file as it would be written, before it is written:
    a fault there is named by the table's row (and the gold line it would be)."""
    from pipeline import labelling
    table = write_table(project / "t.csv", [
        {"id": "new#0001", "text": "Plans drift.", "themes": "timeliness", "judgement": ""},
        {"id": "new#0002", "text": "Staff are supported.", "themes": "workforce", "judgement": ""}])
    gold_lines = len((project / "gold.jsonl").read_text().splitlines())
    checked = labelling.labelled_from

    def refuse_the_last(rows, path, *args, **kwargs):
        rows = list(rows)
        if rows[-1][1]["id"] == "new#0002":
            raise LabelsError("a fault", path=str(path), line=rows[-1][0])
        return checked(rows, path, *args, **kwargs)

    monkeypatch.setattr(labelling, "labelled_from", refuse_the_last)
    before = (project / "gold.jsonl").read_bytes()
    result = import_labels(runner, project, table)
    assert result.exit_code == 1
    assert f"{table}:3: the import would leave {project / 'gold.jsonl'} unreadable" in result.stderr
    assert f"(its line {gold_lines + 2}: a fault)" in result.stderr
    assert not list(project.glob(".gold.jsonl*")) and (project / "gold.jsonl").read_bytes() == before


@pytest.mark.parametrize("own_id", ["absent", None, ""])
def test_a_new_row_with_the_text_of_a_gold_line_without_an_id_is_warned_of_by_that_line(project, runner, own_id):
    rows = labelled_rows()
    if own_id == "absent":
        del rows[2]["id"]
    else:
        rows[2]["id"] = own_id
    write_labels(project / "gold.jsonl", rows)
    table = write_table(project / "t.csv", [{"id": "new#0001", "text": rows[2]["text"],
                                             "themes": "workforce", "judgement": ""}])
    result = import_labels(runner, project, table)
    assert result.exit_code == 0, result.output
    assert "(e.g. 'new#0001', line 2, and 'gold#3')" in result.stderr


def test_a_gold_file_that_is_not_jsonl_is_refused_before_it_exists(project, runner):
    """It would be written as JSON lines under a name that train reads as CSV (or not at all)."""
    table = write_table(project / "t.csv", [{"id": "new#0001", "text": "Plans drift.",
                                             "themes": "timeliness", "judgement": ""}])
    for name in ("new.csv", "new.json"):
        result = runner.invoke(app, ["labels", "import", str(table), "--labels", str(project / "x" / name),
                                     "--themes", str(project / "themes.yaml")])
        assert result.exit_code == 1 and "must be a JSONL file" in result.stderr
        assert not (project / "x").exists()


@pytest.mark.parametrize("command", ["import", "train", "tag"])
def test_half_a_character_escaped_in_json_is_named_by_its_line(project, runner, command):
    """JSON may escape half of a surrogate pair ("\\ud800"), which is no character and no
    UTF-8: spaCy, the gold file and every output would fail on it, with a traceback, far
    from the line that holds it. A whole pair ("\\ud83d\\ude00") is one character."""
    path = project / "rows.jsonl"
    rows = [{"id": "new#0001", "letter_id": "new", "text": "Plans drift \U0001F600.", "themes": ["timeliness"]},
            {"id": "new#0002", "letter_id": "new", "text": "Plans drift \ud800.", "themes": ["timeliness"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert "\\ud83d\\ude00" in path.read_text()
    before = (project / "gold.jsonl").read_bytes()
    if command == "import":
        result = import_labels(runner, project, path)
    elif command == "train":
        path = write_labels(project / "l.jsonl", labelled_rows() + rows)
        result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "models"),
                                     "--params", str(project / "params.yaml")] + common(project))
    else:
        result = runner.invoke(app, ["tag", "--findings", str(path), "--method", "rules",
                                     "--out", str(project / "tagged.jsonl")] + common(project))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    line = 2 if command != "train" else len(labelled_rows()) + 2
    assert f"{path}:{line}: half of a character" in result.stderr, result.stderr
    assert (project / "gold.jsonl").read_bytes() == before and not (project / "tagged.jsonl").exists()


@pytest.mark.parametrize("row,message", [
    ({"text": 5}, "'text' must be text, got 5"),
    ({"context": 3}, "'context' must be text, got 3"),
    ({"section": {"a": 1}}, "'section' must be text, got {'a': 1}"),
    ({"judgement": 0}, "'judgement' must be text, got 0"),
    ({"judgement": "sometimes"}, "unknown judgement 'sometimes'"),
])
def test_odd_values_of_an_imported_row_are_one_line_errors(project, runner, row, message):
    path = project / "rows.jsonl"
    base = {"id": "new#0001", "letter_id": "new", "text": "Plans drift.", "themes": ["timeliness"]}
    path.write_text(json.dumps({**base, **row}) + "\n", encoding="utf-8")
    before = (project / "gold.jsonl").read_bytes()
    result = import_labels(runner, project, path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{path}:1:" in result.stderr and message in result.stderr, result.stderr
    assert (project / "gold.jsonl").read_bytes() == before


def test_import_reads_a_gold_file_as_train_does_and_keeps_what_suggest_gives(project, runner):
    """A gold file saved with a byte-order mark, or with a line without an id, is read as
    train reads it; a row keeps its subsection, and a judgement its heading gives stays the
    heading's (kept out of the wording-judgement model's examples)."""
    rows = labelled_rows()
    del rows[0]["id"]
    (project / "gold.jsonl").write_text("\ufeff" + "".join(json.dumps(r) + "\n" for r in rows),
                                        encoding="utf-8")
    table = write_table(project / "t.csv", [
        {"id": "new#0001", "section": "Help and protection", "subsection": "Progress", "text": "Plans drift.",
         "themes": "timeliness", "judgement": "", "heading_judgement": "Strength"},
        {"id": "new#0002", "section": "", "subsection": "", "text": "Staff are supported.",
         "themes": "workforce", "judgement": "Priority action ", "heading_judgement": "strength"},
        {"id": "new#0003", "section": "", "subsection": "", "text": "Children are seen.",
         "themes": "childs_voice", "judgement": "Strength ", "heading_judgement": ""}])
    result = import_labels(runner, project, table)
    assert result.exit_code == 0, result.output
    added = [json.loads(line) for line in (project / "gold.jsonl").read_text(encoding="utf-8-sig").splitlines()][-3:]
    assert [(r["subsection"], r["judgement"], r["judged_by"]) for r in added] == [
        ("Progress", "strength", "heading"), (None, "priority_action", "annotator"),
        (None, "strength", "annotator")]
    train(runner, project)   # and train reads the result


def test_suggest_gives_each_findings_subsection_and_the_judgement_its_heading_gives(project, runner):
    train(runner, project)
    new = project / "new.jsonl"
    new.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "new#0", "letter_id": "new", "text": "Children are seen alone and caseloads are high.",
         "section": "Areas for improvement", "subsection": "Supervision", "judgement": "development",
         "judged_by": "heading"},
        {"id": "new#1", "letter_id": "new", "text": "There is delay and drift in some plans.",
         "judgement": "development", "judged_by": "wording"}]), encoding="utf-8")
    table = project / "to-label.csv"
    result = runner.invoke(app, ["suggest", "--findings", str(new), "--top", "2", "--out", str(table),
                                 "--labels", str(project / "gold.jsonl"), "--models",
                                 str(project / "models")] + common(project))
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in csv.DictReader(open(table, encoding="utf-8"))}
    assert (rows["new#0"]["subsection"], rows["new#0"]["heading_judgement"]) == ("Supervision", "development")
    assert (rows["new#1"]["subsection"], rows["new#1"]["heading_judgement"]) == ("", "")


def test_training_refuses_a_theme_whose_examples_are_all_in_one_letter(project, runner):
    rows = [r for r in labelled_rows() if "workforce" not in r["themes"] or r["letter_id"] == "letter3"]
    assert sum("workforce" in r["themes"] for r in rows) >= 2
    path = write_labels(project / "one.jsonl", rows)
    result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "m"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 1, result.output
    assert "theme(s) workforce (all in letter3) come from one letter" in result.stderr
    assert not (project / "m").exists() or not any((project / "m").iterdir())


def test_train_reads_judgements_as_written_and_refuses_a_section_that_is_a_number(project, runner):
    rows = labelled_rows()
    rows[0]["judgement"] = "Strength "
    train(runner, project, write_labels(project / "spaced.jsonl", rows))
    rows[1]["section"] = 2024
    path = write_labels(project / "number.jsonl", rows)
    result = runner.invoke(app, ["train", "--labels", str(path), "--out-dir", str(project / "m"),
                                 "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 1 and f"{path}:2: 'section' must be text, got 2024" in result.stderr


def test_tag_and_suggest_refuse_models_whose_judgement_model_is_missing_or_whose_metadata_is_unreadable(project, runner):
    train(runner, project)
    letter = project / "letter.txt"
    letter.write_text("Areas for improvement\n\nToo often, plans drift and children wait.\n", encoding="utf-8")
    (project / "models" / "judgement.joblib").unlink()
    result = runner.invoke(app, ["tag", str(letter), "--out", str(project / "o.jsonl"),
                                 "--models", str(project / "models")] + common(project))
    assert result.exit_code == 1 and "judgement model missing (its metadata is there)" in result.stderr
    assert not (project / "o.jsonl").exists()
    # both its files left behind in a copy: the theme model's metadata names it
    meta_path(project / "models" / "judgement.joblib").unlink()
    result = runner.invoke(app, ["tag", str(letter), "--out", str(project / "o.jsonl"),
                                 "--models", str(project / "models")] + common(project))
    assert result.exit_code == 1 and "judgement model missing: themes.joblib was trained with one" in result.stderr
    assert not (project / "o.jsonl").exists()
    # suggest ranks by the same tagger: a ranking made without the judgement model is refused too
    result = runner.invoke(app, ["suggest", str(letter), "--out", str(project / "s.csv"), "--labels",
                                 str(project / "gold.jsonl"), "--models", str(project / "models")]
                           + common(project))
    assert result.exit_code == 1 and "judgement model missing: themes.joblib was trained with one" in result.stderr
    assert not (project / "s.csv").exists()
    train(runner, project)
    meta_path(project / "models" / "themes.joblib").write_bytes(b"\xff\xfe")
    result = runner.invoke(app, ["tag", str(letter), "--out", str(project / "o.jsonl"),
                                 "--models", str(project / "models")] + common(project))
    assert result.exit_code == 1 and "model metadata is not valid JSON" in result.stderr


# --------------------------------------------- outputs checked before the long work

def test_outputs_that_cannot_be_written_are_refused_before_the_work(project, runner, monkeypatch):
    """A folder given for a file, a file for a folder, an input given as an output: each
    command says so at once, not after its cross-validation or fit, and writes nothing."""
    import pipeline.evaluate
    import pipeline.train

    def never(*args, **kwargs):
        raise AssertionError("the long work ran before the outputs were checked")

    monkeypatch.setattr(pipeline.evaluate, "out_of_fold", never)
    monkeypatch.setattr(pipeline.train, "fit_pipeline", never)
    folder = project / "a-folder"
    folder.mkdir()
    a_file = project / "a-file"
    a_file.write_text("kept\n", encoding="utf-8")
    gold = project / "gold.jsonl"
    gold_before = gold.read_bytes()
    params = ["--params", str(project / "params.yaml")]
    cases = [
        (["labels", "audit", "--labels", str(gold), "--out", str(folder)] + params,
         f"{folder}: is a folder, not a file (give --out a file name"),
        (["labels", "audit", "--labels", str(gold), "--out", str(gold)] + params,
         f"{gold}: is a file this command reads (give --out another file"),
        (["evaluate", "--labels", str(gold), "--metrics", str(folder), "--quiet"] + params,
         f"{folder}: is a folder, not a file (give --metrics a file name"),
        (["evaluate", "--labels", str(gold), "--metrics", str(project / "m.json"), "--plots", str(a_file),
          "--report", str(project / "e.md"), "--quiet"] + params,
         f"{a_file}: is a file, not a folder (give a folder with --plots)"),
        (["evaluate", "--labels", str(gold), "--metrics", str(project / "same"), "--report",
          str(project / "same"), "--quiet"] + params,
         f"{project / 'same'}: is written by both --metrics and --report"),
        (["evaluate", "--labels", str(gold), "--metrics", str(project / "pp"), "--plots", str(project / "pp"),
          "--report", str(project / "e.md"), "--quiet"] + params,
         "per_theme.json: is written by both --metrics and --plots"),
        (["evaluate", "--labels", str(gold), "--metrics", str(a_file / "m.json"), "--quiet"] + params,
         f"m.json: is inside {a_file}, which is a file"),
        (["train", "--labels", str(gold), "--out-dir", str(a_file)] + params,
         f"{a_file}: is a file, not a folder (give a folder with --out-dir)"),
        (["rules", "report", "--gold", str(gold), "--out", str(project / "rules.md"), "--json", str(folder)],
         f"{folder}: is a folder, not a file (give --json a file name"),
        (["rules", "report", "--gold", str(gold), "--out", str(project / "patterns.jsonl")],
         "patterns.jsonl: is a file this command reads (give --out another file"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args + common(project))
        assert result.exit_code == 1 and message in result.stderr, (args, result.output)
        assert "Traceback" not in result.output
    # params.yaml of the working folder, read when --params is not given, is an input too
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["evaluate", "--labels", str(gold), "--metrics", "params.yaml", "--quiet",
                                 "--plots", "plots", "--report", "e.md"] + common(project))
    assert result.exit_code == 1 and "params.yaml: is a file this command reads" in result.stderr
    assert gold.read_bytes() == gold_before and a_file.read_text() == "kept\n"
    assert sorted(p.name for p in folder.iterdir()) == []
    assert not (project / "rules.md").exists() and not (project / "m.json").exists()
    assert not (project / "pp").exists() and (project / "params.yaml").read_text().startswith("train:")


def test_suggest_refuses_to_write_over_the_gold_labels(project, runner):
    train(runner, project)
    gold = project / "gold.jsonl"
    before = gold.read_bytes()
    findings = write_labels(project / "new.jsonl", [{"id": "new#1", "letter_id": "new",
                                                     "text": "There is drift in plans."}])
    for out in (gold, findings, project / "themes.yaml", project / "models" / "themes.meta.json"):
        result = runner.invoke(app, ["suggest", "--findings", str(findings), "--out", str(out),
                                     "--labels", str(gold), "--models", str(project / "models")]
                               + common(project))
        assert result.exit_code == 1 and f"{out}: is a file this command reads" in result.stderr
    assert gold.read_bytes() == before
    # a letter found in a folder is read as much as one named
    inbox = project / "inbox"
    inbox.mkdir()
    letter = inbox / "letter.txt"
    letter.write_text("12 March 2024\n\nDear Ms Smith\n\nFocused visit to Exampleshire children's services"
                      "\n\nMain findings\n\nThere is drift in some plans.\n\nYours sincerely\n\nAnn Lee\n",
                      encoding="utf-8")
    text = letter.read_text(encoding="utf-8")
    result = runner.invoke(app, ["suggest", str(inbox), "--out", str(letter), "--labels", str(gold),
                                 "--models", str(project / "models")] + common(project))
    assert result.exit_code == 1 and f"{letter}: is a file this command reads" in result.stderr
    assert letter.read_text(encoding="utf-8") == text


def test_suggest_names_a_folder_without_letters_and_warns_of_a_missing_gold_file(project, runner):
    train(runner, project)
    empty = project / "inbox"
    empty.mkdir()
    args = ["--out", str(project / "s.csv"), "--models", str(project / "models")] + common(project)
    result = runner.invoke(app, ["suggest", str(empty), "--labels", str(project / "gold.jsonl")] + args)
    assert result.exit_code == 1 and f"{empty}: no letters found" in result.stderr
    assert "gold.jsonl" not in result.stderr   # the gold labels are not to blame
    nothing = project / "nothing.jsonl"
    nothing.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["suggest", "--findings", str(nothing), "--labels", str(project / "gold.jsonl")]
                           + args)
    assert result.exit_code == 1 and f"{nothing}: no findings to suggest from" in result.stderr

    letter = project / "letter.txt"
    letter.write_text("12 March 2024\n\nDear Ms Smith\n\nFocused visit to Exampleshire children's "
                      "services\n\nMain findings\n\nThere is drift in some plans.\n\n"
                      "Yours sincerely\n\nAnn Lee\n", encoding="utf-8")
    mistyped = project / "gold.jsnol"
    result = runner.invoke(app, ["suggest", str(letter), "--labels", str(mistyped)] + args)
    assert result.exit_code == 0, result.output
    assert f"warning: no gold labels at {mistyped}: no finding is left out as labelled" in result.stderr
    result = runner.invoke(app, ["suggest", str(letter), "--labels", str(project / "gold.jsonl")] + args)
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output


def test_import_warns_of_two_new_rows_with_one_text_and_other_themes(project, runner):
    text = "Managers review plans every month."
    table = write_labels(project / "table.jsonl", [
        {"id": "new#1", "letter_id": "new", "text": text, "themes": ["timeliness"], "judgement": ""},
        {"id": "other#1", "letter_id": "other", "text": " " + text, "themes": ["workforce"], "judgement": ""}])
    result = runner.invoke(app, ["labels", "import", str(table), "--labels", str(project / "gold.jsonl"),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 0, result.output
    assert ("warning: 1 row has the text of a finding labelled under another id, already or in this "
            "table (e.g. 'other#1', line 2, and 'new#1'), 1 with other themes") in result.stderr
    assert "2 labelled findings added" in result.stderr


def test_evaluate_records_the_folds_it_ran(project, runner):
    three = write_labels(project / "three.jsonl",
                         [r for r in labelled_rows() if r["letter_id"] in ("letter0", "letter1", "letter2")])
    metrics = project / "m.json"
    result = runner.invoke(app, ["evaluate", "--labels", str(three), "--metrics", str(metrics),
                                 "--plots", str(project / "plots"), "--report", str(project / "e.md"),
                                 "--quiet", "--params", str(project / "params.yaml")] + common(project))
    assert result.exit_code == 0, result.output
    assert json.loads(metrics.read_text())["folds"] == 3  # params.yaml asks for 4
    assert "3 folds grouped by letter" in result.stderr
    assert "3-fold cross-validation" in (project / "e.md").read_text()


def test_rules_report_counts_one_finding_as_one(project, runner):
    one = write_labels(project / "one.jsonl", labelled_rows()[:1])
    out = project / "rules.md"
    result = runner.invoke(app, ["rules", "report", "--gold", str(one), "--out", str(out)] + common(project))
    assert result.exit_code == 0, result.output
    assert "on 1 finding ->" in result.stderr and out.read_text().count("1 gold finding.") == 1


def test_files_replaced_together_name_the_option_of_the_one_that_failed(tmp_path):
    from pipeline.errors import OutputError
    from pipeline.outputs import replace_together

    (tmp_path / "a-file").write_text("not a folder\n")
    metrics, plot = tmp_path / "m.json", tmp_path / "a-file" / "per_theme.json"
    with pytest.raises(OutputError) as caught:
        replace_together({metrics: b"{}\n", plot: b"[]\n"}, option={metrics: "--metrics", plot: "--plots"})
    assert caught.value.fix == "choose another --plots" and "a-file" in caught.value.path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]   # nothing written, nothing left


@pytest.mark.parametrize("failing", ["mkstemp", "fsync"])
def test_files_replaced_together_name_the_file_being_written_when_it_fails(tmp_path, monkeypatch, failing):
    """A folder that refuses a temporary file, or a disk that fills while the second of
    three files is written (an error that names no file), is named by that file and the
    option that gave it, not the temporary name or the first file."""
    import errno
    import os
    import tempfile

    from pipeline import outputs
    from pipeline.errors import OutputError

    files = {tmp_path / "m.json": b"{}\n", tmp_path / "plots" / "per_theme.json": b"[]\n",
             tmp_path / "e.md": b"# report\n"}
    options = dict(zip(files, ["--metrics", "--plots", "--report"]))
    calls = []
    real = {"mkstemp": tempfile.mkstemp, "fsync": os.fsync}[failing]

    def fail_on_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            if failing == "mkstemp":
                raise PermissionError(errno.EACCES, "Permission denied",
                                      str(tmp_path / "plots" / ".per_theme.json.x.tmp"))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile if failing == "mkstemp" else os, failing, fail_on_second)
    with pytest.raises(OutputError) as caught:
        outputs.replace_together(files, option=options)
    assert caught.value.path == str(tmp_path / "plots" / "per_theme.json")
    assert caught.value.fix == ("choose a folder you can write to with --plots" if failing == "mkstemp"
                                else "free some disk space and run again; nothing was replaced")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def train_on_table(project: Path, runner, rows: list[dict]):
    """``rows`` as a spreadsheet's CSV, and the train command's result on it."""
    table = project / "sheet.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return table, runner.invoke(app, ["train", "--labels", str(table), "--out-dir", str(project / "models"),
                                      "--params", str(project / "params.yaml")] + common(project))


@pytest.mark.parametrize("keep, named", [
    # a spreadsheet of text and themes alone: its ids were the file's name and line, one "letter"
    (lambda r: {"text": r["text"], "themes": ";".join(r["themes"])}, None),
    # numbered rows: every finding a "letter" of its own, and the folds no longer grouped
    (lambda r: {"id": str(r["n"]), "text": r["text"], "themes": ";".join(r["themes"])}, None),
    (lambda r: {"id": r["id"], "text": r["text"], "themes": ";".join(r["themes"])}, "letter#n ids"),
    (lambda r: {"id": str(r["n"]), "letter_id": r["letter_id"], "text": r["text"],
                "themes": ";".join(r["themes"])}, "letter_id"),
])
def test_labels_that_name_no_letter_are_refused_for_what_they_lack(project, runner, keep, named):
    rows = [keep({**r, "n": n}) for n, r in enumerate(labelled_rows(), start=1)]
    table, result = train_on_table(project, runner, rows)
    if named:
        assert result.exit_code == 0, result.output
        assert "from 8 letters" in result.output
    else:
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output.strip() == (
            f"safeguarding-themes: error: {table}:2: a finding that names no letter (no 'letter_id', and no "
            f"'id' of the form letter#n; {len(rows)} of {len(rows)} name none) (add each finding's letter_id: "
            "the model is calibrated, and evaluated, on letters held out, and findings of one letter must "
            "stay together)")
        assert not (project / "models").exists()


def test_labels_of_which_some_name_no_letter_are_refused_at_the_first(project, runner):
    # letter_id on a few rows only: the others were each a letter of its own, or all one
    rows = [{"id": str(n), "letter_id": r["letter_id"] if n <= 5 else "", "text": r["text"],
             "themes": ";".join(r["themes"])} for n, r in enumerate(labelled_rows(), start=1)]
    table, result = train_on_table(project, runner, rows)
    assert result.exit_code == 1, result.output
    assert f"{table}:7: a finding that names no letter" in result.output
    assert f"; {len(rows) - 5} of {len(rows)} name none)" in result.output
    # nor may an import put such a row into the gold labels
    new = project / "new.csv"
    new.write_text("id,text,themes\n7,Visits are timely.,timeliness\n", encoding="utf-8")
    before = (project / "gold.jsonl").read_bytes()
    result = runner.invoke(app, ["labels", "import", str(new), "--labels", str(project / "gold.jsonl"),
                                 "--themes", str(project / "themes.yaml")])
    assert result.exit_code == 1, result.output
    assert f"{new}:2: row '7' names no letter (no letter_id, and its id is not letter#n)" in result.output
    assert (project / "gold.jsonl").read_bytes() == before
