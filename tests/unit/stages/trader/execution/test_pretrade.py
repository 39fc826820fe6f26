"""Pre-trade checks at and across each limit (hypothesis); every rejection names its limit (issue 11)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.stages.trader.execution.pretrade import MINUTE_MS, collar_reason, pre_trade_reason, rate_reason
from streams.stages.trader.risk.config import RiskConfig

# integer-valued USD amounts with usd_per_unit = 1 keep every comparison exact
CFG = RiskConfig(
    max_order_usd=1_000_000,
    max_position_usd=3_000_000,
    max_gross_usd=5_000_000,
    price_collar_bps=50,
    max_orders_per_min=5,
)
MID = 1.25
OK = {"price": MID, "mid": MID, "ts": 10 * MINUTE_MS, "sent": (), "cfg": CFG}
units = st.integers(min_value=1, max_value=10_000_000)


def _check(qty: float, position: float = 0.0, gross: float = 0.0, **kw) -> str:
    args = {**OK, **kw}
    return pre_trade_reason(qty, position, 0.0, 1.0, gross, **args)


@given(units, st.sampled_from([1, -1]))
def test_max_order_size(qty: int, side: int) -> None:
    reason = _check(side * qty)
    if qty <= CFG.max_order_usd:
        assert reason == ""
    else:
        assert reason.startswith("max_order:")
    assert _check(side * CFG.max_order_usd) == ""  # exactly at the limit
    assert _check(side * (CFG.max_order_usd + 1)).startswith("max_order:")


@given(st.integers(min_value=0, max_value=6_000_000), st.integers(min_value=1, max_value=1_000_000))
def test_max_position(position: int, qty: int) -> None:
    after = position + qty
    reason = _check(qty, position=position, gross=position)
    if after <= CFG.max_position_usd:
        assert reason == ""
    else:
        assert reason.startswith("max_position:")
    # reducing the position always passes the exposure checks, however large the book
    assert _check(-qty, position=position + qty, gross=10 * CFG.max_gross_usd) == ""


@given(st.integers(min_value=0, max_value=8_000_000), st.integers(min_value=1, max_value=1_000_000))
def test_max_gross(gross_other: int, qty: int) -> None:
    reason = _check(qty, position=0.0, gross=gross_other)
    if gross_other + qty <= CFG.max_gross_usd:
        assert reason == ""
    else:
        assert reason.startswith("max_gross:")


@given(st.integers(min_value=-200, max_value=200))
def test_price_collar(off_bps: int) -> None:
    price = MID * (1 + off_bps / 1e4)
    reason = collar_reason(price, MID, CFG)
    if abs(off_bps) < CFG.price_collar_bps:
        assert reason == ""
    elif abs(off_bps) > CFG.price_collar_bps:
        assert reason.startswith("price_collar:")
    assert _check(1000, price=price).startswith("price_collar:") == bool(reason)


def test_price_collar_without_a_mid() -> None:
    assert collar_reason(MID, float("nan"), CFG).startswith("price_collar: no valid mid")
    assert collar_reason(float("inf"), MID, CFG).startswith("price_collar:")


@given(st.lists(st.integers(min_value=0, max_value=3 * MINUTE_MS), max_size=12))
def test_max_order_rate(offsets: list[int]) -> None:
    ts = 10 * MINUTE_MS
    sent = sorted(ts - o for o in offsets)
    in_window = sum(1 for o in offsets if o < MINUTE_MS)
    reason = rate_reason(ts, sent, CFG)
    assert (reason != "") == (in_window >= CFG.max_orders_per_min)
    if reason:
        assert reason == f"max_order_rate: {in_window} orders in the last minute >= 5"
        assert _check(1000, sent=sent).startswith("max_order_rate:")


def test_first_failing_check_is_the_reason() -> None:
    full = tuple(10 * MINUTE_MS for _ in range(5))
    assert _check(2_000_000, price=2 * MID, sent=full).startswith("max_order:")
    assert _check(1000, position=CFG.max_position_usd, price=2 * MID).startswith("max_position:")
    assert _check(1000, price=2 * MID, sent=full).startswith("price_collar:")
    assert _check(1000, sent=full).startswith("max_order_rate:")
