"""Operations commands: ``hslr infra``, ``hslr db``, ``hslr worker``, ``hslr halt`` / ``hslr resume``."""

from __future__ import annotations

import argparse
import atexit
import os
import time
from typing import Any


def _infra(args: argparse.Namespace) -> int:
    from streams import infra

    services = tuple(args.services) or infra.ALL_SERVICES
    if args.action == "up":
        infra.infra_up(services)
    elif args.action == "down":
        infra.infra_down(services)
    for name, state in infra.infra_status().items():
        print(f"{name:<11} {state}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from streams import infra

    applied = infra.db_migrate()
    print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ' (up to date)'}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from streams.binding.faust_app import create_app, run_worker
    from streams.binding.metrics import serve
    from streams.config import load_config
    from streams.core.topics import TOPICS
    from streams.dag import models_in_use, worker_stages
    from streams.infra import register_scrape_target, unregister_scrape_target
    from streams.logs import dict_config, short_level
    from streams.settings import settings

    s = settings()  # options override the environment; nothing is written back to it
    namespace = args.namespace or s.hslr_namespace
    level = args.loglevel or s.hslr_log_level or "warn"
    stage_ids = [x for x in (args.stages or s.hslr_stages).split(",") if x]
    config = load_config(args.config or s.hslr_config or None)
    stages = worker_stages(config, stage_ids, args.fuse or s.hslr_fuse)
    unpublished = frozenset(t for t in s.hslr_unpublished.split(",") if t)
    if unpublished - set(TOPICS):
        raise ValueError(f"HSLR_UNPUBLISHED names unknown topics {sorted(unpublished - set(TOPICS))}")
    sink_topics: list[str] = []
    if args.sinks:  # checked before anything starts: never publish orders that cannot be recorded
        from streams.binding.sink_agents import default_sink_topics, preflight

        outputs = [t for st in stages for t in st.spec.outputs]
        sink_topics = (
            default_sink_topics(outputs) if args.sinks == "auto" else [t for t in args.sinks.split(",") if t]
        )
        preflight(sink_topics)
    port = serve(s.hslr_metrics_port, s.hslr_metrics_addr)
    name = f"{namespace}-{'_'.join(st.spec.id for st in stages)}-{os.getpid()}"
    role = "live" if namespace == s.hslr_namespace else "replay"  # replays pass their own --namespace
    register_scrape_target(name, port, namespace=namespace, role=role)
    atexit.register(unregister_scrape_target, name)
    from streams.binding.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    for kind, version in models_in_use(config, stage_ids).items():
        metrics.model_info(kind, version)
    record_first = None
    if args.sinks:  # orders are stored before they are published (sink_agents.RECORD_FIRST)
        from streams.binding.sink_agents import recorder

        record_first = recorder(sink_topics, namespace=namespace, metrics=metrics)
    app = create_app(
        stages,
        bootstrap=s.kafka_bootstrap_servers,
        namespace=namespace,
        batch_max=s.hslr_batch_max,
        batch_within=s.hslr_batch_within_s,
        max_records=s.hslr_message_records,
        max_fetch_bytes=s.hslr_consumer_max_fetch_bytes,
        metrics=metrics,
        datadir=s.hslr_faust_datadir,
        logging_config=dict_config(level, s.hslr_log_format, s.hslr_run_id or namespace),
        record_first=record_first,
        unpublished=unpublished,
    )
    if args.sinks:  # persistence agents in the same worker (streams/binding/sink_agents.py)
        from streams.binding.sink_agents import add_sinks

        added = add_sinks(
            app, sink_topics, namespace=namespace, metrics=metrics, bootstrap=s.kafka_bootstrap_servers
        )
        print(f"worker sinks: {added}", flush=True)
    print(f"worker {name}: stages {[st.spec.id for st in stages]}, metrics on 127.0.0.1:{port}", flush=True)
    run_worker(app, short_level(level))
    return 0


def _control(args: argparse.Namespace) -> int:
    from streams.core.control_auth import operator_command, parse_at
    from streams.fx.pairs import normalize_pair
    from streams.settings import control_key, settings

    s = settings()
    now = int(time.time() * 1000)
    action = "RESUME" if args.command == "resume" else "HALT"
    pair = normalize_pair(args.pair) if args.pair.strip() else ""  # unknown pair: exit 2, nothing sent
    if args.pair and not args.pair.strip():
        raise ValueError("--pair is empty; omit it to address every pair")
    ts = parse_at(args.at, now)
    key = control_key()
    if action == "RESUME" and key is None:
        raise ValueError(
            "a RESUME must be signed: set HSLR_CONTROL_KEY or HSLR_CONTROL_KEY_FILE "
            "(see infra/hslr.env.example); the trader ignores unsigned ones"
        )
    rec = operator_command(action, pair, ts, args.reason, now, key)
    from streams.binding.kafka_io import Out, ensure_topics, publish
    from streams.core.batch import Batch

    ns = args.namespace or s.hslr_namespace
    ensure_topics(s.kafka_bootstrap_servers, ns)
    out = Out(s.kafka_bootstrap_servers)
    publish(out, "control", Batch.from_records([rec], list(rec)), ns)
    out.flush()
    when = {0: "at the next event"}.get(ts, f"at event time {ts} ms")
    print(
        f"published {action} for {pair or 'every pair'} {when}"
        f"{' (signed)' if rec['signature'] else ' (unsigned)'} ({rec['command_id']})"
    )
    return 0


def _watchdog(args: argparse.Namespace) -> int:
    from streams.binding.kafka_io import ensure_topics
    from streams.binding.watchdog import kafka_publisher, run
    from streams.settings import settings

    s = settings()
    ns = args.namespace or s.hslr_namespace
    ensure_topics(s.kafka_bootstrap_servers, ns)
    print(
        f"watchdog: Prometheus {s.prometheus_url} every {args.interval}s → control commands on {ns}.control",
        flush=True,
    )
    run(
        s.prometheus_url,
        kafka_publisher(s.kafka_bootstrap_servers, ns),
        interval_s=args.interval,
        port=args.port or None,
        namespace=ns,
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("infra", help="start/stop/inspect Kafka, PostgreSQL, Redis, Prometheus on loopback")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("services", nargs="*", default=[], help="kafka postgres redis prometheus (default: all)")
    p.set_defaults(func=_infra)

    p = sub.add_parser("db", help="database schema")
    p.add_argument("action", choices=["migrate"])
    p.set_defaults(func=_migrate)

    p = sub.add_parser("worker", help="run the Faust worker for the DAG's stages (all by default)")
    p.add_argument("--stages", default="", help="comma-separated stage ids (default: all)")
    p.add_argument("--namespace", default="", help="topic namespace (default env HSLR_NAMESPACE or 'hslr')")
    p.add_argument("--config", default="", help="pipeline config TOML")
    p.add_argument(
        "--loglevel",
        default="",
        choices=["", "crit", "error", "warn", "info", "debug"],
        help="default HSLR_LOG_LEVEL, else warn",
    )
    p.add_argument(
        "--fuse",
        action="store_true",
        help="co-locate the stages as one agent: internal topics handed over in memory (one Kafka "
        "hop per decision instead of one per stage; every topic is still published)",
    )
    p.add_argument(
        "--sinks",
        nargs="?",
        const="auto",
        default="",
        help="also persist topics to PostgreSQL/Redis: the stages' outputs, or a comma-separated list",
    )
    p.set_defaults(func=_worker)

    p = sub.add_parser(
        "watchdog",
        help="health monitor: reads Prometheus, publishes KILL/HALT when the system "
        "is unhealthy or blind (Prometheus unreachable or stale)",
    )
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    p.add_argument("--port", type=int, default=0, help="serve the watchdog's own gauges on this port")
    p.add_argument("--namespace", default="")
    p.set_defaults(func=_watchdog)

    for name, doc in (
        ("halt", "operator HALT: no new orders, cancel working ones"),
        ("resume", "operator RESUME: clear a halt or the kill switch"),
    ):
        p = sub.add_parser(name, help=doc)
        p.add_argument("--pair", default="", help="one pair (EURUSD, eur/usd, ...); default: every pair")
        p.add_argument(
            "--at",
            default="now",
            help="event time it takes effect: 'now' (wall clock, live), 'next' (the next event, e.g. of a "
            "replay) or an ISO time",
        )
        p.add_argument("--reason", default="operator")
        p.add_argument("--namespace", default="")
        p.set_defaults(func=_control)
