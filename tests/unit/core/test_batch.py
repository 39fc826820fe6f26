from __future__ import annotations

import numpy as np
import pytest

from streams.core.batch import Batch, concat


def test_rejects_unequal_columns() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        Batch({"a": [1, 2], "b": [1]})


def test_columns_are_read_only() -> None:
    b = Batch({"a": np.arange(3)})
    with pytest.raises(ValueError, match="read-only"):
        b["a"][0] = 5


def test_records_round_trip_and_take() -> None:
    b = Batch({"pair": np.array(["EURUSD", "USDJPY"]), "ts": np.array([1, 2], dtype=np.int64)})
    assert b.n == 2
    assert b.to_records() == [{"pair": "EURUSD", "ts": 1}, {"pair": "USDJPY", "ts": 2}]
    assert Batch.from_records(b.to_records(), ["pair", "ts"]).equals(b)
    assert b.take(np.array([False, True])).to_records() == [{"pair": "USDJPY", "ts": 2}]


def test_concat_and_equals_with_nan() -> None:
    a = Batch({"x": np.array([1.0, np.nan])})
    b = Batch({"x": np.array([3.0])})
    c = concat([a, b])
    assert c.n == 3
    assert c.equals(Batch({"x": np.array([1.0, np.nan, 3.0])}))
    assert not c.equals(Batch({"x": np.array([1.0, np.nan, 3.1])}))
    assert c.equals(Batch({"x": np.array([1.0, np.nan, 3.0 + 1e-12])}), atol=1e-9)
