"""Walk-forward backtest: per fold, train on the train window only, replay the test window, score it.

Per fold (:mod:`backtest.folds` for the schedule and its purge):

1. **Train** the regime and edge models on the bars of ``[train_from, train_to)`` only
   (:mod:`streams.training.artifacts`; artifacts under ``runs/<run_id>/folds/<k>/models``). Their internal
   hold-outs sit inside the train window, so nothing of the test window is seen.
2. **Replay** ``warm-up prefix + test window`` through the whole DAG on either engine
   (``inprocess``: :func:`backtest.engine.run_inprocess_engine`; ``kafka``: the real topics and Faust
   workers, :func:`backtest.engine.run_kafka_engine`). The prefix is the last :func:`warmup_bars`
   bar times before ``test_from`` (the train window's tail and the purge gap — allowed, because every
   feature uses only past bars), so rolling windows are full when the test window opens; outputs before
   ``test_from`` are dropped when scoring (:mod:`backtest.fold_metrics`). The replay ends at ``test_to``.
3. **Score** the window and write ``folds/<k>/result.json`` atomically plus a ``walkforward_folds`` row.

Parallel: ``workers > 1`` runs the pending folds in forked processes
(:mod:`backtest.walkforward_parallel`); every fold computes exactly what it computes alone, and results
are written in fold order as they finish.

Resumable: a fold whose ``result.json`` exists is skipped, so rerunning a killed run with the same
``--run-id`` continues after the last finished fold (the run's spec must be the same). The run directory
holds the exact config (``config.json``), the spec with the code version (``walkforward.json``), each
fold's model versions and ``summary.json`` (per fold and stitched).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest.fold_metrics import fold_metrics, stitch
from backtest.folds import Fold
from backtest.jsonsafe import clean
from backtest.walkforward_parallel import fold_results
from streams.core.batch import Batch

if TYPE_CHECKING:
    from streams.config import HSLRConfig


@dataclass(frozen=True)
class FoldModels:
    regime_path: str
    edge_path: str
    regime_version: str
    edge_version: str
    report: dict[str, Any]


def warmup_bars(config: HSLRConfig) -> int:
    """Bar times replayed before a test window: features warm-up + the OU estimate's minimum points."""
    return int(config.features.warmup_bars + config.edge.ou_min_points)


def fold_bars(bars: Batch, fold: Fold, n_warmup: int) -> tuple[Batch, Batch]:
    """(train bars, warm-up prefix + test bars) of ``fold``; ``bars`` sorted by (ts, pair)."""
    ts = bars["ts"]
    train = bars.take((ts >= fold.train_from) & (ts < fold.train_to))
    before = np.unique(ts[ts < fold.test_from])
    first = before[-n_warmup] if len(before) >= n_warmup else (before[0] if len(before) else fold.test_from)
    return train, bars.take((ts >= first) & (ts < fold.test_to))


def train_fold(
    train: Batch,
    config: HSLRConfig,
    root: Path,
    *,
    created_at: datetime,
    code_version: str,
    params: dict[str, Any],
    edge_overrides: dict[str, Any] | None = None,
    features: Batch | None = None,
) -> FoldModels:
    """Fit both models on ``train`` (bars) and save them under ``root``/regime and ``root``/edge.

    ``features``: the train window's features computed beforehand (e.g. once over the whole history:
    every feature uses only past bars, so slicing them leaks nothing); computed from ``train`` if None.
    """
    from streams.services.features import compute_features
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    if features is None:
        features = compute_features(train, config)
    regime = train_regime_artifact(
        features,
        config.regime,
        created_at=created_at,
        code_version=code_version,
        params=params,
        root=root / "regime",
    )
    ecfg = config.edge
    if edge_overrides:
        ecfg = ecfg.model_copy(update=edge_overrides)
    edge = train_edge_artifact(
        features,
        ecfg,
        created_at=created_at,
        code_version=code_version,
        params=params,
        root=root / "edge",
        xcfg=config.trader.execution,
    )
    report = {
        "regime_accuracy": regime.report.get("accuracy"),
        "regime_baseline_accuracy": regime.report.get("baseline_accuracy"),
        "edge_test": edge.report.get("test"),
        "edge_pairs": edge.report.get("pairs"),
        "train_rows": int(features.n),
    }
    return FoldModels(str(regime.path), str(edge.path), regime.meta.version, edge.meta.version, report)


def fold_config(config: HSLRConfig, models: FoldModels) -> HSLRConfig:
    from streams.services.runs import with_models

    return with_models(config, models.regime_path, models.edge_path, config.news.calendar_path)


def replay(test: Batch, config: HSLRConfig, engine: str, workdir: Path | None = None) -> dict[str, Batch]:
    """Every topic's records of replaying ``test`` (warm-up prefix included) on ``engine``."""
    from backtest.engine import run_inprocess_engine, run_kafka_engine

    if engine == "inprocess":
        return run_inprocess_engine(test, config)
    if engine == "kafka":
        return run_kafka_engine(test, config, workdir=workdir, timeout=1800)
    raise ValueError(f"unknown engine {engine!r}; use 'kafka' or 'inprocess'")


def score(out: dict[str, Batch], fold: Fold, config: HSLRConfig) -> dict[str, Any]:
    """:func:`backtest.fold_metrics.fold_metrics` of a replay's outputs over the fold's test window."""
    ecfg = config.edge
    return fold_metrics(
        out,
        fold.test_from,
        fold.test_to,
        initial_equity=config.trader.portfolio.initial_equity_usd,
        horizon_min=ecfg.horizon_min,
        commission_bps=ecfg.commission_bps,
    )


def replay_and_score(
    test: Batch,
    fold: Fold,
    config: HSLRConfig,
    engine: str,
    workdir: Path | None = None,
    blotter_dir: Path | None = None,
    extra: Callable[[dict[str, Batch]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Replay warm-up + test bars on ``engine`` and score the test window; write the blotter
    (:mod:`backtest.blotter`, warm-up included) into ``blotter_dir`` when given; ``extra(outputs)``
    adds an evaluation of the replay's topics under ``extra``."""
    t0 = time.perf_counter()
    out = replay(test, config, engine, workdir)
    seconds = time.perf_counter() - t0
    if blotter_dir is not None:
        from backtest.blotter import write_blotter

        write_blotter(blotter_dir, out, config.trader.portfolio.initial_equity_usd)
    metrics = {**score(out, fold, config), "replay_seconds": round(seconds, 3), "bars_replayed": int(test.n)}
    if extra is not None:
        metrics["extra"] = extra(out)
    return metrics


def _write_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default, allow_nan=False))
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def progress(message: str) -> None:
    """One compact progress line on stderr (no tqdm dependency)."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class WalkForward:
    """A walk-forward run: the market, the base config, the schedule and where results go."""

    run_id: str
    bars: Batch
    config: HSLRConfig
    folds: list[Fold]
    run_dir: Path
    engine: str = "inprocess"
    spec: dict[str, Any] | None = None
    db: Any = None  # a callable(run_id, kind, payload) sink, or None for files only
    log: Callable[[str], None] = progress
    features: Batch | None = None
    """Features of the whole history computed once (sliced per fold for training), or None."""
    extra: Callable[[Fold, FoldModels, dict[str, Batch]], dict[str, Any]] | None = None
    """Extra out-of-sample evaluation of a fold's replay (its result goes under ``extra``)."""
    workers: int = 1
    """Folds trained and replayed at once in forked processes (:mod:`backtest.walkforward_parallel`;
    same results as one at a time; the inprocess engine only)."""

    def run(self, created_at: datetime | None = None) -> dict[str, Any]:
        """Run (or resume) every fold; return the summary (per fold + stitched)."""
        from streams.services.runs import code_version

        if self.workers > 1 and self.engine != "inprocess":
            raise ValueError("parallel folds (workers > 1) need the inprocess engine")
        version = code_version()
        self._start(version)
        done_at = {f.k: self.run_dir / "folds" / str(f.k) / "result.json" for f in self.folds}
        results: dict[int, dict[str, Any]] = {}
        for fold in self.folds:
            if done_at[fold.k].exists():
                results[fold.k] = json.loads(done_at[fold.k].read_text())
                self.log(f"[{self.run_id}] fold {fold.k + 1}/{len(self.folds)} already finished: skipped")
        pending = [f for f in self.folds if f.k not in results]
        when, t0 = created_at or datetime.now(tz=UTC), time.perf_counter()
        for fold, result in zip(
            pending, fold_results(lambda f: self._fold(f, version, when), pending, self.workers), strict=True
        ):
            _write_atomic(done_at[fold.k], result)
            if self.db:
                self.db("fold", self.run_id, result)
            results[fold.k] = result
            self.log(
                f"[{self.run_id}] fold {fold.k + 1}/{len(self.folds)} done: return {result['return']:+.4%} "
                f"sharpe {_fmt(result['sharpe'])} fills {result['fills']} | {len(results)}/{len(self.folds)} "
                f"folds, {time.perf_counter() - t0:.0f}s elapsed"
            )
        ordered = [results[f.k] for f in self.folds]
        summary = clean(
            {
                "run_id": self.run_id,
                "engine": self.engine,
                "code_version": version,
                "folds": [{k: v for k, v in r.items() if k != "daily"} for r in ordered],
                "stitched": stitch(ordered),
                "uncovered_tail": (self.spec or {}).get("uncovered_tail"),
                "calendar": (self.spec or {}).get("calendar"),
            }
        )
        _write_atomic(self.run_dir / "summary.json", summary)
        if self.db:
            self.db("summary", self.run_id, summary)
        return summary

    def _start(self, version: str) -> None:
        from streams.config import dump_config

        spec = clean(
            {
                **(self.spec or {}),
                "engine": self.engine,
                "folds": [f.as_dict() for f in self.folds],
                "config_digest": self.config.digest(),
            }
        )
        spec_path = self.run_dir / "walkforward.json"
        if spec_path.exists():
            old = json.loads(spec_path.read_text())
            if {k: v for k, v in old.items() if k != "code_version"} != spec:
                raise ValueError(
                    f"run {self.run_id} exists with another spec ({spec_path}); use a new --run-id"
                )
        else:
            _write_atomic(self.run_dir / "config.json", dump_config(self.config))
            _write_atomic(spec_path, {**spec, "code_version": version})
        if self.db:
            self.db(
                "run",
                self.run_id,
                {"config": dump_config(self.config), "code_version": version, "spec": spec},
            )

    def run_fold(self, fold: Fold, version: str, created_at: datetime) -> dict[str, Any]:
        """Train, replay and score one fold (no resume check, nothing written but the fold's models)."""
        return self._fold(fold, version, created_at)

    def _fold(self, fold: Fold, version: str, created_at: datetime) -> dict[str, Any]:
        fdir = self.run_dir / "folds" / str(fold.k)
        if fdir.exists():  # an unfinished attempt (no result.json): start the fold afresh
            shutil.rmtree(fdir)
        train, test = fold_bars(self.bars, fold, warmup_bars(self.config))
        tag = f"[{self.run_id}] fold {fold.k + 1}/{len(self.folds)}"
        self.log(
            f"{tag}: training on {train.n} bars {fold.as_dict()['train_from_iso'][:10]}.."
            f"{fold.as_dict()['train_to_iso'][:10]}"
        )
        t0 = time.perf_counter()
        feats = None
        if self.features is not None:
            fts = self.features["ts"]
            feats = self.features.take((fts >= fold.train_from) & (fts < fold.train_to))
        models = train_fold(
            train,
            self.config,
            fdir / "models",
            created_at=created_at,
            code_version=version,
            params={"run_id": self.run_id, "fold": fold.k},
            features=feats,
        )
        train_s = time.perf_counter() - t0
        self.log(f"{tag}: trained in {train_s:.1f}s; replaying {test.n} bars ({self.engine})")
        extra = self.extra
        metrics = replay_and_score(
            test,
            fold,
            fold_config(self.config, models),
            self.engine,
            fdir / "kafka",
            blotter_dir=fdir,
            extra=None if extra is None else (lambda out: extra(fold, models, out)),
        )
        return clean(
            {
                "fold": fold.as_dict(),
                "models": {
                    "regime": models.regime_version,
                    "edge": models.edge_version,
                    "regime_path": models.regime_path,
                    "edge_path": models.edge_path,
                    **models.report,
                },
                "train_seconds": round(train_s, 3),
                "train_bars": int(train.n),
                **metrics,
            }
        )


def postgres_sink(kind: str, run_id: str, payload: dict[str, Any]) -> None:
    """Record a run (``kind="run"``), a finished fold (``"fold"``) or the summary in PostgreSQL.

    ``backtest_runs`` (kind ``walkforward``) and ``walkforward_folds`` (one row per fold: windows, the
    regime model version in ``model_id``, every metric and both model versions in ``metrics``). Upserts,
    so a resumed run rewrites its rows. A database failure is reported once per call and never stops
    the run: the run directory is the record.
    """
    try:
        from streams.storage.db import connect
        from streams.storage.runs import update_run_summary, upsert_fold, upsert_run

        with connect() as conn:
            if kind == "run":
                upsert_run(
                    conn,
                    run_id,
                    "walkforward",
                    payload["config"],
                    payload["code_version"],
                    {"spec": payload["spec"]},
                    replace_summary=False,
                )
            elif kind == "fold":
                upsert_fold(conn, run_id, payload["fold"], f"regime:{payload['models']['regime']}", payload)
            else:
                update_run_summary(conn, run_id, payload)
            conn.commit()
    except Exception as exc:  # noqa: BLE001 - files are the record; the table is a convenience
        progress(f"(walk-forward {kind} not written to PostgreSQL: {exc})")


def _fmt(x: Any) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.2f}"
