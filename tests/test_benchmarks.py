"""The benchmark script's bookkeeping (its measurements are not run here: they take minutes)."""
import importlib.util
import json

from conftest import REPO


def load_run_module():
    spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_section_note_outlives_a_new_run_of_its_benchmark(tmp_path, monkeypatch):
    run = load_run_module()
    results, markdown = tmp_path / "results.json", tmp_path / "RESULTS.md"
    machine = {"cpu": "test", "cores": 2, "memory_gib": 4, "python": "3.11", "system": "Linux"}
    measured = {"findings": 10, "machine": machine, "runs": [2.0], "best_seconds": 2.0,
                "peak_rss_mib": 100.0, "command_output": "train: 10 findings"}
    results.write_text(json.dumps({"train": {**measured, "findings": 8, "measured": "2026-01-01",
                                             "note": "before the dual solver it took 30 s"}}))
    monkeypatch.setattr(run, "RESULTS_JSON", results)
    monkeypatch.setattr(run, "RESULTS_MD", markdown)
    monkeypatch.setattr(run, "bench_train", lambda repeat: dict(measured))
    run.main(["train"])
    train = json.loads(results.read_text())["train"]
    assert train["findings"] == 10 and train["note"] == "before the dual solver it took 30 s"
    assert "Note: before the dual solver it took 30 s" in markdown.read_text()
