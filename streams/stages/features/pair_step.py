"""One pair's features for the new bars of a batch: the vectorised per-pair path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from streams.core.units import F64, I32, I64
from streams.stages.features.config import FeaturesConfig
from streams.stages.features.displacement import displacement, displacement_pct
from streams.stages.features.returns import gap_minutes, log_returns, segment_positions
from streams.stages.features.sessions import session_vol_norm
from streams.stages.features.state import PairState
from streams.stages.features.volatility import rolling_gk_vol, spread_widening
from streams.stages.features.windows import new_tail


@dataclass(frozen=True)
class PairInput:
    """The stateless columns of one pair's new bars, each shape (k,), in time order."""

    ts: I64
    mid: F64
    spread: F64
    gkv: F64
    sid: I32


def pair_step(
    state: PairState, bars: PairInput, cfg: FeaturesConfig
) -> tuple[PairState, dict[str, npt.NDArray]]:
    """Compute one pair's rolling features for its new bars and its next state.

    Returns
    -------
    (PairState, dict)
        Columns ``gap_min``, ``seg``, ``log_ret``, ``gk_vol``, ``spread_widening``, ``displacement``,
        ``displacement_pct``, ``session_vol_norm``, each shape (k,).
    """
    k = len(bars.ts)
    gap = gap_minutes(bars.ts, state.last_ts)
    seg = segment_positions(gap, state.seg, state.last_ts < 0, cfg.max_gap_min)
    gk_vol = rolling_gk_vol(state.gkv_tail, bars.gkv, state.n - len(state.gkv_tail), seg, cfg.vol_window)
    disp = displacement(state.mid_tail, bars.mid, state.n - len(state.mid_tail), seg, gk_vol, cfg.disp_warmup)
    pct = displacement_pct(state.disp_tail, disp, state.n - len(state.disp_tail), seg, cfg.disp_warmup)
    session, norm = session_vol_norm(
        state.session,
        bars.sid,
        bars.gkv,
        gk_vol,
        seg == 1,
        cfg.session_alpha,
        cfg.session_min_days,
        cfg.session_min_bars,
    )
    cols: dict[str, npt.NDArray] = {
        "gap_min": gap,
        "seg": seg,
        "log_ret": log_returns(bars.mid, state.last_mid, gap),
        "gk_vol": gk_vol,
        "spread_widening": spread_widening(state.spread_tail, bars.spread, seg),
        "displacement": disp,
        "displacement_pct": pct,
        "session_vol_norm": norm,
    }
    new = PairState(
        n=state.n + k,
        seg=int(seg[-1]),
        last_ts=int(bars.ts[-1]),
        last_mid=float(bars.mid[-1]),
        gkv_tail=new_tail(state.gkv_tail, bars.gkv),
        mid_tail=new_tail(state.mid_tail, bars.mid),
        spread_tail=new_tail(state.spread_tail, bars.spread),
        disp_tail=new_tail(state.disp_tail, disp),
        session=session,
    )
    return new, cols
