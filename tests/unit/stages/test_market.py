from __future__ import annotations

import numpy as np

from streams.core.batch import concat
from streams.runner.inprocess import run_inprocess
from streams.serde.avro import AvroCodec
from streams.stages.market import MarketConfig, MarketStage
from tests.kit.bars import MINUTE, T0, bars


def _dirty():
    b = bars(6, ("EURUSD",))
    cols = {k: b[k].copy() for k in b}
    cols["close"][1] = np.nan  # non-finite
    cols["low"][2] = -1.0  # non-positive
    cols["high"][3] = cols["low"][3] - 1e-4  # inconsistent
    cols["ts"][4] = cols["ts"][3]  # duplicate of the (rejected) row 3: still accepted
    cols["pair"] = cols["pair"].astype("<U6")
    extra = bars(3, ("EURUSD", "XXXYYY"), start=T0 + 2 * MINUTE)
    return concat([type(b)(cols), extra])


def test_quarantine_reasons_by_hand() -> None:
    stage = MarketStage(MarketConfig(pairs=("EURUSD", "GBPUSD")))
    state, out = stage.process(stage.initial_state(), "bars", _dirty())
    q = out["quarantine"]
    # rows: 0 ok(t0), 1 NaN, 2 neg, 3 OHLC, 4 ok (t3: row 3 was rejected so t3 is new), 5 ok (t5)
    # extra: EURUSD t2 (out of order vs t5), XXXYYY t2 unknown, EURUSD t3 out of order, XXXYYY, EURUSD t4, XXXYYY
    assert q["reason"].tolist() == [
        "non-finite price",
        "non-positive price",
        "inconsistent OHLC",
        "out of order",
        "unknown pair",
        "out of order",
        "unknown pair",
        "out of order",
        "unknown pair",
    ]
    assert out["bars.clean"]["ts"].tolist() == [T0, T0 + 3 * MINUTE, T0 + 5 * MINUTE]
    assert out["bars.clean"].n + q.n == 12  # nothing silently lost
    assert state.last_ts == {"EURUSD": T0 + 5 * MINUTE}
    AvroCodec("quarantine").encode_batch(q)
    AvroCodec("bar").encode_batch(out["bars.clean"])


def test_duplicates_across_batches() -> None:
    stage = MarketStage(MarketConfig(pairs=("EURUSD", "GBPUSD")))
    b = bars(4)
    state, _ = stage.process(stage.initial_state(), "bars", b)
    _, out = stage.process(state, "bars", b.take(slice(6, 8)))
    assert out["quarantine"]["reason"].tolist() == ["duplicate bar", "duplicate bar"]


def test_chunking_does_not_change_outputs() -> None:
    stage = MarketStage(MarketConfig(pairs=("EURUSD", "GBPUSD")))
    data = concat([_dirty(), bars(50, start=T0 + 10 * MINUTE)])
    whole = run_inprocess([stage], {"bars": data})
    for chunk in (1, 7, 13):
        parts = run_inprocess([stage], {"bars": data}, chunk=chunk)
        for k in ("bars.clean", "quarantine"):
            assert parts[k].equals(whole[k])
