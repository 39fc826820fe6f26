"""Shared plumbing of the research scenarios (spread stress, latency): config overrides, the metrics of
one replay, equity on a common time grid, and a seeded process pool.

Scenarios are whole in-process replays of a test window with one thing changed *outside* the stages
(the bars, or the broker's configured latency), so every scenario runs exactly the production stage
code. The pool is deterministic: each task carries its own inputs (and its own seed), so results do
not depend on the number of workers or on which worker ran what.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from streams.config import HSLRConfig, build_config, dump_config
from streams.core.batch import Batch

GRID_POINTS = 240
"""Points of the common time grid on which scenario equity curves are kept (fan charts)."""


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = dict(base)
    for k, v in patch.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def with_overrides(config: HSLRConfig, patch: dict[str, Any]) -> HSLRConfig:
    """``config`` with ``patch`` (nested section dict, e.g. ``{"trader": {"execution": {...}}}``) applied."""
    return build_config(merge(dump_config(config), patch))


def initial_equity(config: HSLRConfig) -> float:
    return float(config.trader.portfolio.initial_equity_usd)


def equity_on_grid(portfolio: Batch, grid: np.ndarray, initial: float) -> np.ndarray:
    """Account equity (USD) carried forward onto ``grid`` (ms, shape (g,)); ``initial`` before any row."""
    acct = portfolio["pair"] == ""
    ts, eq = portfolio["ts"][acct], portfolio["equity_usd"][acct]
    idx = np.searchsorted(ts, grid, side="right") - 1
    return np.where(idx >= 0, eq[np.maximum(idx, 0)] if len(eq) else initial, initial).astype(np.float64)


def time_grid(bars: Batch, points: int = GRID_POINTS) -> np.ndarray:
    """``points`` evenly spaced instants (ms) from the first to the last bar of ``bars``."""
    ts = bars["ts"]
    return np.linspace(int(ts.min()), int(ts.max()), points).astype(np.int64)


def order_fill_stats(orders: Batch, fills: Batch) -> dict[str, float]:
    """Fill rate and delay of the orders sent (``action == NEW``).

    Returns ``orders_new``, ``orders_filled`` (orders with any fill), ``fill_rate`` (their ratio, NaN
    without orders), ``mean_fill_delay_min`` (first fill time − order time, minutes; NaN without fills).
    """
    new = orders["action"] == "NEW" if orders.n else np.zeros(0, dtype=bool)
    ids, sent = orders["client_order_id"][new], orders["ts"][new]
    executed = (
        np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"]) if fills.n else np.zeros(0, dtype=bool)
    )
    fid, fts = fills["client_order_id"][executed], fills["ts"][executed]
    first: dict[str, int] = {}
    for i, t in zip(fid.tolist(), fts.tolist(), strict=True):
        first.setdefault(i, t)  # fills are in event-time order
    delays = [(first[i] - t) / 60_000 for i, t in zip(ids.tolist(), sent.tolist(), strict=True) if i in first]
    n = int(new.sum())
    return {
        "orders_new": n,
        "orders_filled": len(delays),
        "fill_rate": len(delays) / n if n else float("nan"),
        "mean_fill_delay_min": float(np.mean(delays)) if delays else float("nan"),
    }


def scenario_metrics(out: dict[str, Batch], initial: float) -> dict[str, float]:
    """PnL (USD), return, Sharpe (daily), max drawdown, fill statistics of one replay's outputs."""
    from backtest.engine import daily_sharpe, equity_curve

    port = out["portfolio"]
    ts, eq = equity_curve(port)
    final = float(eq[-1]) if len(eq) else initial
    return {
        "pnl_usd": final - initial,
        "return": final / initial - 1.0,
        "sharpe": daily_sharpe(ts, eq),
        "max_drawdown": float(port["drawdown"].max()) if port.n else 0.0,
        **order_fill_stats(out["orders"], out["fills"]),
    }


def run_pool(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: Iterable[Any] = (),
) -> list[Any]:
    """``[fn(*t) for t in tasks]``, over ``workers`` processes when ``workers > 1`` (results in task order).

    ``initializer(*initargs)`` runs once per worker (and once here when ``workers <= 1``): use it to
    ship the large shared inputs (bars, config) once instead of with every task. ``spawn`` workers: no
    fork of a parent that may hold threads or sockets.
    """
    if workers <= 1 or len(tasks) <= 1:
        if initializer is not None:
            initializer(*initargs)
        return [fn(*t) for t in tasks]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=initializer, initargs=tuple(initargs)
    ) as pool:
        return list(pool.map(fn, *zip(*tasks, strict=True)))


def quantiles(values: np.ndarray, qs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float]:
    """Quantiles of the finite ``values`` keyed ``"q05"`` …; NaN when none is finite."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return {f"q{round(q * 100):02d}": float(np.quantile(v, q)) if len(v) else float("nan") for q in qs}
