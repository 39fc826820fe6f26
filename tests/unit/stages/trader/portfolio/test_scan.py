"""The compiled fast-path kernels against the numpy path they replace (second method: the numpy code,
kept for brokers other than the built-in two): same event minutes, same valuation bits, and the whole
stage's outputs and state byte for byte on dirty streams."""

from __future__ import annotations

import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from streams.core.batch import Batch
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.killswitch import ControlState, stale_minutes
from streams.stages.trader.execution.router import Order
from streams.stages.trader.portfolio import fastpath, scan
from streams.stages.trader.portfolio import minutes as mins
from streams.stages.trader.portfolio.book import Book
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.stage import TraderConfig, TraderStage
from tests.kit.control import CONTROL_KEY, signed
from tests.kit.governed import START, dirty, governed
from tests.kit.runner import run

PAIRS = ("EURUSD", "GBPUSD", "USDJPY", "EURGBP")
LEVELS = ((0.0005, 0.5), (0.001, 0.25))


def _dirty(seed: int, n_min: int, pass_prob: float) -> Batch:
    """A governed stream with NaN / inf prices and spreads, gaps, halted and reduced minutes."""
    b = governed(pairs=PAIRS, n_min=n_min, seed=seed, pass_prob=pass_prob)
    return dirty(b, np.random.default_rng(seed))


def _control(rows: list[tuple[str, int, str, float]]) -> Batch:
    recs = []
    for i, (action, ts, pair, scale) in enumerate(rows):
        r = {"command_id": f"op:{i}:{ts}", "ts": ts, "action": action, "scale": scale, "pair": pair}
        recs.append(signed({**r, "issuer": "operator", "reason": "test"}))
    return Batch({k: np.array([r[k] for r in recs]) for k in recs[0]})


def _bytes(state: Any, out: dict[str, Batch]) -> list[bytes]:
    cols = [k.encode() + c.encode() + np.asarray(b[c]).tobytes() for k, b in sorted(out.items()) for c in b]
    return [*cols, pickle.dumps(state)]


CONFIGS = {
    "paper, reversion exits, tight throttle, toxicity kill": TraderConfig(
        risk=RiskConfig(cov_min_obs=30, throttle_levels=LEVELS, exit_on_reversion=True),
        execution=ExecutionConfig(toxicity_window=5, toxicity_threshold_bps=-2.0),
    ),
    "paper, defaults": TraderConfig(risk=RiskConfig(cov_min_obs=30)),
    "live broker (no simulated fills)": TraderConfig(
        risk=RiskConfig(cov_min_obs=30, throttle_levels=LEVELS),
        execution=ExecutionConfig(fill_source="broker"),
    ),
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("seed", [1, 2])
def test_the_compiled_stage_gives_the_numpy_stage_bytes(name: str, seed: int) -> None:
    data = _dirty(seed, 700, pass_prob=0.05)
    ctrl = _control(
        [
            ("REDUCE", START + 120 * 60_000, "GBPUSD", 0.5),
            ("HALT", START + 300 * 60_000, "EURUSD", 1.0),
            ("DECOMMISSION", START + 330 * 60_000, "USDJPY", 1.0),
            ("RESUME", START + 400 * 60_000, "", 1.0),
            ("KILL", START + 500 * 60_000, "", 1.0),
            ("RESUME", START + 560 * 60_000, "", 1.0),
        ]
    )
    rng = np.random.default_rng(seed)
    cuts = sorted({0, data.n, *rng.integers(1, data.n, 12).tolist()})
    batches = [
        ("control", ctrl),
        *(("signals.governed", data.take(slice(a, b))) for a, b in zip(cuts, cuts[1:], strict=False)),
    ]
    cfg = CONFIGS[name]
    compiled = TraderStage(cfg, control_key=CONTROL_KEY)
    slow = TraderStage(cfg, control_key=CONTROL_KEY, compiled=False)
    assert compiled.fast.compiled
    assert not slow.fast.compiled
    s1, o1 = run(compiled, batches)
    s2, o2 = run(slow, batches)
    assert o1["orders"].n > 10  # the stream trades, so orders, fills and exits are compared
    assert _bytes(s1, o1) == _bytes(s2, o2)


def _at(rng: np.random.Generator, mn: mins.Minutes, k: int, j: int) -> int:
    """A minute at or after ``k`` where pair ``j`` has a bar (``k`` if none)."""
    later = np.flatnonzero(mn.present[k:, j])
    return k + int(rng.choice(later[:300])) if len(later) else k


def _order(rng: np.random.Generator, mn: mins.Minutes, k: int, j: int, delta: float) -> Order:
    """A working order whose price, age and activation sit on the boundaries of the event tests; most
    match their delta (side and size), so the other triggers are not masked by a constant one."""
    t = _at(rng, mn, k, j)
    consistent = delta != 0.0 and rng.random() < 0.7
    side = (1 if delta > 0.0 else -1) if consistent else int(rng.choice([-1, 1]))
    with np.errstate(invalid="ignore"):  # the price the bars from k reach first at t, exactly
        reach = -mn.high[k : t + 1, j] if side < 0 else mn.low[k : t + 1, j] + mn.spread[k : t + 1, j]
    near = abs(float(np.nanmin(reach))) if np.isfinite(reach).any() else 1.0
    far = float(np.nan_to_num(mn.mid_ff[k, j], nan=1.0)) * (1.0 - side * 0.01)  # never reached
    price = near if rng.random() < 0.5 else far
    leaves = abs(delta) if consistent else float(rng.choice([1000.0, 3000.0]))
    created = int(mn.ts[k]) - int(rng.choice([0, 5, 40])) * 60_000
    leg = str(rng.choice(["entry", "exit", "adjust"]))
    active = int(mn.ts[k]) if rng.random() < 0.5 else int(mn.ts[_at(rng, mn, k, j)])
    return Order(f"o{j}", PAIRS[j], j, side, leaves, leaves, price, created, active, leg)


def _control_state(rng: np.random.Generator, ts: int) -> ControlState:
    def some(pool: list[str]) -> frozenset[str]:
        return frozenset(rng.choice(pool, int(rng.random() < 0.15), replace=False).tolist())

    return ControlState(
        killed=bool(rng.random() < 0.05),
        halted=some(["", *PAIRS]),
        suspended=some(list(PAIRS)),
        decommissioned=some(list(PAIRS)),
        scale=(("GBPUSD", 0.5),) if rng.random() < 0.5 else (),
        paused_until=-1 if rng.random() < 0.8 else ts,
    )


def _book(rng: np.random.Generator, p: int, mn: mins.Minutes, k: int) -> Book:
    size = float(rng.choice([1.0, 1000.0]))  # x1000: equity moves enough to cross the throttle levels
    pos = np.where(rng.random(p) < 0.5, rng.choice([-3000.0, 2000.0, 5000.0], p) * size, 0.0)
    working = rng.random(p) < 0.5
    delta = np.where(
        working | (rng.random(p) < 0.05), rng.choice([0.0, 1000.0, -2000.0], p, p=[0.1, 0.45, 0.45]), 0.0
    )
    target = pos + delta  # a delta without a working order is an event at every bar
    orders = {j: _order(rng, mn, k, j, float(delta[j])) for j in np.flatnonzero(working).tolist()}
    due = [int(mn.ts[_at(rng, mn, k, j)]) if rng.random() < 0.5 else -1 for j in range(p)]
    sized = rng.choice([1.0, 0.5, 0.3, 0.5 * (1 + 5e-10), 1.0 + 5e-10], p)  # within 1e-9 of a scale
    return Book(
        pos=pos,
        avg=np.where(pos != 0.0, mn.mid_ff[max(k - 1, 0)] * (1 + rng.normal(0.0, 5e-4, p)), 0.0),
        realized_usd=float(rng.normal(0.0, 200.0)),
        target=target,
        sized_scale=sized,
        exit_due=np.array(due, dtype=np.int64),
        mids=mn.mid_ff[0].copy(),
        equity=1e6,
        hwm=float(1e6 + rng.choice([0.0, 50.0, 2000.0, np.nan])),
        throttle=1.0,
        orders=orders,
        seen_ids=[],
        markouts=[],
        windows={},
        control=_control_state(rng, int(mn.ts[k])),
        last_ts=-1,
    )


def _setup(seed: int, n_min: int) -> tuple[mins.Minutes, fastpath.Static, TraderStage]:
    stage = TraderStage(TraderConfig(portfolio={"pairs": PAIRS}))
    data = _dirty(seed, n_min, pass_prob=0.0)
    cols = stage._merge(stage.initial_state(), data)
    ts, ki = np.unique(cols["ts"], return_inverse=True)
    mn = mins.build(
        cols, ts.astype(np.int64), ki.reshape(-1), cols["pidx"], 4, np.full(4, np.nan), stage._conv
    )
    return mn, fastpath.static(mn, stale_minutes(-1, mn.ts, 30), 2e6, 1000.0), stage


@pytest.mark.parametrize("seed", range(4))
def test_the_event_search_finds_the_numpy_search_minutes(seed: int) -> None:
    """Random books (positions, targets, working orders of every leg reached exactly or never,
    kill/halt/suspend/decommission, reductions within 1e-9 of the sized scale, time exits due on a
    bar): for every start minute of a window, the same next event as the numpy search."""
    mn, st, stage = _setup(seed, 700)
    rng = np.random.default_rng(seed)
    args = (PAIRS, stage.fast.broker, 1000.0, 30, 1e6, LEVELS, ExecutionConfig())
    gaps = []
    for reversion in (False, True):
        fast, slow = fastpath.FastPath(*args, reversion), fastpath.FastPath(*args, reversion, compiled=False)
        for _ in range(15):
            k0 = int(rng.integers(0, len(mn.ts) - 120))
            book = _book(rng, 4, mn, k0)
            for k in range(k0, k0 + 120):
                j = fast.next_event(book, mn, st, k)
                assert j == slow.next_event(book, mn, st, k), (k, book)
                gaps.append(j - k)
    assert max(gaps) >= 15  # quiet stretches and immediate events both occur
    assert min(gaps) == 0


def test_a_drawdown_from_a_high_set_in_an_earlier_chunk_is_an_event() -> None:
    """Equity rises through the numpy search's first chunk (256 minutes) and falls 1 % in the second,
    staying above the book's high-water mark: measured from the running maximum (as the stretch is
    valued), the reduction fires at the first minute of the fall. The code before restarted the mark
    from the book's at each chunk and found no event, so the reduction came later, at a minute that
    depended on where the batch began."""
    mn, st, stage = _setup(0, 700)
    rng = np.random.default_rng(0)
    book = _book(rng, 4, mn, 0)
    book.control, book.orders = ControlState(), {}
    book.pos[:] = book.target[:] = book.avg[:] = 0.0
    book.exit_due[:] = -1
    book.pos[0] = book.target[0] = 1e7
    book.avg[0], book.sized_scale[0], book.hwm, book.realized_usd = 1.0, 1.0, 1e6, 0.0
    path = np.concatenate([np.linspace(1.0, 1.02, 256), np.full(len(mn.ts) - 256, 1.019)])
    mid = mn.mid_ff.copy()
    mid[:, 0] = path
    ones = np.ones_like(mid)
    mn = replace(mn, mid_ff=mid, rate=ones, alloc=ones, present=np.ones_like(mn.present))
    st = replace(st, stale=np.zeros_like(st.stale), exit_bad=np.zeros_like(st.exit_bad))
    args = (PAIRS, stage.fast.broker, 1000.0, 30, 1e6, LEVELS, ExecutionConfig())
    fast, slow = fastpath.FastPath(*args), fastpath.FastPath(*args, compiled=False)
    assert fast.next_event(book, mn, st, 0) == slow.next_event(book, mn, st, 0) == 256
    assert fast.curve(book, mn, 0, len(mn.ts))[3][255:257].tolist() == [1.0, 0.25]


def _calm(mn: mins.Minutes, st: fastpath.Static) -> tuple[mins.Minutes, fastpath.Static]:
    """No stale gap, no exit condition, full allocation (only the order's own tests remain)."""
    mn = replace(mn, alloc=np.ones_like(mn.alloc))
    return mn, replace(st, stale=np.zeros_like(st.stale), exit_bad=np.zeros_like(st.exit_bad))


def _quiet(mn: mins.Minutes, side: int, price: float, leg: str) -> Book:
    """One working GBPUSD order matching its delta, fresh, nothing else due."""
    book = _book(np.random.default_rng(0), 4, mn, 0)
    book.sized_scale[:] = 1.0
    book.control, book.exit_due[:] = ControlState(), -1
    book.pos[:] = book.target[:] = book.avg[:] = 0.0
    book.target[1] = side * 1000.0
    book.orders = {1: Order("o", "GBPUSD", 1, side, 1000.0, 1000.0, price, int(mn.ts[0]), int(mn.ts[0]), leg)}
    return book


@pytest.mark.parametrize("side", [1, -1])
def test_a_bar_that_reaches_the_limit_exactly_is_the_event(side: int) -> None:
    mn, st, stage = _setup(5, 60)
    mn, st = _calm(mn, st)
    reach = mn.low[:, 1] + mn.spread[:, 1] if side > 0 else -mn.high[:, 1]
    first = int(np.nanargmin(reach[:25]))  # the best price of the first 25 bars, reached first there
    args = (PAIRS, stage.fast.broker, 1000.0, 30, 1e6, LEVELS, ExecutionConfig())
    book = _quiet(mn, side, abs(float(reach[first])), "exit")
    for fast in (fastpath.FastPath(*args), fastpath.FastPath(*args, compiled=False)):
        assert fast.next_event(book, mn, st, 0) == first


def test_a_bar_that_forbids_entries_is_the_event_of_an_entry_order() -> None:
    mn, st, stage = _setup(5, 60)
    mn, st = _calm(mn, st)
    st = replace(st, entry_bad=np.zeros_like(st.entry_bad))
    st.entry_bad[17, 1] = True  # e.g. gov_state SUSPENDED: entries (not exits) are cancelled
    args = (PAIRS, stage.fast.broker, 1000.0, 30, 1e6, LEVELS, ExecutionConfig())
    stale = int(np.searchsorted(mn.ts + 60_000 - mn.ts[0], 30 * 60_000))  # replace_after_min = 30
    for leg, want in (("entry", 17), ("exit", stale)):
        book = _quiet(mn, 1, 1e-9, leg)  # never filled
        for fast in (fastpath.FastPath(*args), fastpath.FastPath(*args, compiled=False)):
            assert fast.next_event(book, mn, st, 0) == want


@pytest.mark.parametrize("seed", range(20))
def test_the_compiled_valuation_gives_the_numpy_bits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, p = int(rng.integers(1, 40)), int(rng.integers(1, 13))
    mid = rng.uniform(0.5, 150.0, (m, p))
    rate = 1.0 / rng.uniform(0.5, 150.0, (m, p))
    mid[rng.random((m, p)) < 0.1] = np.nan
    rate[rng.random((m, p)) < 0.05] = np.inf
    pos = np.where(rng.random(p) < 0.5, rng.normal(0.0, 1e5, p), 0.0)
    pos[rng.random(p) < 0.1] = -0.0
    avg = np.where(pos != 0.0, rng.uniform(0.5, 150.0, p), 0.0)
    mn: Any = type("M", (), {"mid_ff": mid, "rate": rate})
    book: Any = type(
        "B", (), {"pos": pos, "avg": avg, "hwm": float(rng.choice([1e6, 1e6 + 10, np.nan, -np.inf]))}
    )
    a = int(rng.integers(0, m))
    th, mu = np.array([t for t, _ in LEVELS]), np.array([f for _, f in LEVELS])
    base = float(1e6 + rng.normal(0.0, 1e3))
    got = scan.value(pos, avg, mid, rate, a, m, base, book.hwm, th, mu)
    want = fastpath.curve(book, mn, a, m, base, LEVELS)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == np.asarray(w, dtype=np.float64).tobytes()


def test_a_third_broker_takes_the_numpy_path() -> None:
    class Touch:  # fills nothing; any Broker that is not one of the built-in two
        def fill_qty(self, *a: Any) -> float:
            return 0.0

        def may_fill(self, order: Order, bar_ts: Any, *a: Any) -> Any:
            return np.ones(len(bar_ts), dtype=bool)

    fast = fastpath.FastPath(PAIRS, Touch(), 1000.0, 30, 1e6, LEVELS, ExecutionConfig())
    assert not fast.compiled
