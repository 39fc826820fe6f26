"""The plain per-bar Python loop of the z-score strategy (``zscore.run_loop``). Usage: engine_loop.py BARS.npz"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_bars, report  # noqa: E402
from zscore import run_loop  # noqa: E402


def main() -> None:
    bars = load_bars(sys.argv[1])
    t0, c0 = time.perf_counter(), time.process_time()
    counts = run_loop(bars)
    report("loop", len(bars["close"]), time.perf_counter() - t0, time.process_time() - c0, 0.0, **counts)


if __name__ == "__main__":
    main()
