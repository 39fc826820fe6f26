"""Test record factories, in one place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streams.core.batch import Batch

MINUTE = 60_000
T0 = 1_546_380_000_000  # 2019-01-01 22:00 UTC, a Tuesday evening: FX open


def bars(
    n: int,
    pairs: Sequence[str] = ("EURUSD", "GBPUSD"),
    *,
    seed: int = 0,
    start: int = T0,
    price: float = 1.2,
) -> Batch:
    """``n`` minutes of random-walk bars for each pair, ordered by (ts, pair)."""
    rng = np.random.default_rng(seed)
    k = len(pairs)
    ts = np.repeat(start + MINUTE * np.arange(n, dtype=np.int64), k)
    pair = np.tile(np.array(pairs), n)
    close = price * np.exp(np.cumsum(rng.normal(0, 2e-4, (n, k)), axis=0)).ravel()
    open_ = close * np.exp(rng.normal(0, 1e-4, n * k))
    wick = np.abs(rng.normal(0, 1e-4, n * k)) * close
    return Batch(
        {
            "pair": pair,
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) + wick,
            "low": np.minimum(open_, close) - wick,
            "close": close,
            "volume": np.zeros(n * k),
            "spread": np.full(n * k, 1e-5 * price),
            "spread_modeled": np.ones(n * k, dtype=bool),
            "source": np.full(n * k, "test"),
        }
    )
