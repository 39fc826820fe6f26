"""``hslr backtest`` (the full DAG over stored history, either engine) and ``hslr demo`` (the main job)."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.core.batch import Batch
from streams.services.runs import default_calendar_path, record_run, with_models


def _bars(args: argparse.Namespace) -> Batch:
    from streams.cli.options import parse_day, parse_pairs
    from streams.services.bars import get_bars

    bars, _ = get_bars(
        args.source, parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end), args.seed
    )
    return bars


def _backtest(args: argparse.Namespace) -> int:
    from backtest.artifacts import save_run_artifacts
    from backtest.blotter import write_blotter
    from backtest.econ_eval import edge_skill_verdict
    from backtest.engine import run_engine, summarize
    from models.artifacts import read_meta
    from streams.cli.options import parse_day
    from streams.config import load_config
    from streams.data.spreads import spread_provenance
    from streams.services.calendar import backtest_calendar
    from streams.settings import data_path, settings

    config = load_config(args.config or settings().hslr_config or None)  # as `hslr worker` does
    explicit = config.news.calendar_path or args.calendar
    calendar, calendar_info = backtest_calendar(explicit, parse_day(args.start), parse_day(args.end))
    if calendar and not config.news.calendar_path:
        config = with_models(config, config.regime.model_path, config.edge.model_path, calendar)
    run_id = f"bt-{args.engine}-{config.digest()}-{uuid.uuid4().hex[:6]}"
    run_dir = Path("runs") / run_id
    bars = _bars(args)
    t0 = time.perf_counter()
    kafka = {"workdir": run_dir, "fuse": args.fuse} if args.engine == "kafka" else {}
    out = run_engine(args.engine, bars, config, **kafka)
    elapsed = time.perf_counter() - t0
    summary = {
        "run_id": run_id,
        "engine": args.engine,
        "seconds": round(elapsed, 2),
        "bars_per_s": round(bars.n / max(elapsed, 1e-9)),
        **summarize(bars, out, config.trader.portfolio.initial_equity_usd),
        "spreads": spread_provenance({k: bars[k] for k in ("spread_modeled", "source")}),
        "calendar": calendar_info,
        "edge_skill": edge_skill_verdict(read_meta(data_path(config.edge.model_path)).params.get("model", {}))
        if config.edge.model_path
        else {"checked": False, "summary": "no edge model configured"},
    }
    record_run(run_id, f"backtest:{args.engine}", config, summary, run_dir)
    write_blotter(run_dir, out, config.trader.portfolio.initial_equity_usd)
    save_run_artifacts(
        run_dir,
        out,
        {"source": args.source, "pairs": args.pairs, "from": args.start, "to": args.end, "seed": args.seed},
    )
    print(json.dumps(summary, indent=None if args.json else 1, default=str))
    return 0


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    from backtest.artifacts import save_run_artifacts
    from backtest.blotter import write_blotter
    from backtest.econ_eval import edge_skill_verdict
    from backtest.engine import run_kafka_engine, summarize
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import build_config
    from streams.data.synth import generate_market
    from streams.services.features import compute_features
    from streams.services.runs import code_version
    from streams.storage.bars import load_bars, save_bars
    from streams.storage.db import connect
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    pairs = parse_pairs(args.pairs)
    start, split, end = parse_day(args.start), parse_day(args.split), parse_day(args.end)
    calendar = default_calendar_path(args.calendar)
    run_id = f"demo-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:4]}"
    run_dir = Path("runs") / run_id
    cal = None
    if calendar:
        from streams.data.calendar import read_calendar_file

        cal = dict(read_calendar_file(calendar))
    _say(
        f"generating a synthetic market for {pairs}, {start:%Y-%m-%d}..{end:%Y-%m-%d} (seed {args.seed}; "
        f"event shocks at {'the real calendar' if cal else 'random'} high-impact times)"
    )
    market = generate_market(pairs, start, end, args.seed, calendar=cal)
    with connect() as conn:
        save_bars(conn, Batch(market.bars))
        train_bars = load_bars(conn, pairs, start, split)
        test_bars = load_bars(conn, pairs, split, end)
    _say(
        f"stored {len(market.bars['ts'])} bars in price_data; training on {train_bars.n}, replaying {test_bars.n}"
    )
    base = build_config({"market": {"pairs": list(pairs)}})  # the pairs that make a minute complete
    features = compute_features(train_bars, base)
    now, version = datetime.now(tz=UTC), code_version()
    params = {"pairs": ",".join(pairs), "source": f"synth:{args.seed}"}
    regime = train_regime_artifact(
        features,
        base.regime,
        created_at=now,
        code_version=version,
        params=params,
        root=run_dir / "models" / "regime",
    )
    edge = train_edge_artifact(
        features,
        base.edge,
        created_at=now,
        code_version=version,
        params=params,
        root=run_dir / "models" / "edge",
        xcfg=base.trader.execution,
    )
    from streams.services.models import register

    with connect() as conn:  # every trained artifact gets its registry row (promotable, checksummed)
        ids = [register(t.path, conn) for t in (regime, edge)]
    _say(f"registered {', '.join(ids)} in model_registry")
    _say(
        f"regime model: out-of-sample accuracy {regime.report['accuracy']:.3f} vs majority "
        f"{regime.report['baseline_accuracy']:.3f}; edge model saved ({edge.path.name})"
    )
    config = with_models(base, str(regime.path), str(edge.path), calendar)
    _say("replaying the test window through the Faust workers over Kafka ...")
    t0 = time.perf_counter()
    out = run_kafka_engine(test_bars, config, workdir=run_dir)
    elapsed = time.perf_counter() - t0
    summary = {
        "run_id": run_id,
        "engine": "kafka",
        "seconds": round(elapsed, 2),
        "bars_per_s": round(test_bars.n / max(elapsed, 1e-9)),
        **summarize(test_bars, out, config.trader.portfolio.initial_equity_usd),
        "edge_skill": edge_skill_verdict(edge.meta.params.get("model", {})),
        "outputs": {
            "run_dir": str(run_dir),
            "models": str(run_dir / "models"),
            "postgres": "price_data, backtest_runs (database hslr)",
            "worker_logs": str(run_dir / "worker-*.log"),
        },
    }
    record_run(run_id, "demo", config, summary, run_dir)
    write_blotter(run_dir, out, config.trader.portfolio.initial_equity_usd)
    save_run_artifacts(run_dir, out, {"source": "db", "pairs": pairs, "from": args.split, "to": args.end})
    print(json.dumps(summary, indent=1, default=str))
    return 0


def _common(p: Any) -> None:
    p.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY,AUDUSD")
    p.add_argument(
        "--calendar",
        default="",
        help="calendar CSV/JSON (backtest default: the events stored by `hslr calendar import --db` for "
        "the window, else ../shared/data's CSV)",
    )
    p.add_argument("--seed", type=int, default=7)


def add_commands(sub: Any) -> None:
    p = sub.add_parser("backtest", help="run the full DAG over stored history and print a summary")
    p.add_argument("--engine", choices=("kafka", "inprocess"), default="inprocess")
    p.add_argument("--from", dest="start", required=True)
    p.add_argument("--to", dest="end", required=True)
    p.add_argument("--source", choices=("db", "synth"), default="db")
    p.add_argument("--config", default="", help="pipeline config TOML (default: env HSLR_CONFIG)")
    p.add_argument("--json", action="store_true", help="one-line JSON")
    p.add_argument(
        "--fuse",
        action="store_true",
        help="kafka engine: co-locate each worker's stages as one agent (hslr worker --fuse)",
    )
    _common(p)
    p.set_defaults(func=_backtest)

    p = sub.add_parser("demo", help="the main job: synthetic market → train → replay through Faust → summary")
    p.add_argument("--from", dest="start", default="2020-01-06")
    p.add_argument("--split", default="2020-02-17", help="training ends, replay starts (UTC day)")
    p.add_argument("--to", dest="end", default="2020-04-04")
    _common(p)
    p.set_defaults(func=_demo)
