"""``hslr calendar import FILE...`` and ``hslr calendar poll --url URL``: economic-calendar commands.

Both turn ForexFactory data into ``calendar_event`` batches (:func:`to_calendar_batch`). With ``--kafka``
the batches are published to the ``calendar`` topic (the news stage's live updates); with ``--db`` they
are upserted into the ``calendar_events`` table (the reference calendar a news worker loads at start).
Without either flag the commands only parse and print a summary.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from streams.core.batch import Batch
from streams.data.calendar import import_calendar

__all__ = ["add_commands", "summary"]

Sink = Callable[[Batch], None]


def summary(batch: Batch) -> str:
    """Return a one-paragraph description: count, time range, events per impact."""
    if not batch.n:
        return "0 events"
    lo, hi = (
        np.datetime_as_string(np.datetime64(int(x), "ms"), unit="m")
        for x in (batch["ts"].min(), batch["ts"].max())
    )
    imp, cnt = np.unique(batch["impact"], return_counts=True)
    per = ", ".join(f"{i} {c}" for i, c in zip(imp.tolist(), cnt.tolist(), strict=True))
    return f"{batch.n} events {lo}Z .. {hi}Z ({per}); {len(np.unique(batch['event_id']))} distinct ids"


def _sinks(args: argparse.Namespace) -> list[Sink]:
    sinks: list[Sink] = []
    if args.kafka:
        from streams.binding.kafka_io import Out, ensure_topics, publish
        from streams.settings import settings

        s = settings()
        ns = args.namespace or s.hslr_namespace
        ensure_topics(s.kafka_bootstrap_servers, ns)
        out = Out(s.kafka_bootstrap_servers)

        def to_kafka(b: Batch) -> None:
            publish(out, "calendar", b, ns)
            out.flush()

        sinks.append(to_kafka)
    if args.db:
        from streams.storage.calendar_store import upsert_events
        from streams.storage.db import connect

        def to_db(b: Batch) -> None:
            with connect() as conn:
                upsert_events(conn, b)

        sinks.append(to_db)
    return sinks


def _import(args: argparse.Namespace) -> int:
    batch = import_calendar(args.files, args.tz)
    for sink in _sinks(args):
        sink(batch)
    where = [w for w, on in (("Kafka", args.kafka), ("PostgreSQL", args.db)) if on]
    print(f"calendar import: {summary(batch)}" + (f" -> {' and '.join(where)}" if where else " (dry run)"))
    return 0


def _poll(args: argparse.Namespace) -> int:
    from streams.binding.calendar_client import CalendarClient

    client = CalendarClient(args.url, timeout_s=args.timeout)
    sinks = _sinks(args)
    for batch in client.poll(args.interval, iterations=args.iterations or None):
        for sink in sinks:
            sink(batch)
        print(f"calendar poll: {summary(batch)}", flush=True)
    print(f"calendar poll: stopped; {client.stats}")
    return 0


def _common(p: Any) -> None:
    p.add_argument("--kafka", action="store_true", help="publish to the calendar topic")
    p.add_argument("--db", action="store_true", help="upsert into the calendar_events table")
    p.add_argument("--namespace", default="", help="topic namespace (default: HSLR_NAMESPACE)")


def add_commands(sub: Any) -> None:
    """Register ``calendar import`` and ``calendar poll`` on the ``hslr`` sub-parsers."""
    p = sub.add_parser("calendar", help="economic calendar (ForexFactory) import and live polling")
    csub = p.add_subparsers(dest="calendar_command", required=True)
    q = csub.add_parser("import", help="import merged CSV / daily JSON calendar files")
    q.add_argument("files", nargs="+")
    q.add_argument(
        "--tz", default="UTC", help="time zone of times written without an offset (e.g. America/New_York)"
    )
    _common(q)
    q.set_defaults(func=_import)
    q = csub.add_parser("poll", help="poll a ForexFactory-JSON endpoint and emit new or changed events")
    q.add_argument("--url", required=True, help="endpoint; may contain {date}, {year}, {month}, {day}")
    q.add_argument("--interval", type=float, default=60.0, help="seconds between polls")
    q.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per request")
    q.add_argument("--iterations", type=int, default=0, help="stop after N polls (0: run until stopped)")
    _common(q)
    q.set_defaults(func=_poll)
