"""Configuration of the feature engineering stage (windows, thresholds, session rules)."""

from __future__ import annotations

from pydantic import Field, model_validator

from streams.core.config import StageConfig


class FeaturesConfig(StageConfig):
    """Windows and thresholds of :class:`streams.stages.features.FeaturesStage`.

    Bar windows count the pair's own bars inside the current segment (a segment starts at the pair's
    first bar and after every gap longer than ``max_gap_min``); the correlation window counts calendar
    minutes.
    """

    max_gap_min: int = Field(default=30, ge=1)
    """A gap (minutes since the pair's previous bar) above this starts a new segment: every bar window
    of the pair restarts empty, so ``ready`` is False until the windows refill (weekends always reset)."""
    vol_window: int = Field(default=30, ge=2)
    """Bars in the rolling Garman-Klass variance mean (``gk_vol``)."""
    spread_window: int = Field(default=60, ge=1)
    """Previous bars whose median spread is the baseline of ``spread_widening``."""
    disp_window: int = Field(default=60, ge=2)
    """Bars in the rolling mean of mid that ``displacement`` is measured against."""
    pct_window: int = Field(default=240, ge=2)
    """Displacement values (current included) ranked by ``displacement_pct``."""
    xcorr_window_min: int = Field(default=120, ge=2)
    """Calendar minutes ``[t - W, t - 1]`` of 1-minute returns correlated by ``xcorr`` at minute t."""
    xcorr_min_obs: int = Field(default=60, ge=3)
    """Minimum minutes in the window where both the pair's and the basket's return exist."""
    pairs: tuple[str, ...] = ()
    """Pair universe of the cross-pair basket (column order is fixed by this tuple); empty means
    ``streams.fx.pairs.KNOWN_PAIRS``. Pairs outside it get ``xcorr`` NaN and are not in any basket."""
    rollover_min: int = Field(default=60, ge=0, le=420)
    """Length of the rollover window starting at 17:00 New York time (session id 4)."""
    session_halflife_days: float = Field(default=5.0, gt=0.0)
    """Half-life, in completed occurrences of the session (about days), of the EWMA of session variance."""
    session_min_days: int = Field(default=2, ge=1)
    """Completed occurrences of a session needed before ``session_vol_norm`` is defined for it."""
    session_min_bars: int = Field(default=30, ge=1)
    """Bars an occurrence of a session needs to be folded into that session's typical variance."""

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        if self.xcorr_min_obs > self.xcorr_window_min:
            raise ValueError("xcorr_min_obs cannot exceed xcorr_window_min")
        return self

    @property
    def disp_warmup(self) -> int:
        """Segment bars needed before ``displacement`` exists."""
        return max(self.vol_window, self.disp_window)

    @property
    def warmup_bars(self) -> int:
        """Segment bars needed before every bar window is full (``ready`` can become True)."""
        return max(self.disp_warmup + self.pct_window - 1, self.spread_window + 1)

    @property
    def session_alpha(self) -> float:
        """EWMA weight of the newest completed session occurrence."""
        return float(1.0 - 0.5 ** (1.0 / self.session_halflife_days))
