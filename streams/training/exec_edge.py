"""Fit the execution-priced edge model on a features window (pure: arrays in, model and report out).

Per pair: simulate the router's passive entry at every ready bar with the broker's fill rule, its
markouts and its passive exit (:func:`models.execution.simulate_trades`, bars of the window only, so the
last ``horizon + exit chase`` minutes have no target), fit the bucket fill model, then the edge model
on the filled trades with purged cross-validation and calibration (:class:`models.exec_edge.ExecEdgeModel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.edge import EDGE_FEATURES
from models.exec_edge import DEFAULT_CANDIDATES, EdgeCandidate, ExecEdgeModel
from models.execution import ExecParams, FillModel, simulate_trades
from streams.core.batch import Batch
from streams.fx.pairs import pip_size

F64 = npt.NDArray[np.float64]


def exec_params(ecfg: Any, xcfg: Any) -> ExecParams:
    """:class:`ExecParams` from an ``EdgeConfig`` and the trader's ``ExecutionConfig``."""
    return ExecParams(
        improve_fraction=xcfg.improve_fraction,
        ttl_min=xcfg.entry_ttl_min or xcfg.replace_after_min,
        latency_ms=xcfg.latency_ms,
        penetration_pips=xcfg.fill_penetration_pips,
        horizon_min=ecfg.horizon_min,
        exit_reposts=ecfg.exit_reposts,
        commission_bps=ecfg.commission_bps,
    )


def pair_trades(f: Batch, params: ExecParams) -> Any:
    """Simulated :class:`models.execution.Trades` of one pair's features rows (sorted by ts)."""
    return simulate_trades(
        np.asarray(f["ts"], np.int64),
        np.asarray(f["close"], np.float64),
        np.asarray(f["high"], np.float64),
        np.asarray(f["low"], np.float64),
        np.asarray(f["spread"], np.float64),
        np.asarray(f["displacement"], np.float64),
        pip_size(str(f["pair"][0])),
        params,
    )


def candidates_of(ecfg: Any) -> tuple[EdgeCandidate, ...]:
    """The configurations the cross-validation tries (config ``cv_candidates`` or the default four)."""
    if not ecfg.cv_candidates:
        return DEFAULT_CANDIDATES
    out = []
    for m, k, bw in ecfg.cv_candidates:
        if m not in ("knn", "kde"):
            raise ValueError(f"cv_candidates: method must be 'knn' or 'kde', got {m!r}")
        out.append(EdgeCandidate("knn" if m == "knn" else "kde", int(k), float(bw)))
    return tuple(out)


def train_exec_edge(features: Batch, ecfg: Any, params: ExecParams) -> tuple[ExecEdgeModel, dict[str, Any]]:
    """Fit :class:`models.exec_edge.ExecEdgeModel` on ``features`` (any pairs); return it and a report."""
    purge = (params.horizon_min + params.ttl_min * (params.exit_reposts + 1) + 15) * 60_000
    model = ExecEdgeModel(
        candidates_of(ecfg),
        base_params={
            "feature_weights": tuple(ecfg.feature_weights),
            "min_session_rows": ecfg.min_session_rows,
        },
        n_blocks=ecfg.cv_blocks,
        purge_ms=purge,
        horizon_min=params.horizon_min,
    )
    pairs = np.asarray(features["pair"]).astype(str)
    report: dict[str, Any] = {"pairs": {}}
    for p in np.unique(pairs):
        f = features.take(pairs == p)
        f = f.take(np.argsort(np.asarray(f["ts"], np.int64), kind="stable"))
        t = pair_trades(f, params)
        ready = np.asarray(f["ready"], dtype=bool) if ecfg.train_only_ready else np.ones(f.n, bool)
        X = np.stack([np.asarray(f[k], dtype=np.float64) for k in EDGE_FEATURES], axis=1)
        fill = FillModel().fit(np.where(ready, X[:, 3], np.nan), X[:, 1], X[:, 2], t)
        pe = model.fit_pair(str(p), X, np.asarray(f["ts"], np.int64), fill, t.filled & ready, t.net)
        report["pairs"][str(p)] = {
            "chosen": pe.chosen,
            "trade_ok": pe.trade_ok,
            "base_rate": pe.base_rate,
            "fill_rate": float(t.filled[ready].mean()) if ready.any() else float("nan"),
            "mean_net_bps": float(np.nanmean(t.net[ready]) * 1e4)
            if np.isfinite(t.net[ready]).any()
            else float("nan"),
            **pe.skill,
        }
    report["training_from"] = int(np.min(features["ts"]))
    report["training_to"] = int(np.max(features["ts"]))
    report["features"] = list(EDGE_FEATURES)
    return model, report
