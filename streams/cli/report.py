"""``hslr report RUN``, ``hslr stress RUN``, ``hslr latency RUN`` (research on a run directory) and
``hslr oracle`` (oracle vs learned signals through the same trader on the demo's synthetic market).

``RUN`` is a run directory or a run id under ``runs/``. ``stress`` and ``latency`` replay the run's test
window (``inputs.json``, or ``--from/--to/--pairs/--source/--seed``) with the run's config
(``config.json``, or ``--config``) and write ``stress.json`` / ``latency.json`` into the run directory,
creating it when it does not exist yet.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def run_path(run: str) -> Path:
    """A run directory from a path or a run id under ``runs/``."""
    p = Path(run)
    return p if p.exists() or p.parent != Path(".") else Path("runs") / run


def _report(args: argparse.Namespace) -> int:
    from backtest.report import write_report

    path = write_report(run_path(args.run), args.out or None)
    print(path)
    return 0


def _inputs(args: argparse.Namespace, run: Path) -> dict[str, Any]:
    saved = json.loads((run / "inputs.json").read_text()) if (run / "inputs.json").exists() else {}
    given = {
        "source": args.source,
        "pairs": args.pairs,
        "from": args.start,
        "to": args.end,
        "seed": args.seed,
    }
    merged = {**saved, **{k: v for k, v in given.items() if v is not None}}
    missing = [k for k in ("from", "to") if not merged.get(k)]
    if missing:
        raise ValueError(
            f"{run}/inputs.json is missing and --{'/--'.join(missing)} not given: which bars to replay?"
        )
    merged.setdefault("source", "db")
    merged.setdefault("seed", 7)
    merged.setdefault("pairs", "EURUSD,GBPUSD,USDJPY,AUDUSD")
    return merged


def _load(args: argparse.Namespace) -> tuple[Path, Any, Any]:
    """(run dir, bars, config) for a stress/latency command."""
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import build_config, load_config
    from streams.services.bars import get_bars

    run = run_path(args.run)
    inputs = _inputs(args, run)
    pairs = inputs["pairs"] if isinstance(inputs["pairs"], list) else parse_pairs(inputs["pairs"])
    bars, _ = get_bars(
        inputs["source"], pairs, parse_day(inputs["from"]), parse_day(inputs["to"]), int(inputs["seed"])
    )
    if args.config:
        config = load_config(args.config)
    elif (run / "config.json").exists():
        config = build_config(json.loads((run / "config.json").read_text()))
    else:
        config = load_config(None)
    run.mkdir(parents=True, exist_ok=True)
    if not (run / "inputs.json").exists():
        (run / "inputs.json").write_text(json.dumps({**inputs, "pairs": pairs}, indent=1))
    return run, bars, config


def _pair(text: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in text.split(","))
    return lo, hi


def _stress(args: argparse.Namespace) -> int:
    from backtest.stress import SpreadShock, run_stress

    run, bars, config = _load(args)
    shock = SpreadShock(
        jitter_sigma=args.jitter_sigma,
        jitter_block_min=args.jitter_block_min,
        episodes_per_week=args.episodes_per_week,
        widen=_pair(args.widen),
        duration_min=_pair(args.duration_min),
        common_share=args.common_share,
        anchor=args.anchor,
    )
    t0 = time.perf_counter()
    result = run_stress(bars, config, shock, n=args.n, seed=args.seed_mc, workers=args.workers)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (run / "stress.json").write_text(json.dumps(result))
    print(
        json.dumps(
            {
                "run_dir": str(run),
                "n": args.n,
                "seconds": result["seconds"],
                "baseline": result["baseline"],
                "breach": result["breach"],
                "quantiles": result["quantiles"],
            },
            indent=1,
        )
    )
    return 0


def _latency(args: argparse.Namespace) -> int:
    from backtest.latency import run_latency

    run, bars, config = _load(args)
    lat = [int(float(x)) for x in args.latencies.split(",") if x.strip()]
    t0 = time.perf_counter()
    result = run_latency(bars, config, lat, dist=args.dist or None, k=args.k, workers=args.workers)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (run / "latency.json").write_text(json.dumps(result))
    cols = ("latency_ms", "pnl_usd", "sharpe", "fill_rate", "mean_fill_delay_min", "orders_new")
    print(
        json.dumps(
            {
                "run_dir": str(run),
                "curve": [{k: p[k] for k in cols} for p in result["curve"]],
                **({"distribution": result["distribution"]} if "distribution" in result else {}),
            },
            indent=1,
        )
    )
    return 0


def _oracle(args: argparse.Namespace) -> int:
    from backtest.oracle import OracleSpec
    from backtest.oracle_compare import compare, demo_replay, markdown
    from streams.cli.options import parse_pairs
    from streams.services.runs import default_calendar_path

    pairs = parse_pairs(args.pairs)
    calendar = default_calendar_path(args.calendar)
    work = Path(args.workdir)
    t0 = time.perf_counter()
    demo = demo_replay(pairs, args.start, args.split, args.end, args.seed, calendar, work / "models")
    spec = OracleSpec(entry_z=args.entry_z)
    result = compare(demo, spec)
    result["market"] = {
        "pairs": pairs,
        "train": [args.start, args.split],
        "test": [args.split, args.end],
        "seed": args.seed,
        "calendar": Path(calendar).name if calendar else None,
        "training": demo.training,
    }
    result["seconds"] = round(time.perf_counter() - t0, 1)
    work.mkdir(parents=True, exist_ok=True)
    (work / "oracle_vs_learned.json").write_text(json.dumps(result, indent=1, default=str))
    header = (
        f"# Oracle vs learned on the demo's synthetic market\n\n`hslr oracle` ({', '.join(pairs)}; trained "
        f"{args.start}..{args.split}, replayed {args.split}..{args.end}; seed {args.seed}; entry |z| > "
        f"{args.entry_z}; in-process engine, {result['seconds']} s).\n"
    )
    text = markdown(result, header)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)
    return 0


def _replay_args(p: Any) -> None:
    p.add_argument("run", help="run directory or run id under runs/ (created when missing)")
    p.add_argument(
        "--from", dest="start", default=None, help="test window start (default: the run's inputs.json)"
    )
    p.add_argument("--to", dest="end", default=None)
    p.add_argument("--pairs", default=None)
    p.add_argument("--source", choices=("db", "synth"), default=None)
    p.add_argument("--seed", type=int, default=None, help="synthetic market seed (source synth)")
    p.add_argument("--config", default="", help="config file (default: the run's config.json)")
    p.add_argument("--workers", type=int, default=2)


def add_commands(sub: Any) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML tearsheet of a run directory")
    p.add_argument("run", help="run directory or run id under runs/")
    p.add_argument("--out", default="", help="output file (default: RUN/report.html)")
    p.set_defaults(func=_report)

    p = sub.add_parser(
        "oracle", help="oracle (true regimes, fair value, OU speed) vs learned signals on the demo market"
    )
    p.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY,AUDUSD")
    p.add_argument("--from", dest="start", default="2020-01-06")
    p.add_argument("--split", default="2020-02-17")
    p.add_argument("--to", dest="end", default="2020-04-04")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--calendar", default="", help="calendar CSV/JSON (default: ../shared/data's)")
    p.add_argument("--entry-z", type=float, default=1.5, help="oracle entry: |true deviation| / calm sd")
    p.add_argument("--workdir", default="runs/oracle", help="models and oracle_vs_learned.json go here")
    p.add_argument("--out", default="", help="also write the Markdown table to this file")
    p.set_defaults(func=_oracle)

    p = sub.add_parser("stress", help="Monte Carlo spread shocks on a run's test window → RUN/stress.json")
    _replay_args(p)
    p.add_argument("--n", type=int, default=100, help="number of scenarios")
    p.add_argument("--seed-mc", type=int, default=0, help="Monte Carlo seed")
    p.add_argument("--jitter-sigma", type=float, default=0.25)
    p.add_argument("--jitter-block-min", type=int, default=15)
    p.add_argument("--episodes-per-week", type=float, default=1.0)
    p.add_argument("--widen", default="5,20", help="crisis multiplier range LO,HI (log-uniform)")
    p.add_argument("--duration-min", default="15,240", help="episode duration range in minutes LO,HI")
    p.add_argument("--common-share", type=float, default=0.5)
    p.add_argument("--anchor", choices=("bid", "mid"), default="bid")
    p.set_defaults(func=_stress)

    p = sub.add_parser("latency", help="latency degradation curve on a run's test window → RUN/latency.json")
    _replay_args(p)
    p.add_argument(
        "--latencies",
        default="0,250,1000,30000,60000,90000,120000,150000,180000,240000",
        help="comma-separated order latencies, ms",
    )
    p.add_argument(
        "--dist",
        default="",
        help="also evaluate a distribution: fixed:L, uniform:A,B, "
        "lognormal:MEDIAN,SIGMA, empirical:L1,L2,... (ms)",
    )
    p.add_argument("--k", type=int, default=5, help="quantile strata for --dist")
    p.set_defaults(func=_latency)
