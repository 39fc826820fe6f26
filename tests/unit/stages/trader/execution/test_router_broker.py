from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.stages.trader.execution.broker import PaperBroker
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.router import Order, client_order_id, leg_of, limit_price, needs_replace


@given(st.sampled_from([1, -1]), st.floats(0.5, 200.0), st.floats(0.0, 0.05), st.floats(0.01, 0.49))
def test_limit_price_strictly_inside_or_not_posted(side: int, bid: float, spread: float, f: float) -> None:
    p = limit_price(side, bid, spread, f)
    if math.isnan(p):
        assert (
            spread == 0.0
            or bid + f * spread in (bid, bid + spread)
            or bid + spread - f * spread in (bid, bid + spread)
        )
    else:
        assert bid < p < bid + spread


def test_price_rule_values() -> None:
    # bid 1.25, spread 2^-10: buy at bid + spread/4, sell at ask - spread/4
    assert limit_price(1, 1.25, 2**-10, 0.25) == 1.25 + 2**-12
    assert limit_price(-1, 1.25, 2**-10, 0.25) == 1.25 + 2**-10 - 2**-12
    assert math.isnan(limit_price(1, 1.25, 0.0, 0.25))


def test_client_order_id_is_sha1_of_the_decision() -> None:
    ref = hashlib.sha1(b"hslr|EURUSD|1704672060000|entry").hexdigest()[:20]  # noqa: S324
    assert client_order_id("hslr", "EURUSD", 1_704_672_060_000, "entry") == ref
    assert client_order_id("hslr", "EURUSD", 1_704_672_060_000, "exit") != ref


def test_legs() -> None:
    assert leg_of(1000, 0.0) == "entry"
    assert leg_of(-1000, 3000) == "exit"
    assert leg_of(-5000, 3000) == "adjust"  # flips through flat
    assert leg_of(2000, 3000) == "adjust"


def _order(side: int, price: float = 1.25, leaves: float = 10_000.0, active: int = 60_000) -> Order:
    return Order("x", "EURUSD", 0, side, 10_000.0, leaves, price, active, active, "entry")


def test_paper_fills_only_on_penetration_at_the_limit() -> None:
    # penetration 0.5 pip = 5e-5; buy limit 1.25, spread 2 pips: ask low = low + 2e-4
    b = PaperBroker(ExecutionConfig(fill_penetration_pips=0.5), lot=1_000.0)
    pip, spread = 1e-4, 2e-4
    buy = _order(1)
    # ask low 1 pip below the limit (>= 0.5 pip through): the whole remainder fills
    assert b.fill_qty(buy, 60_000, 1.26, 1.25 - spread - 1e-4, spread, pip) == 10_000.0
    # ask low exactly 0.5 pip through: fills (the rule is >=)
    assert b.fill_qty(buy, 60_000, 1.26, 1.25 - spread - 0.5 * pip, spread, pip) == 10_000.0
    # touch (ask low at the limit) and 0.4 pip through: no fill, queue position unknown
    assert b.fill_qty(buy, 60_000, 1.26, 1.25 - spread, spread, pip) == 0.0
    assert b.fill_qty(buy, 60_000, 1.26, 1.25 - spread - 0.4 * pip, spread, pip) == 0.0
    # never reaches
    assert b.fill_qty(buy, 60_000, 1.26, 1.2502, spread, pip) == 0.0
    # bar before activation (the decision bar itself) never fills
    assert b.fill_qty(buy, 0, 1.26, 1.0, spread, pip) == 0.0
    sell = _order(-1)
    # sell at 1.25 fills when the bid high reaches 1.25 + 0.5 pip
    assert b.fill_qty(sell, 60_000, 1.2502, 1.2, spread, pip) == 10_000.0
    assert b.fill_qty(sell, 60_000, 1.25004, 1.2, spread, pip) == 0.0
    assert b.fill_qty(sell, 60_000, 1.2499, 1.2, spread, pip) == 0.0


def test_default_penetration_is_a_tenth_of_a_pip() -> None:
    b = PaperBroker(ExecutionConfig(), lot=1_000.0)
    buy = _order(1)
    # ask low 0.11 pip through fills; 0.09 pip through does not
    assert b.fill_qty(buy, 60_000, 1.3, 1.25 - 2e-4 - 0.11e-4, 2e-4, 1e-4) == 10_000.0
    assert b.fill_qty(buy, 60_000, 1.3, 1.25 - 2e-4 - 0.09e-4, 2e-4, 1e-4) == 0.0


def test_may_fill_agrees_with_fill_qty() -> None:
    rng = np.random.default_rng(1)
    b = PaperBroker(ExecutionConfig(), lot=1_000.0)
    for side in (1, -1):
        o = _order(side, active=120_000)
        ts = rng.choice([60_000, 120_000, 180_000], 500).astype(np.int64)
        low = 1.25 + rng.normal(0, 3e-4, 500) - 3e-4
        high = low + np.abs(rng.normal(0, 4e-4, 500))
        spread = rng.uniform(0, 2e-4, 500)
        vec = b.may_fill(o, ts, high, low, spread)
        ref = [
            b.fill_qty(o, int(t), h, lo, s, 1e-4) > 0
            for t, h, lo, s in zip(ts, high, low, spread, strict=True)
        ]
        # a superset is allowed (the pip size is unknown there), never a subset
        assert all(v or not r for v, r in zip(vec.tolist(), ref, strict=True))


def test_replace_rule() -> None:
    cfg = ExecutionConfig(replace_after_min=3)
    o = _order(1, active=60_000)
    assert not needs_replace(o, 1, 10_000.0, 60_000 + 2 * 60_000, cfg)
    assert needs_replace(o, 1, 10_000.0, 60_000 + 3 * 60_000, cfg)
    assert needs_replace(o, -1, 10_000.0, 60_000, cfg)
    assert needs_replace(o, 1, 9_000.0, 60_000, cfg)


def test_improve_fraction_must_keep_prices_inside() -> None:
    with pytest.raises(ValueError, match="inside"):
        ExecutionConfig(improve_fraction=0.5)
