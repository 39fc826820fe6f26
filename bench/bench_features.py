"""Throughput of the feature stage (bars/s, one core): stateless parts, whole stage, chunked replay.

Usage: ``.venv/bin/python bench/bench_features.py [--weeks 12] [--pairs 12]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.fx.pairs import KNOWN_PAIRS
from streams.stages.features import FeaturesStage
from streams.stages.features.returns import mid_price
from streams.stages.features.sessions import session_ids
from streams.stages.features.volatility import gk_variance, tick_velocity


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _stateless(b: Batch) -> None:
    mid = mid_price(b["close"], b["spread"])
    gk_variance(b["open"], b["high"], b["low"], b["close"])
    tick_velocity(b["volume"], b["open"], b["high"], b["low"], b["close"], mid)
    session_ids(b["ts"], 60)


def _chunked(stage: FeaturesStage, b: Batch, size: int) -> None:
    state = stage.initial_state()
    for lo in range(0, b.n, size):
        state, _ = stage.process(state, "bars.clean", b.take(slice(lo, lo + size)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--pairs", type=int, default=12)
    args = ap.parse_args()
    start = np.datetime64("2019-03-04")
    bars = Batch(
        generate_market(KNOWN_PAIRS[: args.pairs], str(start), str(start + 7 * args.weeks), seed=1).bars
    )
    stage = FeaturesStage()
    n = bars.n
    print(f"{n:,} bars, {args.pairs} pairs, {args.weeks} weeks")
    print(
        f"stateless parts (mid, GK variance, tick velocity, session ids): {n / _best(lambda: _stateless(bars)):,.0f} bars/s"
    )
    whole = _best(lambda: stage.process(stage.initial_state(), "bars.clean", bars))
    print(f"whole stage, one batch:       {n / whole:,.0f} bars/s")
    for size in (100_000, 10_000, 1_000):
        print(
            f"whole stage, batches of {size:>7,}: {n / _best(lambda s=size: _chunked(stage, bars, s), 1):,.0f} bars/s"
        )
    few = bars.take(slice(0, 2_000))
    print(f"whole stage, one bar per call: {few.n / _best(lambda: _chunked(stage, few, 1), 1):,.0f} bars/s")


if __name__ == "__main__":
    main()
