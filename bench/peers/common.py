"""What every engine process of the peer benchmark shares: reading the bars file and printing one result."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np


def load_bars(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def report(engine: str, n: int, run_s: float, cpu_s: float, setup_s: float, **extra: Any) -> None:
    """One JSON line on stdout: the driver reads the last line."""
    out = {
        "engine": engine,
        "bars": n,
        "run_s": round(run_s, 4),
        "cpu_s": round(cpu_s, 4),
        "setup_s": round(setup_s, 4),
        "bars_per_s": round(n / run_s),
        "cpu_bars_per_s": round(n / cpu_s) if cpu_s > 0 else None,
        **extra,
    }
    print(json.dumps(out))
    sys.stdout.flush()
