"""Throughput of the trader stage (bars/s), in-process, on seeded governed-signal streams.

Usage: ``.venv/bin/python bench/bench_trader.py [--minutes N] [--chunk ROWS]``. Streams come from the
trader tests' factory (OU deviations, signals that fade them, 7 pairs) at several pass rates, so the
share of minutes that need the per-minute path (working orders, entries, exits) varies; ``quiet``
has no passed signal at all (the fast path only). Prints one line per scenario.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.stages.trader.risk.config import RiskConfig  # noqa: E402
from streams.stages.trader.stage import TraderConfig, TraderStage  # noqa: E402
from tests.kit.governed import governed  # noqa: E402

PAIRS = ("EURUSD", "GBPUSD", "USDJPY", "EURGBP", "AUDUSD", "USDCHF", "EURJPY")


def run(pass_prob: float, minutes: int, chunk: int | None) -> tuple[float, float, dict[str, int]]:
    data = governed(pairs=PAIRS, n_min=minutes, seed=11, pass_prob=pass_prob)
    stage = TraderStage(TraderConfig(risk=RiskConfig(cov_min_obs=30)))
    step = chunk or data.n
    best = float("inf")
    counts: dict[str, int] = {}
    for _ in range(3):
        state = stage.initial_state()
        counts = {}
        t0 = time.perf_counter()
        for a in range(0, data.n, step):
            state, out = stage.process(state, "signals.governed", data.take(slice(a, a + step)))
            for k, v in out.items():
                counts[k] = counts.get(k, 0) + v.n
        best = min(best, time.perf_counter() - t0)
    return data.n / best, float(data["passed"].mean()), counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=int, default=5000)
    ap.add_argument("--chunk", type=int, default=None, help="rows per process() call (default: one batch)")
    args = ap.parse_args()
    for name, p in (("quiet", 0.0), ("sparse", 0.003), ("active", 0.03), ("busy", 0.3)):
        rate, passed, counts = run(p, args.minutes, args.chunk)
        print(
            f"{name:7s} passed={passed:.4f} bars/s={rate:,.0f} "
            f"orders={counts.get('orders', 0)} fills={counts.get('fills', 0)}"
        )


if __name__ == "__main__":
    main()
