"""Market stage fast paths (one bar per pair, all pairs at once: order and spike checks) against the
per-pair paths, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import streams.stages.market.stage as market_stage
from streams.core.batch import Batch, concat
from streams.core.state_codec import dumps, loads
from streams.stages.market import MarketConfig, MarketStage
from streams.stages.market.checks import PairPrices, quiet_bars
from tests.kit.bars import MINUTE, bars

PAIRS = ("GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "NZDUSD")
STAGE = MarketStage(MarketConfig(pairs=PAIRS, spike_window=20))


def _per_pair(prices: list[PairPrices], *args: Any, **kwargs: Any) -> list[PairPrices | None]:
    return [None] * len(prices)  # every pair to checks.spikes: the per-pair path


def _stream(seed: int) -> Batch:
    """Dirty bars: spikes that revert, level shifts, a 2 % move after a day's gap, invalid, duplicate
    and late rows, an unknown pair, pairs missing from minutes and a pair whose first bar comes late."""
    b = bars(300, PAIRS, seed=seed)
    rng = np.random.default_rng(seed)
    cols = {k: b[k].copy() for k in b}
    n = b.n
    for i in rng.choice(n, 12, replace=False):  # single-bar spikes, up or down
        f = rng.choice([1.05, 0.95, 1.016, 1e3])
        for k in ("open", "high", "low", "close"):
            cols[k][i] *= f
    for i in rng.choice(n, 4, replace=False):  # level shifts of one pair
        shift = (cols["pair"] == cols["pair"][i]) & (np.arange(n) >= i)
        for k in ("open", "high", "low", "close"):
            cols[k][shift] *= 1.03
    cols["close"][rng.choice(n, 5)] = np.nan
    cols["ts"][rng.choice(n, 10)] -= rng.choice([1, 3], 10) * MINUTE  # duplicates, out-of-order rows
    back = rng.choice(n - 3 * len(PAIRS), 4, replace=False)  # a pair's bar 3 min back, then 1 min back
    cols["ts"][back + len(PAIRS)] = cols["ts"][back] - 3 * MINUTE
    cols["ts"][back + 2 * len(PAIRS)] = cols["ts"][back] - MINUTE
    cols["pair"] = cols["pair"].astype("<U6")
    cols["pair"][rng.choice(n, 3)] = "XXXYYY"
    keep = rng.random(n) > 0.1
    keep[back + len(PAIRS)] = keep[back + 2 * len(PAIRS)] = True
    keep &= ~((cols["pair"] == "NZDUSD") & (cols["ts"] < cols["ts"][0] + 100 * MINUTE))
    away = (cols["pair"] == "USDCAD") & (np.arange(n) // len(PAIRS) >= 150)  # a day's gap, then +2 %
    cols["ts"][away] += 1440 * MINUTE
    for k in ("open", "high", "low", "close"):
        cols[k][away] *= 1.02
    return Batch({**cols, "row": np.arange(n)}).take(keep)


def _batches(b: Batch, merged: tuple[int, ...]) -> list[Batch]:
    """One batch per minute of the stream as generated (rows keep their order, whatever their ``ts``);
    the minutes in ``merged`` join the next one."""
    minute = b["row"] // len(PAIRS)
    minute = minute - np.isin(minute, np.array(merged) + 1)
    return [b.take(minute == m) for m in np.unique(minute)]


def _run(stage: MarketStage, batches: list[Batch], state: Any = None) -> tuple[Any, list[dict[str, Batch]]]:
    state = stage.initial_state() if state is None else state
    outs = []
    for b in batches:
        state, o = stage.process(state, "bars", b)
        outs.append(o)
    return state, outs


def _same_bytes(a: Batch, b: Batch) -> None:
    assert list(a) == list(b)
    for k in a:
        assert (a[k].dtype, a[k].shape) == (b[k].dtype, b[k].shape), k
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_is_the_per_pair_path_bit_for_bit(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _batches(_stream(seed), merged=(30, 31, 120))
    assert any(len(set(b["pair"].tolist())) < b.n for b in batches)  # several bars of a pair somewhere
    quiet: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> list[PairPrices | None]:
        got = quiet_bars(*args, **kwargs)
        quiet.extend(m is not None for m in got)
        return got

    monkeypatch.setattr(market_stage, "quiet_bars", counted)
    fast_state, fast = _run(STAGE, batches[:200])
    fast_state, more = _run(STAGE, batches[200:], loads(dumps(fast_state)))  # through a checkpoint
    monkeypatch.setattr(market_stage, "quiet_bars", _per_pair)
    monkeypatch.setattr(market_stage, "_in_order_one_bar", market_stage._in_order)
    ref_state, ref = _run(STAGE, batches)
    for a, b in zip(fast + more, ref, strict=True):
        for topic in ("bars.clean", "quarantine"):
            _same_bytes(a[topic], b[topic])
    assert dumps(fast_state) == dumps(ref_state)
    assert 0.9 * len(quiet) < sum(quiet) < len(quiet)  # the fast path decided most bars, spikes() the rest
    reasons = concat([o["quarantine"] for o in ref])["reason"].tolist()
    for why in ("price spike", "out of order", "duplicate bar", "unknown pair", "non-finite price"):
        assert any(r.startswith(why) for r in reasons), why
    clean = concat([o["bars.clean"] for o in ref])
    assert ((clean["pair"] == "USDCAD") & (clean["ts"] >= batches[0]["ts"][0] + 1440 * MINUTE)).sum() > 100


def test_quiet_bars_by_hand() -> None:
    prices = [
        PairPrices(1.0, float("nan"), (1.0, 0.999), 0),  # 1.01: log jump 0.00995 <= 0.015, accepted
        PairPrices(1.0, float("nan"), (1.0,), 0),  # 1.02: log jump 0.0198 > 0.015, for spikes()
        PairPrices(1.0, 1.1, (1.0,), 0),  # a pending spike: for spikes()
        PairPrices(),  # a pair's first bar: no reference, accepted
    ]
    ohlc = np.array([[1.0, 1.01, 1.0, 1.01], [1.0, 1.02, 1.0, 1.01], [1.0] * 4, [2.0] * 4])
    got = quiet_bars(prices, np.array([60_000] * 4), ohlc, min_jump=0.015, window=1)
    assert got[1:3] == [None, None]
    assert got[0] == PairPrices(1.01, got[0].suspect, (0.999, 1.01), 60_000)
    assert np.isnan(got[0].suspect)
    assert got[3] is not None
    assert (got[3].ref, got[3].closes, got[3].last_ts) == (2.0, (2.0,), 60_000)
