"""State of the feature stage: fixed-size tails per pair plus the cross-pair return window."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.core.units import F64
from streams.stages.features.config import FeaturesConfig
from streams.stages.features.correlation import XcorrState
from streams.stages.features.sessions import SessionStats
from streams.stages.features.windows import empty_tail


@dataclass(frozen=True)
class PairState:
    """One pair's history, just long enough for every bar window (read-only arrays, oldest first)."""

    n: int
    """Bars of the pair seen so far (absolute position of the next bar)."""
    seg: int
    """Position of the last bar in its segment (0 before any bar)."""
    last_ts: int
    """Open time (ms UTC) of the last bar, -1 before any."""
    last_mid: float
    """Mid of the last bar."""
    gkv_tail: F64
    """GK variances of the last ``vol_window - 1`` bars."""
    mid_tail: F64
    """Mids of the last ``disp_window - 1`` bars."""
    spread_tail: F64
    """Spreads of the last ``spread_window`` bars."""
    disp_tail: F64
    """Displacements of the last ``pct_window - 1`` bars."""
    session: SessionStats = field(default_factory=SessionStats)

    @classmethod
    def initial(cls, cfg: FeaturesConfig) -> PairState:
        """Return the state of a pair never seen, with NaN tails sized for ``cfg``'s windows."""
        return cls(
            n=0,
            seg=0,
            last_ts=-1,
            last_mid=float("nan"),
            gkv_tail=empty_tail(cfg.vol_window - 1),
            mid_tail=empty_tail(cfg.disp_window - 1),
            spread_tail=empty_tail(cfg.spread_window),
            disp_tail=empty_tail(cfg.pct_window - 1),
        )


@dataclass(frozen=True)
class FeaturesState:
    """Per-pair histories and the universe's last minutes of returns."""

    pairs: dict[str, PairState]
    xcorr: XcorrState
