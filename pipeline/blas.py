"""One set of OpenBLAS kernels on every x86 machine, so that training gives the same bytes.

OpenBLAS picks its kernels by CPU when numpy or scipy loads it. The AVX-512 ones (SkylakeX:
recent Intel CPUs and AMD's Zen 4) add up in another order than the AVX2 ones (Haswell, and
Zen 1 to 3), so the logistic regressions' lbfgs ended a few units in the last place apart:
the models, the tagged seeds and the summaries differed between two machines, and a fresh
clone's `dvc repro` no longer matched the committed dvc.lock. Every x86 CPU with AVX-512 also
runs the AVX2 kernels, so those are asked for wherever the CPU has AVX2 and FMA.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import MutableMapping, Optional

KERNELS = "Haswell"
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The first processor's feature flags, as Linux lists them (empty elsewhere)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def pin_openblas_kernels(environ: Optional[MutableMapping[str, str]] = None,
                         cpuinfo: Path = CPUINFO) -> Optional[str]:
    """Ask OpenBLAS for its AVX2 kernels; return what was set, or None if nothing was.

    Must run before numpy is imported (OpenBLAS reads OPENBLAS_CORETYPE once, as it loads).
    A value the user set is kept; a CPU without AVX2 keeps OpenBLAS's own choice, as
    kernels it cannot run would stop the program."""
    environ = os.environ if environ is None else environ
    if "OPENBLAS_CORETYPE" in environ or "numpy" in sys.modules:
        return None
    if not {"avx2", "fma"} <= cpu_flags(cpuinfo):
        return None
    environ["OPENBLAS_CORETYPE"] = KERNELS
    return KERNELS
