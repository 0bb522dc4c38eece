"""`dvc repro` in a temporary clone rebuilds every output, a second run does nothing,
and the outputs are byte-identical to the ones recorded in the committed dvc.lock.

The evaluation's outputs (metrics, plot data, report) are small and kept in git, so a
plain `dvc repro` in a clone finds them up to date; `--force` rebuilds them too, which
is what shows they are reproducible.

Each stage's `deps` must list every module of `pipeline/` its commands import, or an
edit to one of them would leave `dvc repro` reporting stale outputs as up to date. The
modules are recorded as the commands really run, by a `sitecustomize` hook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def project_files() -> list[str]:
    """What a fresh clone of this working tree holds: tracked files and new ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    return sorted(p for p in listed.split("\0") if p and (REPO / p).is_file())


def outs(lock: dict) -> dict[str, str]:
    """Every stage output in a dvc.lock with its md5."""
    found = {}
    for name, stage in lock["stages"].items():
        for out in stage.get("outs", []):
            found[f"{name}:{out['path']}"] = out["md5"]
    return found


# Loaded by every Python process of the run: writes the modules of pipeline/ it imported.
IMPORT_HOOK = """
import atexit, json, os, sys

def _record_imports():
    modules = sorted(m for m in sys.modules if m.startswith("pipeline."))
    with open(os.path.join(os.environ["IMPORTS_DIR"], f"{os.getpid()}.json"), "w") as handle:
        json.dump({"argv": sys.argv, "modules": modules}, handle)

atexit.register(_record_imports)
"""


def imported_by_command(imports_dir: Path) -> dict[str, set[str]]:
    """The pipeline/ files each safeguarding-themes subcommand imported, over its runs."""
    found: dict[str, set[str]] = {}
    for path in imports_dir.glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if Path(record["argv"][0]).name == "safeguarding-themes" and len(record["argv"]) > 1:
            files = {"pipeline/" + m.split(".")[1] + ".py" for m in record["modules"]}
            found.setdefault(record["argv"][1], set()).update(files)
    return found


def test_dvc_repro_in_a_temporary_clone(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    for name in project_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    hook, imports_dir = tmp_path / "hook", tmp_path / "imports"
    hook.mkdir()
    imports_dir.mkdir()
    (hook / "sitecustomize.py").write_text(IMPORT_HOOK, encoding="utf-8")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           # the clone's own code, not the editable install's
           "PYTHONPATH": f"{hook}{os.pathsep}{clone}", "IMPORTS_DIR": str(imports_dir), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "clone"]):
        assert run(args, clone, env).returncode == 0
    committed = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))
    assert not (clone / "models" / "themes.joblib").exists()  # nothing to reuse

    first = run([str(BIN / "dvc"), "repro", "--force"], clone, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for path in ("models/themes.joblib", "models/themes.meta.json", "reports/metrics.json",
                 "data/tagged/seeds.jsonl", "reports/summary"):
        assert (clone / path).exists(), path
    for stage in ("segment", "train", "evaluate", "tag", "summarise"):
        assert f"Running stage '{stage}'" in first.stdout, stage

    stages = yaml.safe_load((clone / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    imported = imported_by_command(imports_dir)
    missing = {}
    for name, stage in stages.items():
        commands = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        used = set().union(*(imported[c.split()[1]] for c in commands))
        if used - set(stage["deps"]):
            missing[name] = sorted(used - set(stage["deps"]))
    assert not missing, f"modules the stages import, missing from their deps in dvc.yaml: {missing}"

    rebuilt = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))
    assert outs(rebuilt) == outs(committed), "outputs differ from the committed dvc.lock"

    second = run([str(BIN / "dvc"), "repro"], clone, env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "up to date" in second.stdout, second.stdout
    status = run([str(BIN / "dvc"), "status"], clone, env)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
