"""Training commands: ``hslr train regime`` and ``hslr train edge``.

Thin shell: reads bars (synthetic generator or PostgreSQL), runs the market and features stages
in-process (:mod:`streams.services`), calls the pure training in :mod:`streams.training`, saves a
versioned artifact (and moves the ``latest`` pointer). Both models are also registered in
``model_registry`` (skipped with a warning when the database is unreachable). Point ``[edge] model_path``
at the printed directory (or its ``latest`` pointer) to use an edge model. Clock and git are read here,
never in the pipeline.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.services.bars import get_bars
from streams.services.features import compute_features
from streams.services.runs import code_version

log = logging.getLogger(__name__)


def train_subparsers(sub: Any) -> Any:
    """Return the sub-command group of ``hslr train``, creating it once (shared by every model's CLI)."""
    parser = sub.choices.get("train") if hasattr(sub, "choices") else None
    if parser is None:
        parser = sub.add_parser("train", help="train models and save versioned artifacts")
        parser.set_defaults(_train_sub=parser.add_subparsers(dest="train_command", required=True))
    return parser.get_default("_train_sub")


def _register(path: Path) -> None:
    try:
        from streams.services.models import register

        print(f"registered model_registry row {register(path)}")
    except Exception as exc:  # noqa: BLE001 - any DB failure only skips registration
        log.warning("model not registered (database unreachable or not migrated): %s", exc)


def _train_regime(args: argparse.Namespace) -> int:
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import load_config
    from streams.training.artifacts import train_regime_artifact

    config = load_config(args.config or None)
    rcfg = config.regime
    bars, truth = get_bars(
        args.source, parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end), args.seed
    )
    features = compute_features(bars, config)
    trained = train_regime_artifact(
        features,
        rcfg,
        created_at=datetime.now(tz=UTC),
        code_version=code_version(),
        params={"pairs": args.pairs, "source": args.source, "seed": args.seed},
        random_state=args.random_state,
        truth=truth,
    )
    meta, path, report = trained.meta, trained.path, trained.report
    shown = {k: v for k, v in meta.metrics.items() if k != "features"}
    print(json.dumps(shown, indent=1, default=str))
    print(
        f"accuracy {report['accuracy']:.3f} vs majority baseline {report['baseline_accuracy']:.3f}; "
        f"log-loss {report['log_loss']:.3f} vs {report['baseline_log_loss']:.3f}"
    )
    print(f"saved {path} (latest -> {meta.version})")
    _register(path)
    return 0


def _window_options(q: Any) -> None:
    """The training window and where its bars come from (shared by every model's command)."""
    q.add_argument("--pairs", default="EURUSD,GBPUSD")
    q.add_argument(
        "--from", dest="start", required=True, help="first day of the training window, YYYY-MM-DD (UTC)"
    )
    q.add_argument("--to", dest="end", required=True, help="end day (exclusive), YYYY-MM-DD (UTC)")
    q.add_argument(
        "--source", choices=("synth", "db"), default="db", help="bars from the generator or price_data"
    )
    q.add_argument("--seed", type=int, default=7, help="generator seed (--source synth)")
    q.add_argument("--config", default="", help="pipeline TOML config (default: documented defaults)")


def _add_regime(sub: Any) -> None:
    tsub = train_subparsers(sub)
    q = tsub.add_parser(
        "regime", help="train the regime classifier (Stable_Flow / Directional_Vol / Event_Risk)"
    )
    _window_options(q)
    q.add_argument("--random-state", type=int, default=None, help="forest seed (default: [regime.train])")
    q.set_defaults(func=_train_regime)


def _train_edge(args: argparse.Namespace) -> int:
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import load_config
    from streams.services.bars import get_bars
    from streams.services.features import compute_features
    from streams.services.runs import code_version
    from streams.training.artifacts import train_edge_artifact

    config = load_config(args.config or None)
    cfg = config.edge
    overrides = {"method": args.method} if args.method else {}
    bars, _truth = get_bars(
        args.source, parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end), args.seed
    )
    features = compute_features(bars, config)
    trained = train_edge_artifact(
        features,
        cfg,
        created_at=datetime.now(tz=UTC),
        code_version=code_version(),
        params={"pairs": args.pairs, "source": args.source, "seed": args.seed},
        root=args.out or None,
        holdout=args.holdout,
        **overrides,
    )
    meta, path = trained.meta, trained.path
    print(json.dumps(meta.metrics, indent=1, default=str))
    print(f'saved {path} (latest -> {meta.version}); set [edge] model_path = "{path.parent / "latest"}"')
    _register(path)
    return 0


def _add_edge(sub: Any) -> None:
    q = train_subparsers(sub).add_parser(
        "edge", help="train the KNN/KDE edge model (conditional trade returns)"
    )
    _window_options(q)
    q.add_argument("--method", choices=("knn", "kde"), default="", help="override [edge] method")
    q.add_argument("--holdout", type=float, default=0.2, help="last share of the window kept for evaluation")
    q.add_argument(
        "--out",
        default="",
        help="artifact root (versions + latest pointer); default: beside [edge] model_path in the data "
        "directory (HSLR_DATA_DIR)",
    )
    q.set_defaults(func=_train_edge)


def add_commands(sub: Any) -> None:
    """Add ``hslr train regime`` and ``hslr train edge`` to the CLI."""
    _add_regime(sub)
    _add_edge(sub)
