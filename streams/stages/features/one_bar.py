"""Every pair's rolling features for one new bar each, computed for all pairs at once (the live case).

In live trading a batch holds one minute: at most one bar per pair. :func:`pair_step` then runs a
dozen numpy calls on length-1 arrays per pair; here the pairs' states are stacked into arrays of
shape (P, ...) and each formula runs once over the P pairs. Every value is computed by the same
elementwise operations, in the same order, as :func:`pair_step` on a one-bar input (the window sums
through :func:`last_window_sums`, which reproduces :func:`window_sums`' summation order; the median
and ranks by sorting and counting, which are exact), so outputs and the next states are
bit-identical to the per-pair path (``tests/unit/stages/features/test_one_bar.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, I64, MINUTE_MS
from streams.stages.features.config import FeaturesConfig
from streams.stages.features.pair_step import PairInput
from streams.stages.features.sessions import SessionStats
from streams.stages.features.state import PairState
from streams.stages.features.windows import last_window_sums


@dataclass(frozen=True)
class _Stack:
    n: I64
    seg: I64
    last_ts: I64
    last_mid: F64
    gkv: F64
    mid: F64
    spread: F64
    disp: F64
    ref: F64
    days: I64
    cur: I64
    cur_sum: F64
    cur_cnt: I64


def _stack(states: list[PairState]) -> _Stack:
    ses = [s.session for s in states]
    return _Stack(
        n=np.array([s.n for s in states], dtype=np.int64),
        seg=np.array([s.seg for s in states], dtype=np.int64),
        last_ts=np.array([s.last_ts for s in states], dtype=np.int64),
        last_mid=np.array([s.last_mid for s in states], dtype=np.float64),
        gkv=np.stack([s.gkv_tail for s in states]),
        mid=np.stack([s.mid_tail for s in states]),
        spread=np.stack([s.spread_tail for s in states]),
        disp=np.stack([s.disp_tail for s in states]),
        ref=np.stack([s.ref for s in ses]),
        days=np.stack([s.days for s in ses]),
        cur=np.array([s.cur for s in ses], dtype=np.int64),
        cur_sum=np.array([s.cur_sum for s in ses], dtype=np.float64),
        cur_cnt=np.array([s.cur_cnt for s in ses], dtype=np.int64),
    )


def fits(states: list[PairState], cfg: FeaturesConfig) -> bool:
    """Return True when every state's tails have the lengths ``cfg``'s windows give new states."""
    want = (cfg.vol_window - 1, cfg.disp_window - 1, cfg.spread_window, cfg.pct_window - 1)
    return all(
        (len(s.gkv_tail), len(s.mid_tail), len(s.spread_tail), len(s.disp_tail)) == want for s in states
    )


def _shift(tail: F64, new: F64) -> F64:
    out = np.concatenate([tail[:, 1:], new[:, None]], axis=1)
    out.flags.writeable = False
    return out


def _window_mean(tail: F64, new: F64, n: I64) -> F64:
    w = tail.shape[1] + 1
    series = np.nan_to_num(np.concatenate([tail, new[:, None]], axis=1), nan=0.0)
    return last_window_sums(series, n % w) / w


def _pct(disp_tail: F64, disp: F64, seg: I64, warmup: int) -> F64:
    m = disp_tail.shape[1] + 1
    series = np.concatenate([disp_tail, disp[:, None]], axis=1)
    cur = series[:, -1:]
    less = np.count_nonzero(series < cur, axis=1)
    ties = np.count_nonzero(series == cur, axis=1)  # NaN or inf current: masked below
    pct = (less + 0.5 * (ties - 1)) / (m - 1)
    ok = (seg >= warmup + m - 1) & (np.isfinite(series).sum(axis=1) == m)
    return np.where(ok, pct, np.nan)


def _spread_widening(tail: F64, spread: F64, seg: I64) -> F64:
    w = tail.shape[1]
    ordered = np.sort(tail, axis=1)
    med = 0.5 * (ordered[:, (w - 1) // 2] + ordered[:, w // 2])
    ok = (seg > w) & (med > 0)
    return np.where(ok, spread / np.where(ok, med, 1.0), np.nan)


def _sessions(st: _Stack, bars: PairInput, gk_vol: F64, seg: I64, cfg: FeaturesConfig) -> tuple[_Stack, F64]:
    rows = np.arange(len(seg))
    start = (bars.sid != st.cur) | (seg == 1)
    fold = start & (st.cur >= 0) & (st.cur_cnt >= cfg.session_min_bars)
    ref, days = st.ref.copy(), st.days.copy()
    f, c = rows[fold], st.cur[fold]
    mean = st.cur_sum[fold] / st.cur_cnt[fold]
    old = ref[f, c]
    ref[f, c] = np.where(days[f, c] == 0, mean, old + cfg.session_alpha * (mean - old))
    days[f, c] += 1
    cur = np.where(start, bars.sid, st.cur)
    r, d = ref[rows, cur], days[rows, cur]
    ok = (d >= cfg.session_min_days) & (r > 0)
    out = np.where(ok, gk_vol / np.sqrt(np.where(ok, r, 1.0)), np.nan)
    total = np.where(start, 0.0, st.cur_sum) + bars.gkv
    count = np.where(start, 0, st.cur_cnt) + 1
    ref.flags.writeable = False
    days.flags.writeable = False
    return replace(st, ref=ref, days=days, cur=cur, cur_sum=total, cur_cnt=count), out


def _unstack(st: _Stack) -> list[PairState]:
    cols = [a.tolist() for a in (st.n, st.seg, st.last_ts, st.last_mid, st.cur, st.cur_sum, st.cur_cnt)]
    return [
        PairState(
            n=n,
            seg=seg,
            last_ts=ts,
            last_mid=mid,
            gkv_tail=st.gkv[i],
            mid_tail=st.mid[i],
            spread_tail=st.spread[i],
            disp_tail=st.disp[i],
            session=SessionStats(ref=st.ref[i], days=st.days[i], cur=cur, cur_sum=total, cur_cnt=cnt),
        )
        for i, (n, seg, ts, mid, cur, total, cnt) in enumerate(zip(*cols, strict=True))
    ]


def one_bar_step(
    states: list[PairState], bars: PairInput, cfg: FeaturesConfig
) -> tuple[list[PairState], dict[str, npt.NDArray]]:
    """Compute the rolling features of one new bar for each of P pairs and their next states.

    Parameters
    ----------
    states : list of PairState, length P
        Each pair's state before its bar; their tails must :func:`fits` ``cfg``.
    bars : PairInput
        Columns of shape (P,): row i is the new bar of ``states[i]``'s pair.

    Returns
    -------
    (list of PairState, dict)
        The next states and the columns of :func:`pair_step`, each shape (P,); equal, bit for bit,
        to ``pair_step`` called on each pair with its one bar.
    """
    st = _stack(states)
    gap = np.where(st.last_ts < 0, 0, (bars.ts - st.last_ts) // MINUTE_MS).astype(np.int64)
    seg = np.where((gap > cfg.max_gap_min) | (st.last_ts < 0), 1, st.seg + 1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ret = np.where(gap == 1, np.log(bars.mid / st.last_mid), np.nan)
    vw, dw = cfg.vol_window, cfg.disp_window
    mean_gkv = _window_mean(st.gkv, bars.gkv, st.n)
    gk_vol = np.where(seg >= vw, np.sqrt(np.maximum(mean_gkv, 0.0)), np.nan)
    mean_mid = _window_mean(st.mid, bars.mid, st.n)
    ok = (seg >= cfg.disp_warmup) & (gk_vol > 0)
    scale = np.where(ok, mean_mid * gk_vol * np.sqrt(dw), 1.0)
    disp = np.where(ok, (bars.mid - mean_mid) / scale, np.nan)
    st, norm = _sessions(st, bars, gk_vol, seg, cfg)
    cols: dict[str, npt.NDArray] = {
        "gap_min": gap,
        "seg": seg,
        "log_ret": log_ret,
        "gk_vol": gk_vol,
        "spread_widening": _spread_widening(st.spread, bars.spread, seg),
        "displacement": disp,
        "displacement_pct": _pct(st.disp, disp, seg, cfg.disp_warmup),
        "session_vol_norm": norm,
    }
    new = _Stack(
        n=st.n + 1,
        seg=seg,
        last_ts=bars.ts.astype(np.int64),
        last_mid=bars.mid.astype(np.float64),
        gkv=_shift(st.gkv, bars.gkv),
        mid=_shift(st.mid, bars.mid),
        spread=_shift(st.spread, bars.spread),
        disp=_shift(st.disp, disp),
        ref=st.ref,
        days=st.days,
        cur=st.cur,
        cur_sum=st.cur_sum,
        cur_cnt=st.cur_cnt,
    )
    return _unstack(new), cols
