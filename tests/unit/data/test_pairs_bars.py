from __future__ import annotations

import numpy as np
import pytest

from streams.data.bars import BAR_FIELDS, concat_bars, empty_bars, sort_bars
from streams.fx.pairs import KNOWN_PAIRS, currencies, pip_size, pip_sizes, validate_pair


def test_pip_sizes() -> None:
    assert pip_size("EURUSD") == 0.0001
    assert pip_size("USDJPY") == 0.01
    assert pip_size("GBPJPY") == 0.01
    assert pip_size("USDCHF") == 0.0001
    np.testing.assert_array_equal(pip_sizes(np.array(["USDJPY", "EURUSD", "USDJPY"])), [0.01, 0.0001, 0.01])


def test_currencies_and_validation() -> None:
    assert currencies("EURGBP") == ("EUR", "GBP")
    assert len(KNOWN_PAIRS) == len(set(KNOWN_PAIRS)) >= 12
    assert validate_pair("AUDJPY") == "AUDJPY"
    with pytest.raises(ValueError, match="unknown pair"):
        validate_pair("EURXXX")
    with pytest.raises(ValueError, match="unknown pair"):
        pip_size("eurusd")


def test_empty_bars_schema() -> None:
    bars = empty_bars()
    assert tuple(bars) == BAR_FIELDS
    assert bars["ts"].dtype == np.int64
    assert bars["spread_modeled"].dtype == np.bool_
    assert bars["pair"].dtype.kind == "U"
    assert all(len(v) == 0 for v in bars.values())


def test_sort_bars_is_stable_by_ts_then_pair() -> None:
    bars = empty_bars()
    bars["pair"] = np.array(["USDJPY", "EURUSD", "EURUSD", "AUDUSD"])
    bars["ts"] = np.array([60_000, 60_000, 0, 60_000], dtype=np.int64)
    for k in ("open", "high", "low", "close", "volume", "spread"):
        bars[k] = np.arange(4, dtype=np.float64)
    bars["spread_modeled"] = np.ones(4, dtype=bool)
    bars["source"] = np.full(4, "x")
    out = sort_bars(bars)
    assert out["pair"].tolist() == ["EURUSD", "AUDUSD", "EURUSD", "USDJPY"]
    assert out["open"].tolist() == [2.0, 3.0, 1.0, 0.0]
    assert len(concat_bars([out, out])["ts"]) == 8
