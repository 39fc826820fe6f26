"""IC decay on a replay where the edge is destroyed: REDUCE then DECOMMISSION at independently computed times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streams.stages.governance import GovernanceConfig, GovernanceStage
from tests.kit.signals import DAY, MIN, signals

HOUR = 60 * MIN


def reference_ic(sig) -> pd.DataFrame:
    """Brute force: at each hour T, Pearson corr of every observation resolved in [T - 30 d, T)."""
    df = pd.DataFrame(
        {"pair": sig["pair"], "ts": sig["ts"], "x": sig["expected_return"], "y": sig["realized"]}
    )
    step = int(np.diff(np.unique(df.ts))[0])
    df["resolved"] = df.ts + step
    df = df[df.resolved <= df.ts.max()].sort_values("resolved", kind="stable")  # last bars never resolve
    res, x, y = df.resolved, df.x.to_numpy(), df.y.to_numpy()
    rows = []
    for t in range((int(sig["ts"][0]) // HOUR + 1) * HOUR, int(sig["ts"].max()) + 1, HOUR):
        lo, hi = res.searchsorted(t - 30 * DAY, "left"), df.resolved.searchsorted(t, "left")
        rows.append((t, _corr(x[lo:hi], y[lo:hi]) if hi - lo >= 500 else np.nan, hi - lo))  # [t - 30 d, t)
    return pd.DataFrame(rows, columns=["t", "ic", "n"]).set_index("t")


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Sample Pearson correlation straight from its definition (two-pass, raw observations)."""
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / np.sqrt((dx * dx).sum() * (dy * dy).sum()))


def first_persistent(cond: pd.Series, days: float) -> int | None:
    """First evaluation time at which ``cond`` has held at every evaluation for ``days``."""
    run = (cond != cond.shift()).cumsum()
    start = pd.Series(cond.index, index=cond.index).groupby(run).transform("min")
    fired = cond & (cond.index - start >= days * DAY)
    return int(fired.idxmax()) if fired.any() else None


def run_stage(sig, cfg=None):
    stage = GovernanceStage(cfg or GovernanceConfig())
    state, out = stage.process(stage.initial_state(), "signals", sig)
    return state, out


@pytest.fixture(scope="module")
def inverted():
    sig = signals(105, rho=(0.3, -0.12), break_day=35, seed=11)
    return sig, run_stage(sig)[1], reference_ic(sig)


def test_ic_snapshots_equal_brute_force_pandas(inverted) -> None:
    _, out, ref = inverted
    gov = out["governance"]
    snap = (
        pd.DataFrame({"t": gov["ts"], "ic": gov["ic"], "n": gov["n_ic"]}).drop_duplicates("t").set_index("t")
    )
    assert list(snap.index) == list(ref.index)
    assert (snap.n == ref.n).all()
    np.testing.assert_allclose(snap.ic, ref.ic, rtol=0, atol=1e-10)
    assert ref.ic.iloc[-1] < 0 < ref.ic.loc[ref.index[24 * 30]]  # the edge was there, then inverted


def test_edge_destroyed_reduce_then_decommission_at_reference_times(inverted) -> None:
    _, out, ref = inverted
    t_reduce = first_persistent(ref.ic < 0.02, 14)
    t_decom = first_persistent(ref.ic < 0.0, 28)
    assert t_reduce is not None
    assert t_decom is not None
    assert t_reduce < t_decom
    ctl = out["control"]
    assert list(ctl["action"]) == ["REDUCE", "DECOMMISSION"]
    assert list(ctl["ts"]) == [t_reduce, t_decom]
    assert list(ctl["scale"]) == [0.5, 0.0]
    assert len(set(ctl["command_id"])) == 2
    gs = out["signals.governed"]
    ts = gs["ts"]
    assert set(gs["gov_state"][ts < t_reduce]) == {"NORMAL"}
    assert set(gs["alloc_scale"][ts < t_reduce]) == {1.0}
    assert set(gs["gov_state"][(ts >= t_reduce) & (ts < t_decom)]) == {"REDUCED"}
    assert set(gs["alloc_scale"][(ts >= t_reduce) & (ts < t_decom)]) == {0.5}
    assert set(gs["gov_state"][ts >= t_decom]) == {"DECOMMISSIONED"}
    assert set(gs["alloc_scale"][ts >= t_decom]) == {0}


def test_shuffled_edge_reduces_at_reference_time() -> None:
    sig = signals(100, rho=(0.3, 0.3), break_day=30, shuffle_after=True, seed=5)
    ref = reference_ic(sig)
    t_reduce = first_persistent(ref.ic < 0.02, 14)
    t_decom = first_persistent(ref.ic < 0.0, 28)
    assert t_reduce is not None
    ctl = run_stage(sig)[1]["control"]
    expected = [("REDUCE", t_reduce)] + ([("DECOMMISSION", t_decom)] if t_decom else [])
    assert list(zip(ctl["action"], ctl["ts"], strict=True)) == expected


def test_intact_edge_never_triggers() -> None:
    out = run_stage(signals(45, rho=(0.3, 0.3), seed=2))[1]
    assert out["control"].n == 0
    assert set(out["signals.governed"]["gov_state"]) == {"NORMAL"}


def test_reduce_recovers_after_configured_period() -> None:
    # edge gone for 10 days, then back: with short windows REDUCE fires and later lifts
    late = signals(30, rho=(0.0, 0.4), break_day=12, seed=4)
    cfg = GovernanceConfig(
        ic_window_min=2 * 1440,
        reduce_after_min=1440,
        recover_after_min=2 * 1440,
        decommission_after_min=100 * 1440,
        ic_min_obs=100,
    )
    ref = reference_ic_window(late, 2)
    out = run_stage(late, cfg)[1]
    t_reduce = first_persistent(ref.ic < 0.02, 1)
    assert t_reduce is not None
    rec_cond = (ref.ic >= 0.02) & (ref.index > t_reduce)
    t_rec = first_persistent(rec_cond, 2)
    assert list(zip(out["control"]["action"], out["control"]["ts"], strict=True)) == [
        ("REDUCE", t_reduce),
        ("RESUME", t_rec),
    ]
    assert list(out["control"]["scale"]) == [0.5, 1.0]


def reference_ic_window(sig, days: int) -> pd.DataFrame:
    df = pd.DataFrame({"ts": sig["ts"], "x": sig["expected_return"], "y": sig["realized"]})
    step = int(np.diff(np.unique(df.ts))[0])
    df["resolved"] = df.ts + step
    df = df[df.resolved <= df.ts.max()].sort_values("resolved", kind="stable")
    rows = []
    for t in range((int(sig["ts"][0]) // HOUR + 1) * HOUR, int(sig["ts"].max()) + 1, HOUR):
        w = df.iloc[df.resolved.searchsorted(t - days * DAY, "left") : df.resolved.searchsorted(t, "left")]
        rows.append((t, _corr(w.x.to_numpy(), w.y.to_numpy()) if len(w) >= 100 else np.nan))
    return pd.DataFrame(rows, columns=["t", "ic"]).set_index("t")
