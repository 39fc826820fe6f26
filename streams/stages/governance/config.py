"""Configuration of the governance & drift monitor stage (seed section 5.9).

Every window and duration is in minutes of EVENT time (bar ``ts``), so a replay and live trading take
the same decisions at the same bar. Defaults are the seed's rules: IC < 0.02 for 2 weeks -> REDUCE,
IC < 0 for 4 weeks -> DECOMMISSION, KL divergence spike -> HALT & retrain, persistent entropy spike ->
SUSPEND.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from streams.core.config import StageConfig

DAY_MIN = 1440


class KLHistogram(BaseModel):
    """A training-distribution histogram of one feature: ``len(edges) == len(counts) + 1``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edges: tuple[float, ...]
    """Strictly increasing bin edges; values outside [edges[0], edges[-1]] fall in the outer bins."""
    counts: tuple[float, ...]
    """Training counts (or probabilities) per bin."""

    @model_validator(mode="after")
    def _check(self) -> KLHistogram:
        if len(self.edges) != len(self.counts) + 1 or len(self.counts) < 2:
            raise ValueError("a histogram needs >= 2 bins and len(edges) == len(counts) + 1")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("histogram edges must be strictly increasing")
        if any(c < 0 for c in self.counts) or sum(self.counts) <= 0:
            raise ValueError("histogram counts must be >= 0 with a positive total")
        return self


class GovernanceConfig(StageConfig):
    """Drift-monitor windows and thresholds (all durations in event-time minutes)."""

    eval_interval_min: int = 60
    """IC and KL are evaluated, and a governance snapshot is emitted, at every multiple of this (UTC)."""
    ic_window_min: int = 30 * DAY_MIN
    """Rolling IC window: observations whose realized return became known within it."""
    ic_min_obs: int = 500
    """Fewer observations in the window give IC = NaN (no evidence: IC streaks reset)."""
    ic_universe: Literal["all", "passed"] = "all"
    """'all': every ready signal with a direction; 'passed': only signals that passed the entry gates."""
    resolve_max_lag_min: int = 5
    """A signal whose first bar at/after ts + horizon arrives later than this is dropped (gap)."""
    reduce_ic: float = 0.02
    reduce_after_min: int = 14 * DAY_MIN
    """IC < reduce_ic at every evaluation for this long -> REDUCE."""
    reduce_scale: float = 0.5
    """Allocation multiplier while REDUCED."""
    recover_ic: float = 0.02
    recover_after_min: int = 7 * DAY_MIN
    """REDUCED lifts (RESUME) once IC >= recover_ic at every evaluation for this long."""
    decommission_ic: float = 0.0
    decommission_after_min: int = 28 * DAY_MIN
    """IC < decommission_ic for this long -> DECOMMISSION (terminal until an operator RESUME)."""
    kl_features: tuple[str, ...] = (
        "spread_widening",
        "tick_velocity",
        "displacement",
        "displacement_pct",
        "xcorr",
    )
    """Features compared with the training distribution (those present in the reference are used).
    Scale-free features whose daily distribution is stable when nothing has changed; slow volatility-
    state variables (gk_vol, session_vol_norm) are left out on purpose: their daily histogram differs
    from the pooled training one in every ordinary vol regime (measured: KL 0.25 for session_vol_norm
    on the first days after training on the same synthetic market), and vol regimes are the regime
    classifier's job, not a reason to halt and retrain."""
    kl_window_min: int = DAY_MIN
    """Live histogram window."""
    kl_threshold: float = 1.0
    """KL(live || training) in nats above which the distribution has shifted (max over features). A
    *spike*: quantised features (modelled spreads sit on a few values) put whole bins' mass on one side
    of an edge, so ordinary days reach 0.4 (measured on the synthetic market one day after training),
    while a crisis-style 5-20x spread widening moves nearly all mass to the top bin (KL > 2)."""
    kl_after_min: int = 0
    """KL above threshold for this long -> HALT & retrain (0: at the first evaluation above it)."""
    kl_min_count: int = 200
    """A feature needs this many live values in the window to be scored."""
    kl_smoothing: float = 0.5
    """Additive pseudo-count per bin on both histograms (Jeffreys prior): empty bins stay finite."""
    kl_reference: dict[str, KLHistogram] = {}
    """Training histograms per feature; empty: use a model artifact's metadata or the constructor's."""
    kl_reference_artifact: str = ""
    """Artifact directory (models/artifacts) whose meta params/metrics hold ``feature_histograms``."""
    kl_from_regime_model: bool = True
    """When no reference is configured, the DAG compares live features with the regime model's training
    distribution (its artifact stores ``feature_histograms``)."""
    entropy_window_min: int = 60
    """Rolling average of regime entropy (all pairs) over this window."""
    entropy_threshold: float = 0.9
    """Rolling average entropy (nats; ln 3 = 1.0986 is the maximum) above which it is a spike."""
    entropy_after_min: int = 30
    """Rolling average above the threshold at every evaluation for this long -> SUSPEND."""
    entropy_resume_threshold: float = 0.9
    entropy_resume_after_min: int = 60
    """SUSPENDED lifts (RESUME) after the average stays <= entropy_resume_threshold this long."""

    @model_validator(mode="after")
    def _check(self) -> GovernanceConfig:
        if self.eval_interval_min <= 0 or self.entropy_window_min <= 0:
            raise ValueError("eval_interval_min and entropy_window_min must be positive")
        if self.decommission_ic > self.reduce_ic:
            raise ValueError("decommission_ic must be <= reduce_ic")
        if self.entropy_resume_threshold > self.entropy_threshold:
            raise ValueError("entropy_resume_threshold must be <= entropy_threshold")
        if not 0.0 <= self.reduce_scale <= 1.0:
            raise ValueError("reduce_scale must be in [0, 1]")
        return self
