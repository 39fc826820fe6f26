"""OU fast path (one bar per pair, all pairs at once) against the per-pair path: same bytes, same state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import streams.stages.edge.stage as edge_stage
from streams.core.batch import Batch, concat
from streams.core.state_codec import dumps, loads
from streams.stages.edge import EdgeConfig, EdgeStage
from streams.stages.edge.ou import OUFit, OUHistory, ou_update, ou_update_one_bar
from tests.kit.regime_adjusted import regime_adjusted

PAIRS = ("GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "NZDUSD")
CFG = EdgeConfig(ou_window=120, ou_min_points=20, ou_min_t_stat=1.0)


def _per_pair(hists: list[OUHistory], x: Any, gap: Any, *args: Any) -> tuple[list[OUHistory], OUFit]:
    """The per-pair path, one :func:`ou_update` call per pair: the reference of the fast path."""
    done = [ou_update(h, x[i : i + 1], gap[i : i + 1], *args) for i, h in enumerate(hists)]
    fits = [f for _, f in done]
    cols = (np.concatenate([getattr(f, k) for f in fits]) for k in ("theta", "half_life_min", "valid", "n"))
    return [h for h, _ in done], OUFit(*cols)


def _stream(seed: int) -> Batch:
    """Adversarial regime.adjusted rows: NaN, inf and clipped values, gaps, missing and late pairs."""
    b = regime_adjusted(400, PAIRS, seed=seed)
    rng = np.random.default_rng(seed)
    d = b["displacement"].copy()
    d[rng.random(b.n) < 0.04] = np.nan
    d[rng.random(b.n) < 0.01] = np.inf
    d[rng.random(b.n) < 0.01] = rng.choice([-1e3, 1e3, 100.0, -99.99999])
    gap = rng.choice(np.array([1, 1, 1, 1, 2, 7, 0], dtype=np.int32), b.n)
    keep = rng.random(b.n) > 0.1  # a pair missing from a minute
    keep &= ~((b["pair"] == "NZDUSD") & (b["ts"] < b["ts"][0] + 150 * 60_000))  # a late pair's first bars
    keep &= ~((b["pair"] == "AUDUSD") & (np.arange(b.n) // len(PAIRS) % 97 < 3))  # a pair coming back
    return b.with_columns(displacement=d, gap_min=gap).take(keep)


def _minutes(b: Batch, merged: tuple[int, ...] = ()) -> list[Batch]:
    """One batch per minute; the minutes in ``merged`` join the next one (two bars per pair)."""
    ts = np.unique(b["ts"])
    groups = np.cumsum([0, *[0 if i in merged else 1 for i in range(len(ts) - 1)]])
    return [b.take(np.isin(b["ts"], ts[groups == g])) for g in np.unique(groups)]


def _run(stage: EdgeStage, batches: list[Batch], state: Any = None) -> tuple[Any, list[Batch]]:
    state = stage.initial_state() if state is None else state
    outs = []
    for b in batches:
        state, o = stage.process(state, "regime.adjusted", b)
        outs.append(o["signals"])
    return state, outs


def _same_bytes(a: Batch, b: Batch) -> None:
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        assert (x.dtype, x.shape) == (y.dtype, y.shape), k
        if x.dtype == object:
            assert x.tolist() == y.tolist(), k
        else:
            assert x.tobytes() == y.tobytes(), k


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_is_the_per_pair_path_bit_for_bit(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _minutes(_stream(seed), merged=(40, 41, 200, 333))
    calls: list[int] = []

    def counted(*args: Any) -> tuple[list[OUHistory], OUFit]:
        calls.append(len(args[0]))
        return ou_update_one_bar(*args)

    monkeypatch.setattr(edge_stage, "ou_update_one_bar", counted)
    fast_state, fast = _run(EdgeStage(CFG), batches)
    several = [b for b in batches if len(set(b["pair"].tolist())) < b.n]
    assert len(several) == 3  # minutes 40-42, 200-201 and 333-334: the per-pair path
    assert len(calls) == len(batches) - 3  # the fast path ran on every other batch
    assert max(calls) == len(PAIRS)
    monkeypatch.setattr(edge_stage, "ou_update_one_bar", _per_pair)
    ref_state, ref = _run(EdgeStage(CFG), batches)
    for a, b in zip(fast, ref, strict=True):
        _same_bytes(a, b)
    assert dumps(fast_state) == dumps(ref_state)
    assert list(fast_state.ou) == sorted(
        PAIRS, key=lambda p: (min(i for i, b in enumerate(batches) if p in b["pair"]), p)
    )
    ou = concat(fast)
    assert ou["ou_valid"].any()
    assert (~ou["ou_valid"]).any()
    # The whole stream in one batch (the per-pair path with many bars per pair) agrees too.
    whole_state, whole = _run(EdgeStage(CFG), [concat(batches)])
    _same_bytes(ou, whole[0])
    # (its pairs enter the state in name order, not in order of first appearance)
    assert {p: dumps(h) for p, h in whole_state.ou.items()} == {p: dumps(h) for p, h in fast_state.ou.items()}


def test_a_restored_state_continues_bit_for_bit_even_with_a_shorter_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches = _minutes(_stream(4))
    state, _ = _run(EdgeStage(CFG), batches[:250])
    restored = loads(dumps(state))  # a checkpoint of the current layout (dict of per-pair histories)
    short = EdgeConfig(ou_window=60, ou_min_points=20, ou_min_t_stat=1.0)  # histories longer than the window
    fast_state, fast = _run(EdgeStage(short), batches[250:], restored)
    monkeypatch.setattr(edge_stage, "ou_update_one_bar", _per_pair)
    ref_state, ref = _run(EdgeStage(short), batches[250:], state)
    for a, b in zip(fast, ref, strict=True):
        _same_bytes(a, b)
    assert dumps(fast_state) == dumps(ref_state)
    assert all(len(h.q) == 59 for h in fast_state.ou.values())


def test_one_bar_update_by_hand() -> None:
    """Window 4 holds three transitions of x_{t+1} = x_t / 2 (exact in 1/2**16 units): b = 1/2."""
    h = OUHistory(np.array([2**15, 2**14, 2**13]), np.ones(3, bool), np.array([False, True, True]))
    new, fit = ou_update_one_bar(
        [h, OUHistory(h.q[:1], h.usable[:1], h.unit_step[:1])],
        np.array([0.0625, 0.25]),
        np.array([1, 2]),
        4,
        3,
        0.0,
    )
    np.testing.assert_array_equal(new[0].q, [2**14, 2**13, 2**12])
    np.testing.assert_array_equal(new[1].q, [2**15, 2**14])
    np.testing.assert_array_equal(new[1].unit_step, [False, False])
    assert fit.n.tolist() == [3, 0]
    np.testing.assert_allclose(fit.theta[0], np.log(2.0), rtol=1e-12)
    np.testing.assert_allclose(fit.half_life_min[0], 1.0, rtol=1e-12)
    assert fit.valid.tolist() == [True, False]
    assert np.isnan(fit.theta[1])
    with pytest.raises(ValueError, match="OU window"):
        ou_update_one_bar([h], np.array([0.1]), np.array([1]), 2, 2, 0.0)
