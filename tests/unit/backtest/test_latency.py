"""Latency injection: a slower order path never fills earlier; the degradation curve on a constructed case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.latency import LatencyDist, degradation_curve, with_latency
from streams.config import HSLRConfig, build_config
from streams.core.batch import Batch
from streams.runner.inprocess import run_inprocess
from streams.stages.trader.stage import TraderStage
from tests.kit.governed import governed

MIN = 60_000
DATA = governed(n_min=400, seed=3)
# resize_band 0: every re-size is posted, which the monotone degradation of this constructed case needs
CFG = build_config({"trader": {"risk": {"cov_min_obs": 30, "resize_band": 0.0}}})
REPLACE_MIN = CFG.trader.execution.replace_after_min


def trader_only(batch: Batch, config: HSLRConfig) -> dict[str, Batch]:
    """Replay governed signals through the trader stage alone (the broker is inside it)."""
    return run_inprocess([TraderStage(config.trader)], {"signals.governed": batch})


def _fills(latency: int) -> tuple[Batch, Batch]:
    out = trader_only(DATA, with_latency(CFG, latency))
    return out["orders"], out["fills"]


def _first_fill(orders: Batch, fills: Batch) -> dict[str, int]:
    done = np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"])
    first: dict[str, int] = {}
    for i, t in zip(fills["client_order_id"][done].tolist(), fills["ts"][done].tolist(), strict=True):
        first[i] = min(first.get(i, t), t)
    return first


BASE_ORDERS, BASE_FILLS = _fills(0)


def test_with_latency_sets_the_broker_delay_only() -> None:
    cfg = with_latency(CFG, 1500)
    assert cfg.trader.execution.latency_ms == 1500
    assert cfg.trader.risk.cov_min_obs == 30
    with pytest.raises(ValueError, match="latency must be >= 0 ms"):
        with_latency(CFG, -1)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 4 * MIN))
def test_no_fill_before_decision_plus_latency_plus_one_bar(latency: int) -> None:
    orders, fills = _fills(latency)
    sent = {
        i: t
        for i, t, a in zip(
            orders["client_order_id"].tolist(), orders["ts"].tolist(), orders["action"].tolist(), strict=True
        )
        if a == "NEW"
    }
    for oid, t in _first_fill(orders, fills).items():
        # fillable only on bars opening at >= decision + latency (whole minutes); reported at that bar's close
        assert t - sent[oid] >= math.ceil(latency / MIN) * MIN + MIN, (oid, latency)


def test_higher_latency_never_fills_the_first_orders_earlier() -> None:
    # decisions before the first fill of the zero-latency run do not depend on latency: same orders
    first_fill_ts = min(_first_fill(BASE_ORDERS, BASE_FILLS).values())
    early = BASE_ORDERS["client_order_id"][
        (BASE_ORDERS["action"] == "NEW") & (BASE_ORDERS["ts"] <= first_fill_ts)
    ]
    assert len(early) > 0
    prev = {str(i): _first_fill(BASE_ORDERS, BASE_FILLS).get(str(i), np.inf) for i in early}
    for latency in (1, MIN, MIN + 1, 2 * MIN + 1, 3 * MIN + 1):
        orders, fills = _fills(latency)
        assert set(early) <= set(orders["client_order_id"].tolist())
        got = {str(i): _first_fill(orders, fills).get(str(i), np.inf) for i in early}
        assert all(got[i] >= prev[i] for i in prev), latency
        prev = got


def _same(a: dict, b: dict) -> bool:
    keys = set(a) - {"latency_ms"}
    return keys == set(b) - {"latency_ms"} and all(
        a[k] == b[k] or (isinstance(a[k], float) and np.isnan(a[k]) and np.isnan(b[k])) for k in keys
    )


def test_degradation_curve_on_a_constructed_case() -> None:
    lat = [0, 1, 30_000, MIN, MIN + 1, 2 * MIN, 2 * MIN + 1, 3 * MIN, 3 * MIN + 1, 5 * MIN]
    curve = degradation_curve(DATA, CFG, lat[::-1], workers=1, runner=trader_only)
    assert [p["latency_ms"] for p in curve] == lat  # sorted
    by = {p["latency_ms"]: p for p in curve}
    # 1-minute bars: only ceil(latency / 1 min) matters
    for a, b in ((1, 30_000), (1, MIN), (MIN + 1, 2 * MIN), (2 * MIN + 1, 3 * MIN), (3 * MIN + 1, 5 * MIN)):
        assert _same(by[a], by[b]), (a, b)
    assert by[0]["orders_filled"] > 50
    for p in curve:  # every fill waits at least ceil(L / 1 min) bars after the decision bar
        if p["orders_filled"]:
            assert p["mean_fill_delay_min"] >= math.ceil(p["latency_ms"] / MIN) + 1
    # an order older than replace_after_min is cancelled: beyond that window nothing can fill
    assert by[REPLACE_MIN * MIN + 1]["orders_filled"] == 0
    assert by[REPLACE_MIN * MIN]["orders_filled"] > 0
    # on this case (re-posts do not add fills) fill rate and PnL degrade monotonically
    rates = [p["fill_rate"] for p in curve]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[0] > 0.5 > rates[-1]
    pnl = [p["pnl_usd"] for p in curve]
    assert all(a >= b for a, b in zip(pnl, pnl[1:], strict=False))


def test_distribution_strata() -> None:
    assert LatencyDist.parse("uniform:0,1000").strata(4) == [125, 375, 625, 875]
    assert LatencyDist.parse("fixed:250").strata(3) == [250, 250, 250]
    assert LatencyDist.parse("lognormal:500,0.8").strata(1) == [500]  # the median stratum
    lo, hi = LatencyDist.parse("lognormal:500,0.8").strata(2)
    # quantiles 1/4 and 3/4: 500 * exp(-/+ 0.8 * 0.67449) = 291.5, 857.6 (z tables)
    assert abs(lo - 291.5) <= 1
    assert abs(hi - 857.6) <= 1
    assert LatencyDist.parse("empirical:10,20,30,40,50").strata(1) == [30]
    for bad in ("fixed", "gamma:1,2", "uniform:1", "fixed:-5", "uniform:a,b"):
        with pytest.raises(ValueError, match="bad latency distribution|latencies must be >= 0"):
            LatencyDist.parse(bad)
