"""Data commands: ``hslr data synth``, ``hslr ingest histdata``, ``hslr replay``."""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

from streams.cli.options import parse_day, parse_pairs, parse_speed
from streams.core.batch import Batch
from streams.services.replay import replay


def _synth(args: argparse.Namespace) -> int:
    from streams.data.synth import generate_market
    from streams.storage.bars import save_bars
    from streams.storage.db import connect

    calendar = _calendar(args.calendar) if args.calendar else None
    t0 = time.perf_counter()
    market = generate_market(
        parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end), args.seed, calendar=calendar
    )
    bars = Batch(market.bars)
    t1 = time.perf_counter()
    with connect() as conn:
        save_bars(conn, bars)
    print(
        f"generated {bars.n} bars in {t1 - t0:.1f}s, stored in price_data/spread_data in "
        f"{time.perf_counter() - t1:.1f}s (source synth:{args.seed})"
    )
    return 0


def _calendar(path: str) -> dict[str, Any]:
    from streams.data.calendar import read_calendar_csv, read_calendar_json

    return read_calendar_json(path) if path.endswith(".json") else read_calendar_csv(path)


def _read_side(paths: list[str], pair: str, now_ms: int) -> tuple[list[Any], Any]:
    from streams.services.bars import read_files

    results, bars, repeats = read_files(paths, pair, not_after_ms=now_ms)
    empty = [path for path, res in zip(paths, results, strict=True) if res.lines_read == 0]
    if empty:  # checked before anything is written
        raise ValueError(f"no data lines in {', '.join(empty)}")
    if repeats:
        print(f"{repeats} bars repeat a minute of an earlier file: the first file's bar is kept")
    return results, bars


def _spread_lines(fill: Any) -> list[str]:
    import json

    lines = []
    if fill.real:
        lines.append(
            f"spreads: {fill.real} real (ask close - bid close from the ask files; {fill.crossed} crossed "
            "closes took the median of the four ask - bid differences)"
        )
    if fill.modeled:
        lines.append(
            f"spreads: {fill.modeled} modelled by {fill.model['id']} (bid-only minutes), parameters "
            + json.dumps(fill.model["params"], sort_keys=True)
        )
    return lines


def _ingest(args: argparse.Namespace) -> int:
    from streams.binding.kafka_io import Out, ensure_topics, publish
    from streams.data.spreads import fill_spreads
    from streams.fx.pairs import normalize_pair
    from streams.settings import settings
    from streams.storage.bars import save_bars, save_quarantine
    from streams.storage.db import connect

    pair = normalize_pair(args.pair)  # one pair per ingest: "" or "EURUSD,GBPUSD" is an error (exit 2)
    now = int(time.time() * 1000)
    results, bid = _read_side(args.files, pair, now)
    ask_results, ask = _read_side(args.ask, pair, now) if args.ask else ([], None)
    s = settings()
    ns = args.namespace or s.hslr_namespace
    filled, fill = fill_spreads(bid, ask)
    bars = Batch(filled)
    ensure_topics(s.kafka_bootstrap_servers, ns)
    out = Out(s.kafka_bootstrap_servers)
    with connect() as conn:
        # one transaction, committed only after the bars are published and flushed: a failure anywhere
        # rolls the ingest back, so a re-ingest publishes it (downstream drops repeats)
        try:
            new = save_bars(conn, bars, commit=False)
            for path, res in zip([*args.files, *args.ask], [*results, *ask_results], strict=True):
                save_quarantine(
                    conn,
                    f"ingest:histdata:{pair}:{Path(path).name}",
                    [(r.pair, r.ts_ms, r.line_no, r.reason, r.raw) for r in res.rejects],
                    namespace=ns,
                    commit=False,
                )
            publish(out, "bars", bars.take(new), ns)
            out.flush()
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    for path, res in zip([*args.files, *args.ask], [*results, *ask_results], strict=True):
        side = "ask " if path in args.ask else ""
        clock = (
            f"; clock: {res.clock.weeks_utc5} weeks read as UTC-5, {res.clock.weeks_utc4} as UTC-4 "
            f"(anchored to the 17:00 New York open/close), {res.clock.weeks_unanchored} unanchored"
            if res.clock
            else ""
        )
        print(
            f"{side}{path}: {res.lines_read} lines, {len(res.bars['ts'])} valid bars, "
            f"{len(res.rejects)} quarantined with reasons{clock}"
        )
    print(f"{pair}: {bars.n} bars stored ({int(new.sum())} new or changed, published to {ns}.bars)")
    for line in _spread_lines(fill):
        print(line)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from streams.settings import settings

    ns = args.namespace or settings().hslr_namespace
    run = args.run_id or f"replay-{uuid.uuid4().hex[:8]}"
    speed = parse_speed(args.speed)
    pairs, start, end = parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end)
    if start >= end:
        raise ValueError(f"--from {args.start} is not before --to {args.end}")
    t0 = time.perf_counter()
    n = replay(
        pairs,
        start,
        end,
        namespace=ns,
        run=run,
        speed=speed,
    )
    dt = time.perf_counter() - t0
    print(f"replayed {n} bars to {ns}.bars in {dt:.1f}s ({n / max(dt, 1e-9):,.0f} bars/s), run id {run}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("data", help="synthetic market data")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("synth", help="generate a seeded synthetic market with ground truth into PostgreSQL")
    q.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY,AUDUSD")
    q.add_argument("--from", dest="start", required=True)
    q.add_argument("--to", dest="end", required=True)
    q.add_argument("--seed", type=int, default=7)
    q.add_argument("--calendar", default="", help="calendar CSV/JSON: events become shocks at their times")
    q.set_defaults(func=_synth)

    p = sub.add_parser("ingest", help="ingest market data files")
    isub = p.add_subparsers(dest="ingest_command", required=True)
    q = isub.add_parser("histdata", help="HistData.com M1 files (CSV or ZIP)")
    q.add_argument("files", nargs="+", help="bid bars (HistData ;-layouts or timestamp,open,high,low,close)")
    q.add_argument("--pair", required=True)
    q.add_argument(
        "--ask",
        nargs="+",
        default=[],
        help="ask bars of the same pair: their minutes get the real spread (ask close - bid close)",
    )
    q.add_argument("--namespace", default="")
    q.set_defaults(func=_ingest)

    p = sub.add_parser("replay", help="publish stored bars to the bars topic in event-time order")
    p.add_argument("--pairs", required=True)
    p.add_argument("--from", dest="start", required=True)
    p.add_argument("--to", dest="end", required=True)
    p.add_argument("--speed", default="max", help="'max' or a real-time multiple, e.g. 60")
    p.add_argument("--namespace", default="")
    p.add_argument("--run-id", default="")
    p.set_defaults(func=_replay)
