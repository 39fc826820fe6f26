"""``hslr train edge``: fit the edge model on a training window and save a versioned artifact.

Thin shell: bars (generator or PostgreSQL) -> market and features stages in-process -> the pure
:func:`streams.training.edge.train_edge` (time split, purged targets) -> ``models.artifacts``.
Clock and git are read here, never in the pipeline. Point ``[edge] model_path`` at the printed
directory (or its ``latest`` pointer) to use the model.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "models/artifacts/edge"


def _train_edge(args: argparse.Namespace) -> int:
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import load_config
    from streams.services.bars import get_bars
    from streams.services.features import compute_features
    from streams.services.runs import code_version
    from streams.training.artifacts import train_edge_artifact

    config = load_config(args.config or None)
    cfg = config.section("edge")
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
        root=args.out,
        holdout=args.holdout,
        **overrides,
    )
    meta, path = trained.meta, trained.path
    print(json.dumps(meta.metrics, indent=1, default=str))
    print(f'saved {path} (latest -> {meta.version}); set [edge] model_path = "{Path(args.out) / "latest"}"')
    return 0


def add_commands(sub: Any) -> None:
    """Add ``hslr train edge`` to the CLI (in the ``train`` group shared with ``train regime``)."""
    from streams.cli.train import train_subparsers

    q = train_subparsers(sub).add_parser(
        "edge", help="train the KNN/KDE edge model (conditional trade returns)"
    )
    q.add_argument("--pairs", default="EURUSD,GBPUSD")
    q.add_argument(
        "--from", dest="start", required=True, help="first day of the training window, YYYY-MM-DD (UTC)"
    )
    q.add_argument("--to", dest="end", required=True, help="end day (exclusive), YYYY-MM-DD (UTC)")
    q.add_argument(
        "--source", choices=("synth", "db"), default="db", help="bars from the generator or price_data"
    )
    q.add_argument("--seed", type=int, default=7, help="generator seed (--source synth)")
    q.add_argument("--method", choices=("knn", "kde"), default="", help="override [edge] method")
    q.add_argument("--holdout", type=float, default=0.2, help="last share of the window kept for evaluation")
    q.add_argument("--out", default=DEFAULT_ROOT, help="artifact root (versions + latest pointer)")
    q.add_argument("--config", default="", help="pipeline TOML config (default: documented defaults)")
    q.set_defaults(func=_train_edge)
