"""Regime classifier stage: ``features`` → ``regime``.

Each bar gets the probability vector of (Stable_Flow, Directional_Vol, Event_Risk) from the trained
random forest (compiled, :mod:`models.forest`), its Shannon entropy in nats, the argmax regime and the
tradeable flag::

    tradeable = ready AND prob_stable > p_threshold AND entropy < entropy_threshold
                AND spread_widening <= max_spread_widening

The entropy guard blocks states the model cannot tell apart, which is how crises look to it. The spread
guard is a model-free backstop: a spread several times its recent median is a liquidity shock whatever
the forest says (a model trained on calm data may never have seen one).

Fail-safe for bars the model cannot judge: a bar with ``ready`` False (feature warm-up, refill after a
gap) gets ``prob_*`` and ``entropy`` NaN, ``regime`` "" (unclassified, never a guessed class) and
``tradeable`` False. Non-finite inputs on a ready bar (e.g. ``xcorr`` for a lone pair) take the
model's documented neutral values (:data:`models.regime.NEUTRAL`).

The stage is stateless and row-wise, hence trivially independent of batch boundaries. The model
artifact is loaded once, at construction, from ``model_path``; its feature list must equal
:data:`models.regime.MODEL_FEATURES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from models.regime import REGIMES, RegimeForestConfig, entropy, model_features
from models.regime_labels import RegimeLabelConfig
from streams.core.batch import Batch
from streams.core.config import StageConfig
from streams.core.stage import Outputs, StageSpec

KIND = "regime"


class RegimeConfig(StageConfig):
    """Regime stage and training settings (``[regime]``, ``[regime.labels]``, ``[regime.train]``)."""

    model_path: str = "models/artifacts/regime/latest"
    """Artifact directory (or ``latest`` pointer) loaded once at start; relative to the working directory."""
    p_threshold: float = Field(default=0.6, gt=0.0, lt=1.0)
    """Tradeable needs prob_stable strictly above this."""
    entropy_threshold: float = Field(default=0.85, gt=0.0, le=float(np.log(3.0)))
    """Tradeable needs entropy (nats) strictly below this; ln 3 ≈ 1.0986 is total confusion. With
    prob_stable just above 0.6 the entropy is at most 0.95, so this guard binds on its own."""
    max_spread_widening: float = Field(default=3.0, gt=1.0)
    """Tradeable needs spread_widening at most this (the Event_Risk label's spread-shock level)."""
    labels: RegimeLabelConfig = Field(default_factory=RegimeLabelConfig)
    """Labeling rule used by ``hslr train regime``."""
    train: RegimeForestConfig = Field(default_factory=RegimeForestConfig)
    """Forest hyperparameters and the out-of-sample split of ``hslr train regime``."""


@dataclass(frozen=True)
class RegimeState:
    """The stage keeps no state: every output row depends on its own input row only."""


class RegimeStage:
    """Classify each features record; see the module docstring."""

    def __init__(self, config: RegimeConfig | None = None, *, model: Any, model_version: str = "") -> None:
        """``model``: a fitted classifier (``predict_proba`` over :data:`MODEL_FEATURES`); the DAG
        factory loads it from ``[regime] model_path`` (``streams.dag``), the stage reads no file."""
        self.config = config or RegimeConfig()
        self.spec = StageSpec("regime", ("features",), ("regime",))
        self.model = model
        self.model_version = model_version

    def initial_state(self) -> RegimeState:
        return RegimeState()

    def process(self, state: RegimeState, topic: str, batch: Batch) -> tuple[RegimeState, Outputs]:
        n = batch.n
        ready = np.asarray(batch["ready"], dtype=bool) if n else np.zeros(0, dtype=bool)
        P = np.full((n, len(REGIMES)), np.nan)
        if ready.any():
            # model_features is row-wise: build it from the columns, then keep the ready rows
            # (batch.take(ready) would copy every carried column, strings included)
            P[ready] = self.model.predict_proba(model_features(batch)[ready])
        ent = entropy(P)
        regime = np.full(n, "", dtype="<U15")
        regime[ready] = np.asarray(REGIMES)[np.argmax(P[ready], axis=1)]
        cfg = self.config
        with np.errstate(invalid="ignore"):
            tradeable = (
                ready
                & (P[:, 0] > cfg.p_threshold)
                & (ent < cfg.entropy_threshold)
                & (batch["spread_widening"] <= cfg.max_spread_widening)
            )
        out = batch.with_columns(
            prob_stable=P[:, 0],
            prob_directional=P[:, 1],
            prob_event=P[:, 2],
            entropy=ent,
            regime=regime.astype(str),
            tradeable=tradeable,
            model_version=np.full(n, self.model_version),
        )
        return state, {"regime": out}
