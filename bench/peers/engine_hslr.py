"""HSLR's full DAG in-process (``run_inprocess`` over ``build_stages``: market, features, regime, news,
edge, governance, trader, model inference included), warm: a replay of the first 5,000 bars first
(imports, caches), then the timed replay of all bars from fresh states in one chunk.
Usage: engine_hslr.py BARS.npz CONFIG.json"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))

from common import load_bars, report  # noqa: E402

from streams.config import load_config  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.dag import build_stages  # noqa: E402
from streams.runner.inprocess import run_inprocess  # noqa: E402


def main() -> None:
    t0 = time.perf_counter()
    bars = Batch(load_bars(sys.argv[1]))
    stages = build_stages(load_config(sys.argv[2]))
    run_inprocess(stages, {"bars": bars.take(slice(0, 5000))})
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_inprocess(stages, {"bars": bars})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    report("hslr", bars.n, wall, cpu, setup, orders=out["orders"].n, fills=out["fills"].n)


if __name__ == "__main__":
    main()
