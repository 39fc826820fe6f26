"""Latency injection: how PnL, Sharpe and fill rate degrade as the order path gets slower.

The delay lives in the paper broker (``trader.execution.latency_ms``), in event time: an order decided
at ``d`` (the close of its decision bar) can fill only on bars whose open ``ts >= d + latency``. With
1-minute bars the next bar opens exactly at ``d``, so any latency in ``(0, 60 s]`` costs one bar, in
``(60 s, 120 s]`` two bars, and so on: the degradation curve is a step function of ``ceil(L / 1 min)``.
An order still unfilled ``execution.replace_after_min`` minutes after its decision is cancelled and
re-posted, so latencies at or beyond that window leave no bar on which an order can fill.

**Distributions.** The broker applies one latency per replay (a stage config value; sampling a delay
per order inside the stage would put randomness where the replay must be deterministic). A latency
*distribution* is therefore evaluated by stratified quantiles: ``k`` replays at the quantiles
``(i + ½) / k`` of the distribution (each stands for an equal-probability stratum), and the expected
metric under the distribution is their plain mean. This measures "what if every order of a run had
latency L" for the representative L of each stratum — an upper bound on the harm of order-to-order
jitter when the metric is concave in L, exact when latency varies slowly (per session, per day).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from backtest.jsonsafe import clean
from backtest.scenario import initial_equity, run_pool, scenario_metrics, with_overrides
from streams.config import HSLRConfig, build_config, dump_config
from streams.core.batch import Batch

DEFAULT_LATENCIES_MS = (0, 250, 1_000, 30_000, 60_000, 90_000, 120_000, 150_000, 180_000, 240_000)
Runner = Callable[[Batch, HSLRConfig], dict[str, Batch]]
CURVE_METRICS = (
    "pnl_usd",
    "return",
    "sharpe",
    "max_drawdown",
    "fill_rate",
    "mean_fill_delay_min",
    "orders_new",
    "orders_filled",
)


@dataclass(frozen=True)
class LatencyDist:
    """A latency distribution in ms: ``fixed:L``, ``uniform:A,B``, ``lognormal:MEDIAN,SIGMA``,
    ``empirical:L1,L2,…`` (the sample's quantiles)."""

    kind: str
    params: tuple[float, ...]

    @classmethod
    def parse(cls, spec: str) -> LatencyDist:
        kind, _, rest = spec.partition(":")
        try:
            params = tuple(float(x) for x in rest.split(",") if x.strip())
        except ValueError:
            raise ValueError(f"bad latency distribution {spec!r}: parameters must be numbers") from None
        need = {"fixed": 1, "uniform": 2, "lognormal": 2}
        if kind not in (*need, "empirical") or (kind in need and len(params) != need[kind]) or not params:
            raise ValueError(
                f"bad latency distribution {spec!r}; use fixed:L, uniform:A,B, lognormal:MEDIAN,SIGMA"
                " or empirical:L1,L2,..."
            )
        if min(params) < 0:
            raise ValueError(f"latencies must be >= 0 ms: {spec!r}")
        return cls(kind, params)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        """Latency (ms, float) at probabilities ``q`` in (0, 1)."""
        q = np.asarray(q, dtype=np.float64)
        p = self.params
        if self.kind == "fixed":
            return np.full(q.shape, p[0])
        if self.kind == "uniform":
            return p[0] + q * (p[1] - p[0])
        if self.kind == "lognormal":
            return p[0] * np.exp(p[1] * stats.norm.ppf(q))
        return np.quantile(np.asarray(p), q)

    def strata(self, k: int) -> list[int]:
        """``k`` latencies (ms, rounded) at the quantiles ``(i + ½) / k``, i = 0…k−1."""
        return [int(round(x)) for x in self.quantile((np.arange(k) + 0.5) / k)]


_SHARED: dict[str, Any] = {}


def _init(bars_cols: dict[str, np.ndarray], config_data: dict[str, Any], runner: Runner | None) -> None:
    from backtest.engine import run_inprocess_engine

    _SHARED.update(
        bars=Batch(bars_cols), config=build_config(config_data), runner=runner or run_inprocess_engine
    )


def _point(latency_ms: int) -> dict[str, Any]:
    config = with_latency(_SHARED["config"], latency_ms)
    out = _SHARED["runner"](_SHARED["bars"], config)
    return {"latency_ms": latency_ms, **scenario_metrics(out, initial_equity(config))}


def with_latency(config: HSLRConfig, latency_ms: int) -> HSLRConfig:
    """``config`` with the paper broker's order activation delay set to ``latency_ms``."""
    if latency_ms < 0:
        raise ValueError("latency must be >= 0 ms")
    return with_overrides(config, {"trader": {"execution": {"latency_ms": int(latency_ms)}}})


def degradation_curve(
    bars: Batch,
    config: HSLRConfig,
    latencies_ms: Sequence[int] = DEFAULT_LATENCIES_MS,
    workers: int = 2,
    runner: Runner | None = None,
) -> list[dict[str, Any]]:
    """One in-process replay of ``bars`` per latency; returns per-latency metrics sorted by latency.

    ``runner(bars, config) -> outputs`` replays one scenario (default: the whole DAG,
    ``backtest.engine.run_inprocess_engine``; a module-level function when ``workers > 1``).
    """
    lat = sorted({int(x) for x in latencies_ms})
    return run_pool(
        _point, [(x,) for x in lat], workers, _init, (dict(bars.items()), dump_config(config), runner)
    )


def run_latency(
    bars: Batch,
    config: HSLRConfig,
    latencies_ms: Sequence[int] = DEFAULT_LATENCIES_MS,
    dist: str | None = None,
    k: int = 5,
    workers: int = 2,
) -> dict[str, Any]:
    """The degradation curve over ``latencies_ms`` (plus the strata of ``dist`` when given); JSON-able.

    Keys: ``curve`` (list of per-latency metrics, see :data:`CURVE_METRICS`), ``baseline_latency_ms``
    (the config's own latency), and with ``dist``: ``distribution`` = ``{"spec", "k", "strata_ms",
    "expected": {metric: mean over the strata}}``.
    """
    strata = LatencyDist.parse(dist).strata(k) if dist else []
    curve = degradation_curve(bars, config, [*latencies_ms, *strata], workers)
    report: dict[str, Any] = {
        "curve": curve,
        "baseline_latency_ms": config.trader.execution.latency_ms,
        "method": "one replay per latency; distributions by equal-probability quantile strata",
    }
    if dist:
        by = {p["latency_ms"]: p for p in curve}
        rows = [by[x] for x in strata]
        report["distribution"] = {
            "spec": dist,
            "k": k,
            "strata_ms": strata,
            "expected": {
                m: float(np.nanmean([r[m] for r in rows]))
                if any(np.isfinite(r[m]) for r in rows)
                else float("nan")
                for m in CURVE_METRICS
            },
        }
    return clean(report)
