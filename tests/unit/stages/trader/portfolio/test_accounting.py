"""Hand-computed PnL: every figure below is worked out in the comments (prices chosen exact in binary)."""

from __future__ import annotations

import numpy as np

from streams.stages.trader.portfolio.accounting import (
    apply_fill,
    conversion_plan,
    equity_curve,
    gross_usd,
    quote_to_usd,
    unrealised_usd,
)

PAIRS = ("EURUSD", "USDJPY", "GBPUSD", "EURGBP")


def _apply(fills: list[tuple[float, float, float]]) -> tuple[float, float, list[float]]:
    pos, avg, pnl = 0.0, 0.0, []
    for qty, price, rate in fills:
        pos, avg, r = apply_fill(pos, avg, qty, price)
        pnl.append(r * rate)
    return pos, avg, pnl


def test_eurusd_add_reduce_and_flip() -> None:
    pos, avg, pnl = _apply(
        [
            (100_000, 1.25, 1.0),  # open long 100k @ 1.25
            (100_000, 1.375, 1.0),  # add: avg = (100k*1.25 + 100k*1.375) / 200k = 1.3125
            (-150_000, 1.5, 1.0),  # reduce: 150k * (1.5 - 1.3125) = 28,125 USD
            (-100_000, 1.25, 1.0),  # close 50k: 50k * (1.25 - 1.3125) = -3,125; flip to short 50k @ 1.25
        ]
    )
    assert pnl == [0.0, 0.0, 28_125.0, -3_125.0]
    assert (pos, avg) == (-50_000.0, 1.25)


def test_usdjpy_pnl_in_jpy_converted_at_the_usdjpy_rate() -> None:
    col, mode = conversion_plan(PAIRS)
    mids = np.array([1.125, 125.0, 1.25, 0.8125])
    rate = quote_to_usd(mids, col, mode)
    assert rate[1] == 1.0 / 125.0
    assert rate[0] == 1.0
    assert rate[3] == 1.25
    pos, avg, pnl = _apply(
        [
            (-200_000, 128.0, rate[1]),  # short 200k USD @ 128
            (200_000, 125.0, rate[1]),  # cover @ 125: 200k * (125 - 128) * -1 = 600,000 JPY / 125 = 4,800 USD
        ]
    )
    assert pnl == [0.0, 4_800.0]
    assert (pos, avg) == (0.0, 0.0)


def test_book_equity_with_cross_rates() -> None:
    col, mode = conversion_plan(PAIRS)
    mids = np.array([[1.125, 128.0, 1.25, 0.8125]])
    rate = quote_to_usd(mids, col, mode)
    pos = np.array([-50_000.0, 100_000.0, 0.0, 100_000.0])
    avg = np.array([1.25, 120.0, 0.0, 0.875])
    u = unrealised_usd(pos, avg, mids, rate)
    # EURUSD: -50k * (1.125 - 1.25) = +6,250 USD
    # USDJPY: 100k * (128 - 120) = 800,000 JPY / 128 = +6,250 USD (current USDJPY rate)
    # EURGBP: 100k * (0.8125 - 0.875) = -6,250 GBP * 1.25 (GBPUSD) = -7,812.5 USD
    assert u.tolist() == [6_250.0 + 6_250.0 - 7_812.5]
    # Equity = 1,000,000 + realised (25,000 EURUSD + 4,800 USDJPY) + unrealised 4,687.5 = 1,034,487.5
    assert 1_000_000.0 + 25_000.0 + 4_800.0 + float(u[0]) == 1_034_487.5
    # Gross: 50k*1.125 + 100k*128/128 + 100k*0.8125*1.25 = 56,250 + 100,000 + 101,562.5
    assert gross_usd(pos, mids[0], rate[0]) == 257_812.5


def test_missing_usd_leg_gives_nan_rate_and_flat_pairs_do_not_poison_equity() -> None:
    col, mode = conversion_plan(("EURUSD", "EURGBP"))  # no GBPUSD in the universe
    rate = quote_to_usd(np.array([1.25, 0.875]), col, mode)
    assert rate[0] == 1.0
    assert np.isnan(rate[1])
    u = unrealised_usd(
        np.array([1000.0, 0.0]), np.array([1.0, 0.0]), np.array([[1.25, np.nan]]), np.array([[1.0, np.nan]])
    )
    assert u.tolist() == [250.0]


def test_hwm_never_falls_and_drawdown() -> None:
    hwm, dd = equity_curve(np.array([100.0, 110.0, 99.0, 120.0]), 105.0)
    assert hwm.tolist() == [105.0, 110.0, 110.0, 120.0]
    assert dd[2] == 1.0 - 99.0 / 110.0
    assert dd[3] == 0.0
