"""``hslr live``: the whole DAG on a live OANDA v20 price stream, paper broker by default.

``hslr live --paper`` (the default) streams prices, builds 1-minute bars, publishes them with their
watermarks to the namespace's ``bars`` topic and runs the fused worker on them; orders stay on the
``orders`` topic and fill in the trader's paper broker. ``hslr live --broker oanda --env practice``
also sends every order to the OANDA account, after a startup reconciliation that must find the
broker's working orders, positions and open trades equal to the trader's book, streams the account's
transactions to ``broker.fills``, runs the worker with ``[trader.execution] fill_source = "broker"``
and compares working orders and positions every ``--reconcile-s``. ``--env live`` trades real money
and needs ``--confirm-live`` as well. ``--resume-after-s`` lets the feed gateway resume its own
stale-feed HALT (a signed RESUME). Stop with Ctrl-C (or SIGTERM); ``hslr halt`` stops new orders first.
"""

from __future__ import annotations

import argparse
import logging
import signal
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

log = logging.getLogger("hslr.live")


def _endpoint(args: argparse.Namespace) -> Any:
    from streams.live.endpoint import V20Endpoint
    from streams.settings import oanda_token, settings

    s = settings()
    env = args.env or s.oanda_env
    if args.feed_url:  # a local v20 server (soak test, benchmark)
        return V20Endpoint.local(args.feed_url.rstrip("/"), s.oanda_account_id or "101-000-0000000-001")
    return V20Endpoint.for_env(env, s.oanda_account_id, oanda_token(s))


def _check_mode(args: argparse.Namespace) -> bytes | None:
    """Refuse a dangerous or impossible mode; the control key that signs the feed's RESUME (if any)."""
    from streams.settings import control_key, settings

    env = args.env or settings().oanda_env
    if args.broker == "oanda" and env == "live" and not args.confirm_live:
        raise ValueError("--broker oanda --env live sends real-money orders: add --confirm-live to mean it")
    if args.resume_after_s <= 0:
        return None
    key = control_key()
    if key is None:
        raise ValueError(
            "--resume-after-s: the feed's RESUME must be signed: set HSLR_CONTROL_KEY or HSLR_CONTROL_KEY_FILE"
        )
    return key


def _worker_config(args: argparse.Namespace, config: Any, ns: str) -> tuple[Any, str | None]:
    """The config the worker runs: the user's, or with ``--broker oanda`` the user's plus
    ``fill_source = "broker"``, written to this run's temp folder (its path is printed)."""
    import json

    from streams.config import dump_config, with_fill_source

    if args.broker != "oanda":
        return config, args.config or None
    effective = with_fill_source(config, "broker")
    path = Path(tempfile.mkdtemp(prefix=f"hslr-live-{ns}-")) / "config.json"
    path.write_text(json.dumps(dump_config(effective), indent=1, sort_keys=True))
    print(
        f'worker config: {args.config or "defaults"} + fill_source = "broker", written to {path}', flush=True
    )
    return effective, str(path)


def _broker_fills(
    args: argparse.Namespace, out: Any, ns: str, broker: Any, system: Any, check: Any | None
) -> Any:
    """The transaction-stream thread, from the account's last transaction at reconciliation; the
    trader's working orders are its known orders (their sizes are the trader's remaining units)."""
    from streams.binding.live import BrokerFills
    from streams.live.health import StreamHealth
    from streams.live.oanda_transactions import OandaTransactionStream
    from streams.live.v20_transactions import SentOrder, TransactionSession

    session = TransactionSession()
    for cid, o in system.orders.items():
        session.orders[cid] = SentOrder(o.pair, 1 if o.units > 0 else -1, abs(o.units), o.price)
    stream = OandaTransactionStream(
        broker.endpoint, broker.last_transaction_id, health=StreamHealth(silent_after_s=args.silent_s)
    )
    fills = BrokerFills(out, ns, stream, session, on_report=check.touch if check is not None else None)
    fills.start()
    print(f"transaction stream from transaction {broker.last_transaction_id} -> broker.fills", flush=True)
    return fills


def _live(args: argparse.Namespace) -> int:
    from streams.binding.book_check import system_book, trader_reader
    from streams.binding.kafka_io import Out, ensure_topics
    from streams.binding.live import FeedGateway, OrderConsumer, publish_halt
    from streams.binding.workers import worker
    from streams.config import load_config
    from streams.dag import STAGE_FACTORIES
    from streams.fx.hours import is_open_at
    from streams.infra import bootstrap_servers
    from streams.live.health import StreamHealth
    from streams.live.oanda_stream import OandaPriceStream
    from streams.live.session import FeedSession
    from streams.settings import settings

    resume_key = _check_mode(args)
    s = settings()
    config = load_config(args.config or s.hslr_config or None)
    pairs = tuple(config.market.pairs) or tuple(args.pairs.split(","))
    ns, boot = args.namespace or s.hslr_namespace, bootstrap_servers()
    endpoint = _endpoint(args)
    sid = "_".join(STAGE_FACTORIES)
    ensure_topics(boot, ns, [sid])
    out = Out(boot)
    config, worker_config = _worker_config(args, config, ns)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with ExitStack() as stack:
        if not args.no_worker:
            wlog = Path(args.worker_log or Path(tempfile.gettempdir()) / f"hslr-live-{ns}.log")
            extra = ["--fuse", *(["--sinks"] if args.sinks else [])]
            cfg_path = Path(worker_config) if worker_config else None
            env = {"HSLR_BATCH_WITHIN_S": str(args.batch_within_s)}  # a minute is not held for a window
            stack.enter_context(worker(list(STAGE_FACTORIES), ns, cfg_path, wlog, env=env, args=extra))
            print(f"fused worker started (log {wlog})", flush=True)
        if args.broker == "oanda":
            from streams.live.gateway import OrderGateway
            from streams.live.oanda_broker import OandaBroker

            broker = OandaBroker(endpoint, gtd_min=args.gtd_min)
            gateway = OrderGateway(broker)
            from streams.fx.pairs import KNOWN_PAIRS

            book_pairs = tuple(config.trader.portfolio.pairs or KNOWN_PAIRS)  # the trader's position order
            trader = trader_reader(boot, ns, config)
            system = system_book(trader(), book_pairs)
            found = gateway.start(system, args.avg_tol_pips)
            if found:
                reason = "reconciliation: " + "; ".join(str(m) for m in found)
                publish_halt(out, ns, reason[:900])
                log.error("trading blocked until resolved: %s", reason)
            check = None
            if args.reconcile_s > 0:
                from streams.binding.book_check import BookCheck
                from streams.live.reconcile import InFlight

                check = BookCheck(
                    out,
                    ns,
                    OandaBroker(endpoint).book,  # its own HTTP session: the gateway's is the consumer's
                    lambda: system_book(trader(), book_pairs),
                    args.reconcile_s,
                    in_flight=InFlight(window_ms=int(args.in_flight_s * 1000)),
                )
            fills = _broker_fills(args, Out(boot), ns, broker, system, check)  # its own producer
            stack.callback(fills.stop)
            consumer = OrderConsumer(
                boot,
                ns,
                gateway,
                on_ack=None
                if check is None
                else lambda rec, _: check.touch(rec["client_order_id"], rec["ts"]),
                on_new=fills.session.expect,
            )
            if check is not None:
                check.start()
                stack.callback(check.stop.set)
            consumer.start()
            consumer.wait_assigned()
            stack.callback(consumer.stop.set)
        print(f"live: {len(pairs)} pairs from {endpoint!r}, broker {args.broker}, namespace {ns}", flush=True)
        feed = OandaPriceStream(
            endpoint,
            pairs,
            health=StreamHealth(silent_after_s=args.silent_s, stall_after_s=args.stall_s),
            market_open=lambda: bool(is_open_at(time.time())),
        )
        session = FeedSession(
            pairs, grace_ms=args.grace_ms, resume_after_ms=int(args.resume_after_s * 1000), key=resume_key
        )
        FeedGateway(out, ns, session, "live:oanda", args.tick_volume).run(feed, stop)
    return 0


def add_commands(sub: Any) -> None:
    from streams.live.reconcile import AVG_TOL_OFF

    p = sub.add_parser("live", help="run the DAG on the OANDA v20 price stream (paper broker by default)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help="paper broker (the default)")
    mode.add_argument("--broker", default="paper", choices=["paper", "oanda"], help="where orders go")
    p.add_argument(
        "--env", default="", choices=["", "practice", "live"], help="OANDA environment (default OANDA_ENV)"
    )
    p.add_argument("--confirm-live", action="store_true", help="required with --broker oanda --env live")
    p.add_argument("--config", default="", help="pipeline config TOML (its [market] pairs are streamed)")
    p.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY", help="pairs when the config names none")
    p.add_argument("--namespace", default="")
    p.add_argument("--feed-url", default="", help="a local v20 server instead of OANDA (tests, benchmark)")
    p.add_argument("--grace-ms", type=int, default=500, help="late quotes still taken after a minute ends")
    p.add_argument("--silent-s", type=float, default=15.0, help="no price and no heartbeat: stale")
    p.add_argument(
        "--stall-s", type=float, default=120.0, help="heartbeats but no price (market open): stale"
    )
    p.add_argument(
        "--resume-after-s",
        type=float,
        default=0.0,
        help="resume the feed's own stale HALT after prices flow again this long (0: operator resumes)",
    )
    p.add_argument(
        "--reconcile-s",
        type=float,
        default=60.0,
        help="broker vs trader orders and positions every N s (0: off)",
    )
    p.add_argument(
        "--avg-tol-pips",
        type=float,
        default=AVG_TOL_OFF,
        help="startup: block if open trades' price is this far from the trader's average entry "
        "(default: off; v20 closes trades FIFO, the trader keeps an average cost)",
    )
    p.add_argument(
        "--in-flight-s",
        type=float,
        default=30.0,
        help="orders sent/cancelled/filled this recently are not compared",
    )
    p.add_argument("--gtd-min", type=int, default=0, help="OANDA orders good till decision + N min (0: GTC)")
    p.add_argument("--tick-volume", action="store_true", help="bars carry quote counts as volume")
    p.add_argument("--sinks", action="store_true", help="the worker also persists to PostgreSQL/Redis")
    p.add_argument("--no-worker", action="store_true", help="only the gateways (a worker runs elsewhere)")
    p.add_argument("--worker-log", default="")
    p.add_argument(
        "--batch-within-s",
        type=float,
        default=0.0,
        help="the worker's batching window (HSLR_BATCH_WITHIN_S; 0: a batch is what has arrived)",
    )
    p.set_defaults(func=_live)
