"""KL spike -> HALT on a shifted feature distribution only; persistent entropy spike -> SUSPEND, then RESUME."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy as scipy_kl

from streams.stages.governance import GovernanceConfig, GovernanceStage, KLReference, histograms_from_samples
from streams.stages.governance.kl import bin_index, kl_divergence
from tests.kit.runner import run
from tests.kit.signals import DAY, MIN, signals


def _reference(seed: int = 0) -> KLReference:
    train = np.random.default_rng(seed).normal(size=50_000)
    return KLReference.from_histograms(histograms_from_samples({"displacement": train}, n_bins=20))


def _with_displacement(sig, shift_after_day: float, shift: float, seed: int = 1):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=sig.n) + np.where(sig["ts"] >= sig["ts"][0] + shift_after_day * DAY, shift, 0.0)
    return sig.with_columns(displacement=d)


def _govern(sig, cfg, ref):
    return run(GovernanceStage(cfg, reference=ref), [("signals", sig)])[1]


def test_kl_divergence_matches_scipy_and_stays_finite_with_empty_bins() -> None:
    live, ref = np.array([0, 5, 10, 0]), np.array([4, 4, 0, 2])
    p, q = (live + 0.5) / (live.sum() + 2), (ref + 0.5) / (ref.sum() + 2)
    assert np.isclose(kl_divergence(live, ref, 0.5), scipy_kl(p, q))
    assert np.isfinite(kl_divergence(live, ref, 0.5))
    assert kl_divergence(ref, ref, 0.5) == 0.0
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    assert list(bin_index(np.array([-5.0, 0.5, 1.0, 2.99, 9.0]), edges)) == [0, 0, 1, 2, 2]


def test_kl_spike_halts_on_shifted_features_only() -> None:
    cfg = GovernanceConfig(kl_features=("displacement",), kl_threshold=0.25)
    ref = _reference()
    base = signals(6, step_min=1, seed=3)
    calm = _govern(_with_displacement(base, 99, 0.0), cfg, ref)
    assert "HALT" not in set(calm["control"]["action"])
    assert np.nanmax(calm["governance"]["kl_divergence"]) < 0.05
    shifted = _govern(_with_displacement(base, 3, 1.5), cfg, ref)
    halts = shifted["control"]["ts"][shifted["control"]["action"] == "HALT"]
    assert halts.size == 1
    # independent: the first hour whose trailing-day window holds enough shifted values for KL > 0.25
    sig = _with_displacement(base, 3, 1.5)
    df = pd.DataFrame({"ts": sig["ts"], "d": sig["displacement"]})
    edges = ref.edges[0]
    t_exp = None
    for t in range(int(df.ts[0]) // 3_600_000 * 3_600_000 + 3_600_000, int(df.ts.max()) + 1, 3_600_000):
        w = df.d[(df.ts >= t - DAY) & (df.ts < t)].to_numpy()
        counts = np.histogram(np.clip(w, edges[0], edges[-1]), bins=edges)[0]
        p = (counts + 0.5) / (counts.sum() + 0.5 * counts.size)
        q = (ref.counts[0] + 0.5) / (ref.counts[0].sum() + 0.5 * counts.size)
        if w.size >= 200 and scipy_kl(p, q) > 0.25:
            t_exp = t
            break
    assert t_exp is not None
    assert int(halts[0]) == t_exp
    gs = shifted["signals.governed"]
    assert set(gs["gov_state"][gs["ts"] >= t_exp]) == {"HALTED"}
    assert set(gs["alloc_scale"][gs["ts"] >= t_exp]) == {0.0}
    assert set(gs["gov_state"][gs["ts"] < t_exp]) == {"NORMAL"}


def test_persistent_entropy_spike_suspends_then_resumes() -> None:
    sig = signals(1, pairs=("EURUSD",), step_min=1, seed=0)
    minute = (sig["ts"] - sig["ts"][0]) // MIN
    e = np.where((minute >= 300) & (minute < 500), 1.05, 0.5)
    e = np.where((minute >= 100) & (minute < 115), 1.05, e)  # short blip: not persistent
    sig = sig.with_columns(entropy=e)
    cfg = GovernanceConfig(
        entropy_window_min=60,
        entropy_threshold=0.9,
        entropy_after_min=30,
        entropy_resume_threshold=0.9,
        entropy_resume_after_min=60,
    )
    out = _govern(sig, cfg, None)
    # independent: pandas time-based rolling mean, evaluated at the end of every minute
    s = pd.Series(e, index=pd.to_datetime(sig["ts"], unit="ms")).rolling("60min").mean()
    t_eval = sig["ts"] + MIN
    above = pd.Series(s.to_numpy() > 0.9, index=t_eval)
    t_susp = _first_held(above, 30)
    t_res = _first_held(~above & (above.index > t_susp), 60)
    ctl = out["control"]
    assert list(zip(ctl["action"], ctl["ts"], strict=True)) == [("SUSPEND", t_susp), ("RESUME", t_res)]
    # by hand: (1.05 k + 0.5 (60 - k)) / 60 > 0.9 needs k >= 44 spike minutes: minute 343 closes at 344
    assert t_susp == sig["ts"][0] + (344 + 30) * MIN
    gs = out["signals.governed"]
    assert set(gs["gov_state"][(gs["ts"] >= t_susp) & (gs["ts"] < t_res)]) == {"SUSPENDED"}
    assert set(gs["alloc_scale"][(gs["ts"] >= t_susp) & (gs["ts"] < t_res)]) == {0.0}
    assert set(gs["gov_state"][gs["ts"] >= t_res]) == {"NORMAL"}


def _first_held(cond: pd.Series, minutes: int) -> int:
    run = (cond != cond.shift()).cumsum()
    start = pd.Series(cond.index, index=cond.index).groupby(run).transform("min")
    fired = cond & (cond.index - start >= minutes * MIN)
    return int(fired.idxmax())
