from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.batch import Batch, concat
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


def _series(closes: np.ndarray, pair: str = "USDCHF", start: int = T0) -> Batch:
    n = closes.size
    return Batch(
        {
            "pair": np.full(n, pair),
            "ts": start + MINUTE * np.arange(n, dtype=np.int64),
            "open": closes.copy(),
            "high": closes * (1 + 5e-5),
            "low": closes * (1 - 5e-5),
            "close": closes.copy(),
            "volume": np.zeros(n),
            "spread": np.full(n, 1e-5),
            "spread_modeled": np.ones(n, dtype=bool),
            "source": np.full(n, "test"),
        }
    )


def _walk(n: int, seed: int = 1, level: float = 1.02) -> np.ndarray:
    return level * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 2e-4, n)))


def test_far_future_bar_is_quarantined_and_later_bars_pass() -> None:
    # issue 11 #1: a year-2999 bar (and a 2021 bar inside a 2020 replay) made every later bar "out of order".
    b = _series(_walk(10), "GBPUSD")
    cols = {k: b[k].copy() for k in b}
    cols["ts"][3] = T0 + 365 * 1440 * MINUTE
    stage = MarketStage(MarketConfig(horizon_min=7 * 1440))
    state, out = stage.process(stage.initial_state(), "bars", Batch(cols))
    assert out["quarantine"]["reason"].tolist() == [
        "time more than 10080 min ahead of the event-time watermark"
    ]
    assert out["bars.clean"].n == 9
    assert state.wm == T0 + 9 * MINUTE
    # a weekend gap (3 days) is not "far"
    _, out = stage.process(state, "bars", _series(_walk(3), "GBPUSD", start=T0 + 3 * 1440 * MINUTE))
    assert out["quarantine"].n == 0


def test_feed_watermark_moves_the_horizon() -> None:
    stage = MarketStage(MarketConfig(horizon_min=60))
    state, _ = stage.process(stage.initial_state(), "bars", _series(_walk(5), "GBPUSD"))
    later = _series(_walk(2), "GBPUSD", start=T0 + 600 * MINUTE)
    _, out = stage.process(state, "bars", later)
    assert out["quarantine"].n == 2  # 10 h ahead of the watermark
    state, extra = stage.on_watermark(state, T0 + 590 * MINUTE)
    assert extra == {}
    _, out = stage.process(state, "bars", later)
    assert out["quarantine"].n == 0
    assert out["bars.clean"].n == 2


def test_a_reverting_spike_is_quarantined() -> None:
    # issue 11 #2: a 1000x bar was accepted; so was a 2 % bad tick.
    closes = _walk(120)
    closes[70] *= 1000.0
    closes[100] *= 1.02
    stage = MarketStage()
    _, out = stage.process(stage.initial_state(), "bars", _series(closes))
    q = out["quarantine"]
    assert q["ts"].tolist() == [T0 + 70 * MINUTE, T0 + 100 * MINUTE]
    assert all(r.startswith("price spike: log jump ") for r in q["reason"])
    assert out["bars.clean"].n == 118
    assert out["bars.clean"]["close"].max() < 1.1


def test_a_level_shift_passes_after_one_bar() -> None:
    # CHF, 2015-01-15: USDCHF -30 % within minutes and stays there; the validator must not hide it.
    closes = np.concatenate([_walk(60, 2, 1.02), _walk(60, 3, 1.02 * 0.7)])
    stage = MarketStage()
    _, out = stage.process(stage.initial_state(), "bars", _series(closes))
    assert out["quarantine"]["ts"].tolist() == [T0 + 60 * MINUTE]  # only the first bar of the shift
    clean = out["bars.clean"]
    assert clean.n == 119
    assert clean["close"][-1] == closes[-1]


def test_spike_check_does_not_depend_on_batching() -> None:
    closes = np.concatenate([_walk(80, 4), _walk(80, 5, 0.8)])
    closes[30] *= 1.05
    closes[120] *= 0.9
    data = _series(closes)
    stage = MarketStage()
    whole = run_inprocess([stage], {"bars": data})
    for chunk in (1, 7, 61):
        parts = run_inprocess([stage], {"bars": data}, chunk=chunk)
        for k in ("bars.clean", "quarantine"):
            assert parts[k].to_records() == whole[k].to_records()


def _reference_spikes(closes: np.ndarray, sigmas: float, min_jump: float, window: int) -> list[bool]:
    """The spike rule bar by bar, written independently of the vectorised code (1-minute bars, o=h=l=c)."""
    out, ref, suspect = [], float("nan"), float("nan")
    for i, c in enumerate(closes):
        past = np.abs(np.diff(np.log(closes[max(0, i - window) : i + 1])))
        thr = max(min_jump, sigmas * float(np.median(past))) if past.size >= 5 else min_jump
        dev = abs(np.log(c / ref)) if ref == ref else 0.0
        if dev <= thr or (suspect == suspect and abs(np.log(c / suspect)) <= thr):
            ref, suspect = c, float("nan")
            out.append(False)
        else:
            suspect = c
            out.append(True)
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 299), st.sampled_from([1.02, 0.97, 1.5, 0.7, 1000.0])), max_size=8),
    st.integers(1, 300),
)
def test_spike_rule_equals_a_bar_by_bar_reference(shocks: list[tuple[int, float]], chunk: int) -> None:
    closes = _walk(300, 9)
    for at, factor in shocks:
        if factor in (1.02, 0.97, 1000.0):
            closes[at] *= factor  # one bad bar
        else:
            closes[at:] *= factor  # a level shift
    cfg = MarketConfig(spike_min_jump=0.01, spike_sigmas=30.0, spike_window=20)
    data = _series(np.asarray(closes, dtype=np.float64))
    got = run_inprocess([MarketStage(cfg)], {"bars": data}, chunk=chunk)["quarantine"]
    flagged = set(got["ts"].tolist())
    want = _reference_spikes(np.asarray(closes), 30.0, 0.01, 20)
    assert [t in flagged for t in data["ts"].tolist()] == want
