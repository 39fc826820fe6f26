from __future__ import annotations

import pytest

from streams.stages.trader.portfolio.accounting import equity_curve
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.risk.limits import check_order
from streams.stages.trader.risk.throttle import throttle_factor

LEVELS = RiskConfig().throttle_levels


@pytest.mark.parametrize(
    ("dd", "mult"),
    [
        (0.0, 1.0),
        (0.0299, 1.0),
        (0.03, 1.0),
        (0.0301, 0.5),
        (0.0499, 0.5),
        (0.05, 0.5),
        (0.0501, 0.25),
        (0.5, 0.25),
    ],
)
def test_throttle_levels_are_strict(dd: float, mult: float) -> None:
    assert float(throttle_factor(dd, LEVELS)) == mult


@pytest.mark.parametrize(
    ("equity", "mult"), [(97_010.0, 1.0), (96_990.0, 0.5), (95_010.0, 0.5), (94_990.0, 0.25)]
)
def test_throttle_from_equity_and_hwm(equity: float, mult: float) -> None:
    import numpy as np

    # HWM 100,000: equity 97,010 is a 2.99 % drawdown, 96,990 3.01 %, 95,010 4.99 %, 94,990 5.01 %.
    _, dd = equity_curve(np.array([equity]), 100_000.0)
    assert float(throttle_factor(dd, LEVELS)[0]) == mult


def test_configurable_levels() -> None:
    assert float(throttle_factor(0.011, ((0.01, 0.7),))) == 0.7
    with pytest.raises(ValueError, match="strictly increasing"):
        RiskConfig(throttle_levels=((0.05, 0.25), (0.03, 0.5)))


CFG = RiskConfig(max_order_usd=1_000_000, max_position_usd=2_000_000, max_gross_usd=3_000_000)


def test_limits_pass_and_reject_with_reasons() -> None:
    # EURUSD at 1.25 USD per unit: 800,000 units = 1,000,000 USD (exactly at the order limit: passes).
    assert check_order(800_000, 0.0, 0.0, 1.25, 0.0, CFG) == ""
    assert check_order(800_001, 0.0, 0.0, 1.25, 0.0, CFG).startswith("max_order: order 1000001 USD")
    # 1,200,000 held + 800,000 = 2,000,000 units = 2.5M USD > 2M position limit.
    assert check_order(800_000, 1_200_000, 0.0, 1.25, 1_500_000, CFG).startswith("max_position")
    # Position fine (1.25M USD) but gross 2.5M + 1M = 3.5M > 3M.
    assert check_order(800_000, 200_000, 0.0, 1.25, 2_500_000, CFG).startswith("max_gross: gross 3500000")


def test_reducing_orders_skip_exposure_limits_but_not_order_size() -> None:
    assert check_order(-800_000, 5_000_000, 0.0, 1.25, 9e9, CFG) == ""
    assert check_order(-900_000, 5_000_000, 0.0, 1.25, 9e9, CFG).startswith("max_order")
