"""What decides the last bits of floating-point results on this machine, for the messages of digest tests:
the CPU, numpy's SIMD dispatch and an OpenBLAS kernel forced by ``OPENBLAS_CORETYPE``."""

from __future__ import annotations

import os
from pathlib import Path


def numerics() -> str:
    """e.g. ``cpu 'AMD EPYC', numpy SIMD AVX2 FMA3 (no AVX512F), OPENBLAS_CORETYPE unset``."""
    from numpy._core._multiarray_umath import __cpu_features__ as feats

    cpu = "unknown"
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    simd = " ".join(f for f in ("AVX2", "FMA3", "AVX512F", "AVX512_SKX") if feats.get(f))
    avx512 = "" if feats.get("AVX512F") else " (no AVX512F)"
    return f"cpu {cpu!r}, numpy SIMD {simd or 'baseline'}{avx512}, OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'unset')}"
