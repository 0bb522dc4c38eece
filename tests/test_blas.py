"""OpenBLAS's kernels are pinned before numpy loads, so models are the same on every machine.

(The byte-for-byte check is test_dvc_repro's: a fresh clone's outputs equal dvc.lock's,
which an AVX-512 machine's did not without the pin.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.blas import cpu_flags, pin_openblas_kernels

AVX2_CPU = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma avx2 avx512f\n\n" \
           "processor\t: 1\nflags\t\t: fpu sse2 avx fma avx2 avx512f\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx\n"


def write(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text, encoding="utf-8")
    return path


def test_avx2_cpu_gets_the_avx2_kernels(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    environ = {}
    assert pin_openblas_kernels(environ, write(tmp_path, AVX2_CPU)) == "Haswell"
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}


def test_the_users_choice_and_older_cpus_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    environ = {"OPENBLAS_CORETYPE": "Zen"}
    assert pin_openblas_kernels(environ, write(tmp_path, AVX2_CPU)) is None
    assert environ == {"OPENBLAS_CORETYPE": "Zen"}
    environ = {}
    assert pin_openblas_kernels(environ, write(tmp_path, OLD_CPU)) is None
    assert pin_openblas_kernels(environ, tmp_path / "no-such-file") is None
    assert environ == {}


def test_nothing_is_set_once_numpy_is_loaded(tmp_path):
    import numpy  # noqa: F401  (loaded: too late to choose its kernels)

    environ = {}
    assert pin_openblas_kernels(environ, write(tmp_path, AVX2_CPU)) is None
    assert environ == {}


def test_cpu_flags_reads_the_flags_line(tmp_path):
    assert {"avx2", "fma", "avx512f"} <= cpu_flags(write(tmp_path, AVX2_CPU))
    assert cpu_flags(write(tmp_path, "processor\t: 0\n")) == set()


PROBE = """
import json, sys
from pipeline.cli import main
sys.argv = ["safeguarding-themes", "--help"]
try:
    main()
except SystemExit:
    pass
import numpy, scipy.linalg, threadpoolctl
print(json.dumps(sorted({i.get("architecture") for i in threadpoolctl.threadpool_info()
                         if i.get("internal_api") == "openblas"})))
"""


def test_the_command_loads_numpy_and_scipy_with_the_avx2_kernels():
    if not {"avx2", "fma"} <= cpu_flags():
        pytest.skip("this machine's CPU has no AVX2 (or no /proc/cpuinfo)")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["Haswell"]
