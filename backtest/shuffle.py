"""Shuffle tests: does the strategy's edge disappear when the structure it trades is destroyed?

1. **Signal/outcome permutation** (:func:`permutation_test`, :func:`signal_permutation`). The statistic
   is the mean outcome of the trades, ``mean(sign(signal) × outcome)`` over rows with a signal. The
   outcomes (forward mid log-returns over the horizon) are permuted among the rows of the same pair,
   which keeps both marginals — how many trades, their sides, the distribution of returns — and
   destroys only the alignment of a signal with the return that followed it. An edge is that
   alignment, so under the permutation its expected value is the unconditional drift. The p-value is
   (1 + #{permuted ≥ real}) / (1 + n_perm) (Phipson & Smyth 2010: never 0).
2. **Block shuffle of the market** (:func:`block_shuffle_bars`), for re-running the whole pipeline
   (training included) on a market without the edge. Per pair, the close-to-close log-returns are cut
   into consecutive blocks of ``block`` bars and the blocks are permuted; prices are rebuilt from the
   first close by cumulating the shuffled returns. Each bar keeps its own shape: open, high and low
   move with their bar as fixed log offsets from its close, and its spread and volume travel with it,
   while the timestamps stay where they were (sessions and weekends keep their places). What survives:
   the return distribution, volatility clustering and spread/volatility co-movement inside a block.
   What dies: mean reversion across block boundaries (a displacement built in one block is followed
   by an unrelated block), and with it the fair value the strategy reverts to; within a block the
   reversion is kept, so the block must be short against the reversion half-life for a clean null.
   The default 10 bars is below the synthetic market's 10–60-minute calm half-lives, and the
   features' 60–240-bar windows straddle many blocks. Volatility clustering is kept at the block
   scale and, because blocks are permuted only within a pair and calm/volatile spells last hours,
   mostly lost at longer scales — the price of destroying the reversion (longer ``block`` keeps more
   clustering and more of the edge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.units import F64

if TYPE_CHECKING:
    from streams.config import HSLRConfig


def edge_statistic(signal: F64, outcome: F64) -> float:
    """Mean of sign(signal) × outcome over rows with a non-zero signal and a finite outcome."""
    s, y = np.sign(np.asarray(signal, dtype=np.float64)), np.asarray(outcome, dtype=np.float64)
    m = (s != 0) & np.isfinite(y)
    return float(np.mean(s[m] * y[m])) if m.any() else float("nan")


def permute_within(values: F64, groups: npt.NDArray[Any] | None, rng: np.random.Generator) -> F64:
    """Permute the finite ``values`` among the rows of each group (NaN rows stay in place)."""
    out = np.array(values, dtype=np.float64, copy=True)
    keys = np.zeros(len(out), dtype=np.int64) if groups is None else np.unique(groups, return_inverse=True)[1]
    for g in np.unique(keys):
        idx = np.flatnonzero((keys == g) & np.isfinite(out))
        out[idx] = out[rng.permutation(idx)]
    return out


def permutation_test(
    signal: F64,
    outcome: F64,
    rng: np.random.Generator,
    *,
    n_perm: int = 1000,
    groups: npt.NDArray[Any] | None = None,
) -> dict[str, Any]:
    """p-value of :func:`edge_statistic` against ``n_perm`` permutations of ``outcome`` within ``groups``."""
    real = edge_statistic(signal, outcome)
    null = np.array([edge_statistic(signal, permute_within(outcome, groups, rng)) for _ in range(n_perm)])
    return {
        "statistic": real,
        "p_value": float((1 + np.sum(null >= real)) / (1 + n_perm)),
        "null_mean": float(np.mean(null)),
        "null_std": float(np.std(null)),
        "n_perm": n_perm,
        "n_signals": int(((np.sign(signal) != 0) & np.isfinite(outcome)).sum()),
    }


def signal_permutation(
    signals: Batch,
    test_from: int,
    test_to: int,
    horizon_min: int,
    rng: np.random.Generator,
    n_perm: int = 1000,
) -> dict[str, Any]:
    """:func:`permutation_test` of a replay's entries: signal = ``side`` where ``passed`` (else 0),
    outcome = forward mid log-return over ``horizon_min`` (rows in ``[test_from, test_to)``)."""
    from streams.stages.edge.targets import forward_trade_returns

    up = np.full(signals.n, -1.0)  # side = -sign(displacement) = +1: the raw forward log-return
    fwd = forward_trade_returns(signals["pair"], signals["ts"], signals["mid"], up, horizon_min)
    m = (signals["ts"] >= test_from) & (signals["ts"] < test_to)
    sig = np.where(signals["passed"], signals["side"], 0).astype(np.float64)
    return permutation_test(sig[m], fwd[m], rng, n_perm=n_perm, groups=signals["pair"][m])


def block_shuffle_bars(bars: Batch, rng: np.random.Generator, block: int = 10) -> Batch:
    """Per pair, permute blocks of ``block`` close-to-close log-returns and rebuild the bars (see module)."""
    out = {k: np.array(bars[k], copy=True) for k in bars}
    for p in np.unique(bars["pair"]).tolist():
        rows = np.flatnonzero(bars["pair"] == p)
        rows = rows[np.argsort(bars["ts"][rows], kind="stable")]
        close = bars["close"][rows].astype(np.float64)
        r = np.diff(np.log(close))
        blocks = np.array_split(np.arange(len(r)), max(1, int(np.ceil(len(r) / block))))
        order = (
            np.concatenate([blocks[i] for i in rng.permutation(len(blocks))]) if len(r) else np.zeros(0, int)
        )
        src = np.r_[0, order + 1]  # bar whose shape (offsets, spread, volume) lands at each position
        new_close = close[0] * np.exp(np.r_[0.0, np.cumsum(r[order])])
        for k in ("open", "high", "low"):
            out[k][rows] = new_close * (bars[k][rows][src] / close[src])
        out["close"][rows] = new_close
        for k in ("spread", "volume", *(c for c in ("spread_modeled",) if c in out)):
            out[k][rows] = bars[k][rows][src]
    return Batch(out)


def _walkforward_sharpe(job: tuple[Batch, Any, list[Any], int, int, str]) -> dict[str, Any]:
    """Stitched result of an in-process walk-forward on ``bars`` (block-shuffled when ``seed >= 0``)."""
    import tempfile
    from pathlib import Path

    from backtest.walkforward import WalkForward

    bars, config, folds, seed, block, tag = job
    if seed >= 0:
        bars = block_shuffle_bars(bars, np.random.default_rng(seed), block)
    with tempfile.TemporaryDirectory() as tmp:
        wf = WalkForward(f"{tag}-{seed}", bars, config, folds, Path(tmp), log=lambda _m: None)
        summary = wf.run()
    st = summary["stitched"]
    return {"seed": seed, "sharpe": st["sharpe"], "return": st["return"], "fills": st["fills"]}


def block_shuffle_study(
    bars: Batch,
    config: HSLRConfig,
    folds: list[Any],
    *,
    n_shuffles: int,
    block: int,
    seed: int,
    workers: int = 2,
    log: Any = print,
) -> dict[str, Any]:
    """Stitched walk-forward Sharpe on the real market vs ``n_shuffles`` block-shuffled markets (full
    pipeline re-run, retraining included); p = (1 + #{shuffled ≥ real}) / (1 + n)."""
    from concurrent.futures import ProcessPoolExecutor

    seeds = [-1] + [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, n_shuffles)]
    jobs = [(bars, config, folds, s, block, "shuffle") for s in seeds]
    results = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for i, r in enumerate(ex.map(_walkforward_sharpe, jobs), 1):
            results.append(r)
            log(
                f"[shuffle] walk-forward {i}/{len(jobs)} ({'real' if r['seed'] < 0 else 'shuffled'}): "
                f"sharpe {r['sharpe']} return {r['return']} fills {r['fills']}"
            )
    return {
        "real": results[0],
        "shuffled": results[1:],
        "block": block,
        "n_shuffles": n_shuffles,
        "p_value": _p(results, "return"),
        "p_value_sharpe": _p(results, "sharpe"),
    }


def _p(results: list[dict[str, Any]], key: str) -> float:
    """(1 + #{shuffled ≥ real}) / (1 + n) of ``key``; a missing value (no variation) never exceeds.

    The stitched return is the primary statistic: on a shuffled market the strategy barely trades, and
    the Sharpe of a handful of trades is degenerate (one winning day in 52 gives sqrt(260 / 52) ≈ 2.24).
    """

    def v(r: dict[str, Any]) -> float:
        return float(r[key]) if r[key] is not None else -np.inf

    real = v(results[0])
    return (
        float((1 + sum(v(r) >= real for r in results[1:])) / len(results))
        if np.isfinite(real)
        else float("nan")
    )
