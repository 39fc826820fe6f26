"""Execution-priced edge model: per pair, what a passive entry is worth after fills, adverse selection and exit.

Per pair, fitted on the training window only:

* a :class:`models.execution.FillModel` (P(fill) of the router's limit, exit cost, markouts per bucket);
* an :class:`models.edge.EdgeModel` (KNN or KDE on the seed's conditioning variables) of the *filled*
  trade's net return (:func:`models.execution.simulate_trades`); its hyperparameters are chosen by
  purged, blocked cross-validation inside the training window (:func:`select_config`) by the Brier
  score of the win probability, and its win probability is calibrated by isotonic regression on the
  out-of-fold predictions;
* a skill check: the chosen configuration's calibrated out-of-fold Brier score (isotonic maps fitted on
  the other blocks only) against a constant (each block's training base rate); the improvement's
  one-sided 95 % lower bound must be positive. A pair that fails it is marked ``trade_ok = False``; the
  edge stage then blocks it with the gate ``no_skill``.

Prediction (:meth:`ExecEdgeModel.predict_execution`) per row of a pair:

* ``expected_return = P(fill) * (E[net | fill] + E[exit cost | fill])`` = ``P(fill) * E[return | fill]``
  (return from the limit price to the mid at the exit decision, adverse selection included);
* ``cost = P(fill) * E[exit cost | fill]`` (the exit's expected cost, commission included);
  the gate ``expected_return > cost * safety_factor`` is the issue's ``P(fill) E[r|fill] - E[exit cost]``
  clearing the safety factor;
* ``win_prob`` = calibrated P(net > 0 | fill), ``cvar`` = 5 % CVaR of the filled trade's net return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

from models.conditional import Method
from models.edge import EdgeModel
from models.execution import FillModel

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
EPS = 1e-4
GRID_SIZES = (31, 7, 7)
"""Interpolation grid of the deployed per-pair edge models (displacement pct, vol state, stress)."""


@dataclass(frozen=True)
class EdgeCandidate:
    """One edge-model configuration tried by the cross-validation."""

    method: Method
    n_neighbors: int
    bandwidth: float = 0.05

    @property
    def name(self) -> str:
        return f"{self.method}-k{self.n_neighbors}" + (f"-bw{self.bandwidth}" if self.method == "kde" else "")


DEFAULT_CANDIDATES: tuple[EdgeCandidate, ...] = (
    EdgeCandidate("knn", 100),
    EdgeCandidate("knn", 500),
    EdgeCandidate("kde", 500, 0.05),
    EdgeCandidate("kde", 500, 0.15),
)


def brier(p: F64, win: F64) -> float:
    return float(np.mean((p - win) ** 2))


def log_loss(p: F64, win: F64) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(win * np.log(q) + (1 - win) * np.log(1 - q)))


def purged_blocks(ts: npt.NDArray[np.int64], n_blocks: int, purge_ms: int) -> list[tuple[B, B]]:
    """(train mask, test mask) per contiguous time block; training rows within ``purge_ms`` of the block dropped."""
    edges = np.quantile(ts, np.linspace(0, 1, n_blocks + 1))
    out = []
    for b in range(n_blocks):
        lo, hi = edges[b], edges[b + 1]
        test = (ts >= lo) & ((ts < hi) if b < n_blocks - 1 else (ts <= hi))
        train = (ts < lo - purge_ms) | (ts > hi + purge_ms)
        out.append((train, test))
    return out


def _model(c: EdgeCandidate, base: dict[str, Any], inference: str) -> EdgeModel:
    return EdgeModel(
        method=c.method,
        n_neighbors=c.n_neighbors,
        bandwidth=c.bandwidth,
        inference=inference,
        grid_sizes=GRID_SIZES,
        **base,
    )


def _subsample(mask: B, cap: int, rng: np.random.Generator) -> B:
    idx = np.flatnonzero(mask)
    if len(idx) <= cap:
        return mask
    keep = np.zeros_like(mask)
    keep[np.sort(rng.choice(idx, cap, replace=False))] = True
    return keep


def candidate_win_er(c: EdgeCandidate, dist: F64, ys: F64) -> tuple[F64, F64]:
    """(win probability, mean outcome) per row of one candidate from shared nearest-first neighbours."""
    d, y = dist[:, : c.n_neighbors], ys[:, : c.n_neighbors]
    if c.method == "knn":
        w = np.ones_like(d)
    else:
        w = np.exp(-0.5 * (d**2 - d[:, :1] ** 2) / c.bandwidth**2)
    w = w / w.sum(axis=1, keepdims=True)
    return (w * (y > 0)).sum(axis=1), (w * y).sum(axis=1)


def cross_validate(
    X: F64,
    y: F64,
    ts: npt.NDArray[np.int64],
    candidates: tuple[EdgeCandidate, ...],
    base: dict[str, Any],
    *,
    n_blocks: int = 3,
    purge_ms: int,
    max_test_rows: int = 4000,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Out-of-fold win probabilities of every candidate and the constant, on purged time blocks.

    One neighbour query per block (the largest ``k``) serves every candidate: KNN and the truncated KDE
    of :mod:`models.conditional` both use the ``k`` nearest rows, nearest first.
    """
    win = (y > 0).astype(np.float64)
    kmax = max(c.n_neighbors for c in candidates)
    oof: dict[str, list[F64]] = {c.name: [] for c in candidates}
    er: dict[str, list[F64]] = {c.name: [] for c in candidates}
    const, outcome, ret, block_of = [], [], [], []
    for b, (tr, te) in enumerate(purged_blocks(ts, n_blocks, purge_ms)):
        te = _subsample(te, max_test_rows, rng)
        if tr.sum() < 200 or te.sum() < 50:
            continue
        m = EdgeModel(n_neighbors=kmax, inference="exact", **base).fit(X[tr], y[tr])
        dist, ys = m.neighbour_outcomes(X[te], kmax)
        for c in candidates:
            p, e = candidate_win_er(c, dist, ys)
            oof[c.name].append(p)
            er[c.name].append(e)
        const.append(np.full(int(te.sum()), win[tr].mean()))
        outcome.append(win[te])
        ret.append(y[te])
        block_of.append(np.full(int(te.sum()), b))
    if not outcome:
        return {}
    return {
        "oof": {k: np.concatenate(v) for k, v in oof.items()},
        "er": {k: np.concatenate(v) for k, v in er.items()},
        "const": np.concatenate(const),
        "win": np.concatenate(outcome),
        "ret": np.concatenate(ret),
        "block": np.concatenate(block_of),
    }


def cross_fitted_calibration(p: F64, win: F64, block: npt.NDArray[np.int64]) -> F64:
    """Isotonic-calibrated out-of-fold probabilities, each block mapped by a fit on the other blocks."""
    out = p.copy()
    for b in np.unique(block):
        other = block != b
        if other.sum() < 50:
            continue
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[other], win[other])
        out[block == b] = iso.predict(p[block == b])
    return out


@dataclass
class PairEdge:
    """Everything learned for one pair."""

    fill: FillModel
    edge: EdgeModel | None
    calibrator: IsotonicRegression | None
    base_rate: float
    trade_ok: bool
    chosen: str
    skill: dict[str, Any] = field(default_factory=dict)


def brier_gain_bound(
    p: F64, const: F64, win: F64, n_chunks: int = 20, z: float = 1.645
) -> tuple[float, float]:
    """Mean Brier improvement of ``p`` over ``const`` and its one-sided lower bound (batch means).

    Rows are in time order and overlap (30-minute trades), so the standard error is taken from the means
    of ``n_chunks`` contiguous chunks rather than from the rows.
    """
    d = (const - win) ** 2 - (p - win) ** 2
    means = np.array([c.mean() for c in np.array_split(d, n_chunks) if len(c)])
    se = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("inf")
    return float(d.mean()), float(d.mean() - z * se)


def select_config(cv: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Choose the candidate with the lowest raw out-of-fold Brier; report every candidate's scores.

    The chosen candidate is then cross-fitted-calibrated; ``skill_ok`` holds when its calibrated Brier
    improvement over the constant has a positive one-sided 95 % lower bound (:func:`brier_gain_bound`).
    """
    win, const = cv["win"], cv["const"]
    scores: dict[str, Any] = {"constant": {"brier": brier(const, win), "log_loss": log_loss(const, win)}}
    for name, p in cv["oof"].items():
        scores[name] = {"brier": brier(p, win), "log_loss": log_loss(p, win)}
    best = min(cv["oof"], key=lambda k: scores[k]["brier"])
    cal = cross_fitted_calibration(cv["oof"][best], win, cv["block"])
    gain, lower = brier_gain_bound(cal, const, win)
    scores["chosen_calibrated"] = {
        "brier": brier(cal, win),
        "log_loss": log_loss(cal, win),
        "brier_gain": gain,
        "brier_gain_lower95": lower,
        "skill_ok": lower > 0.0,
    }
    return best, scores


class ExecEdgeModel:
    """Per-pair execution-priced edge model; see the module docstring.

    Parameters
    ----------
    candidates : tuple of EdgeCandidate
        Configurations the purged cross-validation chooses from (per pair).
    base_params : dict
        Other :class:`models.edge.EdgeModel` parameters (feature weights, session rows, horizon).
    n_blocks : int
        Cross-validation blocks inside the training window.
    purge_ms : int
        Gap kept between a validation block and its training rows (>= the trade's look-ahead).
    horizon_min : int
        Trade horizon, minutes (checked by the stage against its config).
    seed : int
        Seed of the validation subsampling.
    """

    predicts_execution = True

    def __init__(
        self,
        candidates: tuple[EdgeCandidate, ...] = DEFAULT_CANDIDATES,
        base_params: dict[str, Any] | None = None,
        n_blocks: int = 3,
        purge_ms: int = 90 * 60_000,
        horizon_min: int = 30,
        seed: int = 0,
    ) -> None:
        self.candidates = candidates
        self.base_params = base_params or {}
        self.n_blocks = n_blocks
        self.purge_ms = purge_ms
        self.horizon_min = horizon_min
        self.seed = seed
        self.pairs_: dict[str, PairEdge] = {}

    def fit_pair(
        self, pair: str, X: F64, ts: npt.NDArray[np.int64], fill: FillModel, filled: B, net: F64
    ) -> PairEdge:
        """Fit one pair's edge on its filled trades (``X`` rows of every bar; ``net`` NaN if not filled)."""
        ok = filled & np.isfinite(net) & np.isfinite(X).all(axis=1)
        Xf, yf, tf = X[ok], net[ok], ts[ok]
        rng = np.random.default_rng(self.seed)
        base = {**self.base_params, "horizon_min": self.horizon_min}
        base_rate = float((yf > 0).mean()) if len(yf) else float("nan")
        cv = (
            cross_validate(
                Xf, yf, tf, self.candidates, base, n_blocks=self.n_blocks, purge_ms=self.purge_ms, rng=rng
            )
            if len(yf) >= 1000
            else {}
        )
        if not cv:
            pe = PairEdge(fill, None, None, base_rate, False, "", {"reason": f"{len(yf)} filled trades"})
            self.pairs_[pair] = pe
            return pe
        best, scores = select_config(cv)
        ic = float(
            np.corrcoef(np.argsort(np.argsort(cv["er"][best])), np.argsort(np.argsort(cv["ret"])))[0, 1]
        )
        skill_ok = bool(scores["chosen_calibrated"]["skill_ok"])
        cand = next(c for c in self.candidates if c.name == best)
        edge = _model(cand, base, "grid").fit(Xf, yf)
        # the deployed map: isotonic on the chosen config's out-of-fold predictions
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(cv["oof"][best], cv["win"])
        skill = {"cv": scores, "cv_ic": ic, "n_filled": int(len(yf)), "n_cv": int(len(cv["win"]))}
        pe = PairEdge(fill, edge, iso, base_rate, bool(skill_ok), best, skill)
        self.pairs_[pair] = pe
        return pe

    def predict_execution(self, X: F64, pairs: npt.NDArray[Any]) -> dict[str, F64]:
        """Per row: expected_return, win_prob, cvar, n_eff, cost, p_fill, trade_ok (see the module docstring)."""
        n = len(X)
        out = {
            k: np.full(n, np.nan)
            for k in ("expected_return", "win_prob", "cvar", "n_eff", "cost", "p_fill", "exit_cost")
        }
        out["trade_ok"] = np.zeros(n)
        pairs = np.asarray(pairs).astype(str)
        for p in np.unique(pairs):
            rows = pairs == p
            pe = self.pairs_.get(str(p))
            if pe is None or pe.edge is None or pe.calibrator is None:
                continue
            Xp = X[rows]
            pf, ec = pe.fill.predict(Xp[:, 3], Xp[:, 1], Xp[:, 2])
            er, wp, cvar, n_eff = pe.edge.predict_stats(Xp).T
            fin = np.isfinite(wp)
            wp_cal = np.full(len(wp), np.nan)
            if fin.any():  # scikit-learn refuses an empty array (a batch with no finite row)
                wp_cal[fin] = pe.calibrator.predict(wp[fin])
            out["expected_return"][rows] = pf * (er + ec)
            out["cost"][rows] = pf * ec
            out["win_prob"][rows] = wp_cal
            out["cvar"][rows] = cvar
            out["n_eff"][rows] = n_eff
            out["p_fill"][rows] = pf
            out["exit_cost"][rows] = ec
            out["trade_ok"][rows] = float(pe.trade_ok)
        return out

    def predict_stats(self, X: F64) -> F64:
        """Not available without pairs: this model is per pair (the stage calls :meth:`predict_execution`)."""
        raise TypeError("ExecEdgeModel is per pair: call predict_execution(X, pairs)")

    def metadata(self) -> dict[str, Any]:
        """Per-pair choice, skill check, base rate and fill tables for the artifact's metadata."""
        return {
            "kind": "execution_priced",
            "candidates": [c.name for c in self.candidates],
            "n_blocks": self.n_blocks,
            "purge_ms": self.purge_ms,
            "pairs": {
                p: {
                    "chosen": pe.chosen,
                    "trade_ok": pe.trade_ok,
                    "base_rate": pe.base_rate,
                    "skill": pe.skill,
                    "fill_table": pe.fill.table(),
                }
                for p, pe in self.pairs_.items()
            },
        }
