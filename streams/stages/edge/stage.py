"""Edge engine stage: ``regime.adjusted`` -> ``signals``.

Per bar and pair: the edge model's conditional statistics of the mean-reversion trade over
``horizon_min`` (expected return, win probability, 5 % CVaR, effective sample size), the round-trip
cost estimate, the OU governance annotation (rolling theta, half-life, validity) and the entry gates
(:mod:`streams.stages.edge.gates`). The side is the proposed mean-reversion direction,
``-sign(displacement)``, whether or not the gates pass; only ``passed`` rows are entry candidates.

The model is a fitted :class:`models.edge.EdgeModel`, given to the constructor or loaded once from
``EdgeConfig.model_path`` by the DAG factory; without one every bar is blocked by ``warmup``.
State is the OU window history per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from streams.core.batch import Batch
from streams.core.config import StageConfig
from streams.core.stage import Outputs, StageSpec
from streams.stages.edge.gates import blocked_labels, round_trip_cost
from streams.stages.edge.ou import (
    MAX_WINDOW,
    OUFit,
    OUHistory,
    empty_history,
    ou_update,
    ou_update_one_bar,
)
from streams.stages.edge.targets import trade_side

MODEL_FEATURES = ("displacement_pct", "session_vol_norm", "spread_widening", "session_id")


class EdgeConfig(StageConfig):
    """Edge engine and OU governance settings (fractional returns unless stated)."""

    horizon_min: int = Field(default=30, ge=1)
    """Holding horizon of the mean-reversion trade, minutes (must equal the model's)."""
    model_path: str = "models/artifacts/edge/latest"
    """Edge model artifact (``hslr train edge``); empty: no model, every bar blocked by warmup."""
    safety_factor: float = Field(default=1.5, ge=0.0)
    """Gate cost: expected_return must exceed cost times this."""
    spread_factor: float = Field(default=1.0, ge=0.0)
    """Spreads paid per round trip (half at entry + half at exit = 1)."""
    commission_bps: float = Field(default=0.2, ge=0.0)
    """Commission per leg, basis points of notional."""
    slippage_bps: float = Field(default=0.1, ge=0.0)
    """Expected slippage per leg, basis points."""
    min_win_prob: float = Field(default=0.55, ge=0.0, le=1.0)
    """Gate win_prob: the win probability must exceed this."""
    cvar_limit: float = Field(default=0.0025, gt=0.0)
    """Gate cvar: the 5 % CVaR must be >= -cvar_limit (25 bp)."""
    ou_window: int = Field(default=720, ge=3, le=MAX_WINDOW)
    """OU estimation window, bars of the pair."""
    ou_min_points: int = Field(default=120, ge=3)
    """Fewest one-minute transitions in the window for a valid OU estimate."""
    ou_min_t_stat: float = Field(default=2.86, ge=0.0)
    """Smallest Dickey-Fuller statistic (1 - b) / se(b) for a valid estimate (5 % critical value)."""
    max_half_life_min: float = Field(default=120.0, gt=0.0, allow_inf_nan=True)  # inf: no limit
    """Gate ou_slow: half-lives above this block new entries (math.inf: never)."""
    block_invalid_ou: bool = True
    """Gate ou_slow also blocks bars whose OU estimate is not valid."""
    method: Literal["knn", "kde"] = "knn"
    """Training: neighbour weighting of the edge model. KNN is the default on evidence
    (bench/bench_edge.py, synthetic market, 6 weeks train / 2 weeks held out, seeds 7 and 11): KNN
    IC 0.116 / 0.186 vs KDE 0.109 / 0.177, KNN Brier below the constant-rate baseline, KDE's not."""
    n_neighbors: int = Field(default=300, ge=10)
    """Training: neighbours per query."""
    bandwidth: float = Field(default=0.03, gt=0.0)
    """Training: KDE kernel width, weighted quantile units."""
    feature_weights: tuple[float, float, float] = (1.0, 0.5, 0.5)
    """Training: distance weights of displacement_pct, session_vol_norm, spread_widening."""
    min_session_rows: int = Field(default=2000, ge=1)
    """Training: rows a session needs for its own neighbour index (exact session match)."""
    train_only_ready: bool = True
    """Training: fit only on bars whose features are ready."""
    execution_priced: bool = True
    """Training: fit the execution-priced model (:mod:`models.exec_edge`: P(fill) of the router's
    passive limit, adverse selection, passive exit cost, per pair, CV-chosen and calibrated); False: the
    mid-to-mid model gated on a full spread crossing (``spread_factor``)."""
    require_skill: bool = True
    """Gate no_skill: block pairs whose execution-priced model failed its in-window skill check
    (False only for diagnostics, e.g. validating the fill model against the broker's own orders)."""
    exit_reposts: int = Field(default=10, ge=1)
    """Training (execution-priced): re-pricings of the passive exit before the model assumes a crossing."""
    cv_blocks: int = Field(default=3, ge=2)
    """Training (execution-priced): purged time blocks of the in-window cross-validation."""
    cv_candidates: tuple[tuple[str, int, float], ...] = ()
    """Training (execution-priced): (method, k, bandwidth) tried per pair; empty: the default four."""


@dataclass(frozen=True)
class EdgeState:
    ou: dict[str, OUHistory] = field(default_factory=dict)
    """OU window history per pair."""


class EdgeStage:
    """Edge engine + OU governance; see the module docstring."""

    def __init__(self, config: EdgeConfig | None = None, model: Any | None = None) -> None:
        self.config = config or EdgeConfig()
        self.spec = StageSpec("edge", ("regime.adjusted",), ("signals",))
        if (
            model is not None
            and getattr(model, "horizon_min", self.config.horizon_min) != self.config.horizon_min
        ):
            raise ValueError(
                f"model horizon {model.horizon_min} min != config horizon {self.config.horizon_min} min"
            )
        self.model = model

    def initial_state(self) -> EdgeState:
        return EdgeState()

    def _ou(self, state: EdgeState, batch: Batch) -> tuple[EdgeState, OUFit]:
        c = self.config
        n = batch.n
        fit = OUFit(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool), np.zeros(n, np.int64))
        hist = dict(state.ou)
        if n == 0:
            return state, fit
        pairs, codes = np.unique(batch["pair"].astype(str), return_inverse=True)
        order = np.argsort(codes, kind="stable")
        if len(pairs) == n:  # one bar per pair (live): all pairs at once, same bits
            new, f = ou_update_one_bar(
                [hist.get(p, empty_history()) for p in pairs.tolist()],
                batch["displacement"][order],
                batch["gap_min"][order],
                c.ou_window,
                c.ou_min_points,
                c.ou_min_t_stat,
            )
            hist.update(zip(pairs.tolist(), new, strict=True))
            return EdgeState(hist), OUFit(f.theta[codes], f.half_life_min[codes], f.valid[codes], f.n[codes])
        for p, rows in zip(pairs.tolist(), np.split(order, np.cumsum(np.bincount(codes))[:-1]), strict=True):
            hist[p], f = ou_update(
                hist.get(p, empty_history()),
                batch["displacement"][rows],
                batch["gap_min"][rows],
                c.ou_window,
                c.ou_min_points,
                c.ou_min_t_stat,
            )
            fit.theta[rows], fit.half_life_min[rows], fit.valid[rows], fit.n[rows] = (
                f.theta,
                f.half_life_min,
                f.valid,
                f.n,
            )
        return EdgeState(hist), fit

    def _stats(self, batch: Batch) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(stats (n, 4), model cost or None, skill-ok mask) of the batch's rows."""
        ok = np.ones(batch.n, dtype=bool)
        if self.model is None or batch.n == 0:
            return np.full((batch.n, 4), np.nan), None, ok
        X = np.stack([batch[k].astype(np.float64) for k in MODEL_FEATURES], axis=1)
        if getattr(self.model, "predicts_execution", False):
            p = self.model.predict_execution(X, batch["pair"])
            stats = np.stack([p[k] for k in ("expected_return", "win_prob", "cvar", "n_eff")], axis=1)
            return stats, p["cost"], p["trade_ok"] > 0.5
        return np.asarray(self.model.predict_stats(X), dtype=np.float64), None, ok

    def process(self, state: EdgeState, topic: str, batch: Batch) -> tuple[EdgeState, Outputs]:
        c = self.config
        new_state, ou = self._ou(state, batch)
        stats, model_cost, skill_ok = self._stats(batch)
        er, wp, cvar, n_eff = stats.T
        cost = (
            round_trip_cost(batch["spread"], batch["mid"], c.spread_factor, c.commission_bps, c.slippage_bps)
            if model_cost is None
            else model_cost
        )
        side = trade_side(batch["displacement"])
        have = np.isfinite(er) & np.isfinite(wp) & np.isfinite(cvar)
        passed, blocked_by = blocked_labels(
            {
                "warmup": ~batch["ready"].astype(bool) | ~have | (side == 0),
                "no_skill": have & ~skill_ok & c.require_skill,
                "regime": ~batch["tradeable"].astype(bool),
                "news": batch["event_override"].astype(bool),
                "surprise": batch["surprise_mode"] != 0,
                "cost": have & ~(er > cost * c.safety_factor),
                "win_prob": have & ~(wp > c.min_win_prob),
                "cvar": have & ~(cvar >= -c.cvar_limit),
                "ou_slow": (ou.half_life_min > c.max_half_life_min) | (c.block_invalid_ou & ~ou.valid),
            },
            batch.n,
        )
        out = batch.with_columns(
            horizon_min=np.full(batch.n, c.horizon_min, dtype=np.int32),
            expected_return=er,
            win_prob=wp,
            cvar=cvar,
            n_eff=n_eff,
            cost=cost,
            side=side.astype(np.int32),
            passed=passed,
            blocked_by=blocked_by,
            ou_theta=ou.theta,
            half_life_min=ou.half_life_min,
            ou_valid=ou.valid,
        )
        return new_state, {"signals": out}
