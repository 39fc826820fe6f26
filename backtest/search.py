"""Hyperparameter search over walk-forward folds, feeding the deflated Sharpe ratio and PBO.

Every configuration of a grid is replayed on every fold's test window (in-process engine), with models
trained on that fold's train window only. Models are reused across configurations: the regime model is
trained once per fold (its thresholds act at inference), the edge model once per fold and distinct
value of the *training* keys (``edge.n_neighbors``, ``edge.bandwidth``, …); thresholds, the safety
factor and the risk aversion only change the replay. Training and replays run in parallel over cores
(``concurrent.futures.ProcessPoolExecutor``; each worker receives the market once).

The selection is judged out of sample twice: the stitched daily returns of all configurations form
the (days × configurations) matrix of :func:`backtest.stats.pbo_cscv` (the probability that the
in-sample winner ranks below the median out of sample), and the best configuration's Sharpe is
deflated for the number of configurations tried and the variance of their Sharpe ratios
(:func:`backtest.stats.deflated_sharpe_of`).

:data:`DEFAULT_GRID` (72 configurations), keys are ``section.field`` paths of the config:

* ``regime.p_threshold`` 0.55 / 0.65 — tradeable needs prob_stable above it (default 0.6);
* ``regime.entropy_threshold`` 0.8 / 0.9 nats — tradeable needs entropy below it (default 0.85);
* ``edge.n_neighbors`` 150 / 300 — KNN neighbours of the edge model (training; default 300);
  ``edge.bandwidth`` matters only with ``edge.method = "kde"`` and is left out of the default;
* ``edge.safety_factor`` 1.0 / 1.5 / 2.0 — expected return must exceed cost × it (default 1.5);
* ``trader.risk.risk_aversion`` 5 / 10 / 20 — λ of U = E[R] − λ Var(R) − cost (default 10).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest import stats
from backtest.folds import Fold
from streams.core.batch import Batch

if TYPE_CHECKING:
    from streams.config import HSLRConfig

DEFAULT_GRID: dict[str, list[Any]] = {
    "regime.p_threshold": [0.55, 0.65],
    "regime.entropy_threshold": [0.8, 0.9],
    "edge.n_neighbors": [150, 300],
    "edge.safety_factor": [1.0, 1.5, 2.0],
    "trader.risk.risk_aversion": [5.0, 10.0, 20.0],
}
TRAINING_KEYS = frozenset(
    {
        "edge.n_neighbors",
        "edge.bandwidth",
        "edge.method",
        "edge.feature_weights",
        "edge.min_session_rows",
        "edge.horizon_min",
    }
)
"""Keys that change the fitted edge model (so it is trained per value); ``regime.labels.*`` and
``regime.train.*`` would change the regime model and are not searchable here."""

_W: dict[str, Any] = {}


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in a fixed order."""
    keys = sorted(grid)
    for k in keys:
        if k.startswith(("regime.labels", "regime.train")):
            raise ValueError(f"{k} changes the regime model's training; not searchable")
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]


def apply(config: HSLRConfig, params: dict[str, Any]) -> HSLRConfig:
    """``config`` with dotted ``section.field[.field]`` values set (validated by the config classes)."""
    from streams.config import build_config, dump_config

    data = dump_config(config)
    for key, value in params.items():
        node = data
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return build_config(data)


def _init(bars: Batch, config: HSLRConfig, root: str) -> None:
    _W.update(bars=bars, config=config, root=Path(root))


def _train(job: tuple[Fold, str, dict[str, Any]]) -> tuple[int, str, dict[str, Any], str, str]:
    from backtest.walkforward import fold_bars, warmup_bars
    from streams.services.features import compute_features
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    fold, kind, overrides = job
    config = _W["config"]
    train, _ = fold_bars(_W["bars"], fold, warmup_bars(config))
    features = compute_features(train, config)
    root = _W["root"] / "models" / str(fold.k)
    now = datetime.fromtimestamp(fold.train_to / 1000, tz=UTC)  # deterministic version stamps
    if kind == "regime":
        t = train_regime_artifact(
            features,
            config.regime,
            created_at=now,
            code_version="search",
            params={"fold": fold.k},
            root=root / "regime",
        )
    else:
        ecfg = config.edge.model_copy(update={k.split(".", 1)[1]: v for k, v in overrides.items()})
        tag = "-".join(f"{k.split('.')[-1]}{v}" for k, v in sorted(overrides.items())) or "default"
        t = train_edge_artifact(
            features,
            ecfg,
            created_at=now,
            code_version="search",
            params={"fold": fold.k, **overrides},
            root=root / f"edge-{tag}",
            xcfg=config.trader.execution,
        )
    return fold.k, kind, overrides, str(t.path), t.meta.version


def _evaluate(job: tuple[Fold, int, dict[str, Any], str, str]) -> tuple[int, int, dict[str, Any]]:
    from backtest.walkforward import FoldModels, fold_bars, fold_config, replay_and_score, warmup_bars

    fold, j, params, regime_path, edge_path = job
    config = apply(_W["config"], params)
    _, test = fold_bars(_W["bars"], fold, warmup_bars(config))
    cfg = fold_config(config, FoldModels(regime_path, edge_path, "", "", {}))
    return fold.k, j, replay_and_score(test, fold, cfg, "inprocess")


def _pool_map(
    fn: Callable[[Any], Any],
    jobs: list[Any],
    workers: int,
    init: tuple[Any, ...],
    log: Callable[[str], None],
    what: str,
) -> list[Any]:
    t0, out = time.perf_counter(), []
    if workers <= 1:
        _init(*init)
        it: Any = map(fn, jobs)
        for i, r in enumerate(it, 1):
            out.append(r)
            _tick(log, what, i, len(jobs), t0)
        return out
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=init) as ex:
        for i, r in enumerate(ex.map(fn, jobs), 1):
            out.append(r)
            _tick(log, what, i, len(jobs), t0)
    return out


def _tick(log: Callable[[str], None], what: str, i: int, n: int, t0: float) -> None:
    if i == n or i % max(1, n // 10) == 0:
        el = time.perf_counter() - t0
        log(f"[search] {what} {i}/{n} ({el:.0f}s, eta {el / i * (n - i):.0f}s)")


def run_search(
    bars: Batch,
    config: HSLRConfig,
    folds: list[Fold],
    grid: dict[str, list[Any]],
    root: Path,
    *,
    workers: int = 2,
    n_splits: int = 8,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the grid over the folds; return per-configuration results, the best, its DSR and PBO."""
    combos = expand(grid)
    init = (bars, config, str(root))
    edge_sets = sorted({tuple(sorted((k, v) for k, v in c.items() if k in TRAINING_KEYS)) for c in combos})
    jobs: list[tuple[Any, str, dict[str, Any]]] = [(f, "regime", {}) for f in folds] + [
        (f, "edge", dict(e)) for f in folds for e in edge_sets
    ]
    trained = _pool_map(_train, jobs, workers, init, log, "training")
    regime = {k: p for k, kind, _, p, _ in trained if kind == "regime"}
    edge = {(k, tuple(sorted(o.items()))): p for k, kind, o, p, _ in trained if kind == "edge"}
    ev_jobs = [
        (f, j, c, regime[f.k], edge[(f.k, tuple(sorted((k, v) for k, v in c.items() if k in TRAINING_KEYS)))])
        for j, c in enumerate(combos)
        for f in folds
    ]
    results = _pool_map(_evaluate, ev_jobs, workers, init, log, "replays")
    per = {(k, j): m for k, j, m in results}
    R = np.array([[x for f in folds for x in per[(f.k, j)]["daily"]["ret"]] for j in range(len(combos))]).T
    srs = np.array([stats.sharpe(R[:, j]) for j in range(len(combos))])
    best = int(np.nanargmax(np.where(np.isfinite(srs), srs, -np.inf)))
    splits = n_splits if len(R) >= 2 * n_splits else max(2, (len(R) // 2) // 2 * 2)
    return {
        "n_configs": len(combos),
        "n_folds": len(folds),
        "days": int(len(R)),
        "configs": [
            {
                "params": c,
                "sharpe_annual": float(srs[j] * np.sqrt(260.0)),
                "return": float(np.prod(1 + R[:, j]) - 1),
                "fold_sharpe": [per[(f.k, j)]["sharpe"] for f in folds],
            }
            for j, c in enumerate(combos)
        ],
        "best": {"params": combos[best], "sharpe_annual": float(srs[best] * np.sqrt(260.0))},
        "dsr": stats.deflated_sharpe_of(R, best),
        "pbo": stats.pbo_cscv(R, splits) if len(combos) > 1 else None,
        "returns_matrix_shape": list(R.shape),
    }
