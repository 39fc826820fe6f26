"""Soak test of the live path (budget: 3 minutes): the local v20 server streams quotes of 12 pairs
(2 per second of market time, heartbeats every 5 s, a malformed line per minute, older untyped PRICE
objects, a disconnect mid-line) at 0.4 s of wall time per market minute; the feed gateway turns them into
bars and watermarks on Kafka; the fused worker decides every minute. The live bars equal the bars
computed from the quotes by pandas, the orders, fills and portfolio equal an in-process replay of
the same minutes (replay == live), and the order gateway (reconciled against a fresh account) has sent
every live NEW order to the v20 server as a LIMIT order with our client id, size and price."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from backtest.engine import run_inprocess_engine
from streams.binding.book_check import trader_reader
from streams.binding.kafka_io import (
    Out,
    collect,
    ensure_topics,
    publish,
    publish_marker,
    read_to_end,
)
from streams.binding.live import FeedGateway, OrderConsumer
from streams.binding.workers import fresh_namespace, worker
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch, concat
from streams.dag import STAGE_FACTORIES, build_stages, fuse
from streams.data.synth import generate_market
from streams.fx.pairs import KNOWN_PAIRS
from streams.infra import bootstrap_servers
from streams.live.endpoint import V20Endpoint
from streams.live.gateway import OrderGateway
from streams.live.oanda_broker import OandaBroker
from streams.live.oanda_stream import OandaPriceStream
from streams.live.pacing import Backoff
from streams.live.reconcile import Book
from streams.live.session import FeedSession
from tests.kit.decided import decided
from tests.kit.v20_quotes import expected_bars, quotes_for_bars, script, split_with_cut
from tests.kit.v20_server import V20Server

pytestmark = pytest.mark.integration
LIVE_MIN = 20
MINUTE = 60_000


def _window_with_orders(market: Batch, config: HSLRConfig) -> int:
    """Start of the first 20-minute stretch (after the features' two-day warm-up) in which the replay
    sends orders (the pipeline is causal: a replay of a prefix decides its minutes the same way)."""
    orders = run_inprocess_engine(market, config)["orders"]
    after = int(np.datetime64("2020-02-05T06:00", "ms").astype(np.int64))
    ts = np.sort(orders["ts"][(orders["action"] == "NEW") & (orders["ts"] > after + LIVE_MIN * MINUTE)])
    assert ts.size, "the replay sends no order on 2020-02-05"
    return int(ts[0]) - LIVE_MIN // 2 * MINUTE  # the order's decision minute sits mid-window


def test_soak_v20_stream_to_orders_equals_replay(
    services: dict[str, str], tmp_path: Path, trained: tuple[Batch, HSLRConfig, dict[str, Batch]]
) -> None:
    _, trained_config, _ = trained
    pairs = tuple(KNOWN_PAIRS)
    config = trained_config.model_copy(
        update={"market": trained_config.market.model_copy(update={"pairs": pairs})}
    )
    market = Batch(generate_market(list(pairs), "2020-02-03", "2020-02-05T18:00", 5).bars)
    start = _window_with_orders(market, config)
    market = market.take(market["ts"] < start + LIVE_MIN * MINUTE)
    history, live_src = market.take(market["ts"] < start), market.take(market["ts"] >= start)
    assert np.unique(live_src["ts"]).size == LIVE_MIN
    quotes = quotes_for_bars(live_src, per_minute=120)
    want_live = expected_bars(quotes, "live:oanda")
    expected = run_inprocess_engine(concat([history, want_live]), config)

    ns = fresh_namespace("soak")
    stage = fuse(build_stages(config))
    ensure_topics(bootstrap_servers(), ns, [stage.spec.id])
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    out = Out(bootstrap_servers())
    trader = trader_reader(bootstrap_servers(), ns, config)
    env = {"HSLR_BATCH_WITHIN_S": "0.001", "HSLR_MESSAGE_RECORDS": "500"}
    last = int(want_live["ts"].max())
    with (
        V20Server() as server,
        worker(list(STAGE_FACTORIES), ns, cfg, tmp_path / "worker.log", env=env, args=["--fuse"]) as w,
    ):
        server.scripts.extend(split_with_cut(list(script(quotes, wall_s_per_minute=0.4)), minute_changes=5))
        publish(out, "bars", history, ns, max_records=500)
        out.flush()
        orders_gw = OrderGateway(OandaBroker(V20Endpoint.local(server.url)))
        assert orders_gw.start(Book({}, {})) == []  # a fresh account and book: trading opens
        consumer = OrderConsumer(bootstrap_servers(), ns, orders_gw)
        consumer.start()
        consumer.wait_assigned()
        feed = OandaPriceStream(
            V20Endpoint.local(server.url), pairs, backoff=Backoff(initial_s=0.05, cap_s=0.2)
        )
        gateway = FeedGateway(Out(bootstrap_servers()), ns, FeedSession(pairs, grace_ms=500), "live:oanda")
        runner = threading.Thread(target=gateway.run, args=(feed,), daemon=True)
        runner.start()
        t0 = time.monotonic()
        while last not in gateway.minute_published:
            assert runner.is_alive(), "the feed gateway stopped"
            assert time.monotonic() - t0 < 90, (
                f"feed published through {max(gateway.minute_published, default=-1)}"
            )
            time.sleep(0.1)
        feed.close()
        runner.join(10)
        while decided(trader) < last:
            assert w.poll() is None, "the worker died"
            assert time.monotonic() - t0 < 150, "the last live minute was not decided"
            time.sleep(0.2)
        publish_marker(out, "bars", "live", ns)
        out.flush()
        got = collect(
            bootstrap_servers(),
            ["orders", "fills", "portfolio"],
            "live",
            ns,
            timeout=120,
            alive=lambda: w.poll() is None,
        )
        live_new = got["orders"].take((got["orders"]["ts"] > start) & (got["orders"]["action"] == "NEW"))
        live_new = live_new.take(live_new["reason"] == "")
        while not set(live_new["client_order_id"].tolist()) <= set(server.orders):
            assert time.monotonic() - t0 < 170, "live orders did not reach the v20 server"
            time.sleep(0.2)
        consumer.stop.set()
        bars_topic = read_to_end(bootstrap_servers(), "bars", ns)
        quarantine = read_to_end(bootstrap_servers(), "quarantine", ns)
    # the cut mid-line, then a reconnect (a third may follow once the script has ended)
    assert len(server.connection_times) >= 2
    assert gateway.session.counts["Quote"] >= len(quotes)  # the line cut mid-way was replayed
    assert quarantine.n >= LIVE_MIN - 1  # one malformed line per minute change, each with its reason
    assert all("not JSON" in r for r in quarantine["reason"].tolist())
    live_bars = bars_topic.take(bars_topic["ts"] >= start)
    assert live_bars.equals(want_live)
    assert int((expected["orders"]["ts"] > start).sum()) > 0  # orders decided on live minutes
    for key in ("orders", "fills", "portfolio"):
        assert got[key].equals(expected[key]), key
    # the live orders reached the v20 server as LIMIT orders with our ids, sizes and prices
    assert live_new.n > 0
    for cid, side, qty, px in zip(
        *(live_new[k].tolist() for k in ("client_order_id", "side", "qty", "limit_price")), strict=True
    ):
        sent = server.orders[cid]
        assert (sent["type"], float(sent["units"])) == ("LIMIT", side * qty)
        assert (
            abs(float(sent["price"]) - px) < 1e-3 * 1.0001
        )  # rounded to the pair's precision, away from the market
        assert (float(sent["price"]) - px) * side <= 1e-12
