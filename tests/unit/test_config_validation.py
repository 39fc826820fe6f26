"""The config refuses nonsense with a clear error (issue 11 #7)."""

from __future__ import annotations

import pytest

from streams.config import ConfigError, build_config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trader": {"portfolio": {"initial_equity_usd": -1e6}}}, "greater than 0"),
        ({"trader": {"portfolio": {"initial_equity_usd": 0}}}, "greater than 0"),
        ({"trader": {"risk": {"risk_aversion": -10}}}, "greater than 0"),
        ({"trader": {"risk": {"lot_units": 0}}}, "greater than 0"),
        ({"trader": {"risk": {"max_position_usd": -1}}}, "greater than 0"),
        ({"trader": {"risk": {"target_vol_annual": float("nan")}}}, "finite number"),
        ({"trader": {"risk": {"max_gross_usd": float("inf")}}}, "finite number"),
        ({"trader": {"risk": {"throttle_levels": [[-0.5, 0]]}}}, "strictly increasing within (0, 1)"),
        ({"trader": {"risk": {"throttle_levels": [[0.05, 0.5], [0.03, 0.25]]}}}, "strictly increasing"),
        ({"trader": {"risk": {"throttle_levels": [[0.03, 0.0]]}}}, "multipliers must be in (0, 1]"),
        ({"trader": {"risk": {"throttle_levels": [[0.03, 0.25], [0.05, 0.5]]}}}, "not increase"),
        ({"market": {"pairs": ["XXXYYY", "eurusd"]}}, "unknown pair 'XXXYYY'"),
        ({"market": {"pairs": ["EURUSD", "eur/usd"]}}, "twice"),
        ({"trader": {"portfolio": {"pairs": ["GBPUSD", "nope"]}}}, "unknown pair 'nope'"),
        ({"market": {"spike_sigmas": float("nan")}}, "finite number"),
    ],
)
def test_nonsense_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(data)
    assert message in str(info.value)


def test_pairs_are_normalised_and_sane_values_pass() -> None:
    cfg = build_config(
        {
            "market": {"pairs": ["eur/usd", "gbp_usd"]},
            "trader": {"risk": {"throttle_levels": [[0.02, 0.75], [0.04, 0.5], [0.08, 0.25]]}},
        }
    )
    assert cfg.market.pairs == ("EURUSD", "GBPUSD")
    assert cfg.trader.risk.throttle_levels[-1] == (0.08, 0.25)
