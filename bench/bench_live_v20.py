"""Live-path latency on the OANDA v20 path: a minute's close -> the order request at the v20 server.

Usage: ``PYTHONPATH=$PWD python bench/bench_live_v20.py [--minutes 1000] [--wall-per-minute 0.25]
[--quotes-per-minute 30] [--models DIR] [--dump FILE]`` (``--dump``: each minute's wall times, to find
which minutes a stall hit).

Method: models are trained as the integration fixture does (3 pairs, 4 weeks of a seeded synthetic
market; cached in ``--models``). A 12-pair synthetic market is turned into v20 price lines
(``tests/kit/v20_quotes.py``) served by the local v20 server (``tests/kit/v20_server.py``, in this
process). ``hslr live --broker oanda --env practice --feed-url <server>`` runs as a subprocess: its feed
gateway (stream -> 1-minute bars + watermark on Kafka), the fused worker it starts, and its order
gateway (``orders`` -> ``POST/PUT`` at the server). Once it has reconciled (empty books) and its order
gateway is assigned, 2.5 days of warm-up bars are published to ``bars`` in bulk (history; their orders
reach the server too, unmeasured) while the stream sends heartbeats; after the trader has decided them,
``--minutes`` minutes are streamed, paced at ``--wall-per-minute`` seconds each, with
``--quotes-per-minute`` quotes per pair.

Measured, wall clock on one machine: ``close``: the server writes the line (quote or heartbeat) whose
time is the first at or after minute end + grace - the line that closes the minute at the gateway;
``order``: the first order request (POST or cancel PUT) at the server for an instruction decided on
that minute; ``feed``: close -> the minute's watermark produced to Kafka (the gateway's part, every
minute); ``order - feed``: Kafka, the fused worker, the order gateway and the HTTP request, split by the
Kafka producer timestamps into watermark -> ``orders`` message (the fused worker) and ``orders`` message
-> request (the order gateway); the worker's ms per paced minute by phase comes from its /metrics
(``hslr_binding_seconds``). Only minutes with an instruction give an ``order`` sample; a cancel counts
for the minute it was decided on (it shares its order's client id).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.core.units import MINUTE_MS  # noqa: E402 - after the project root is on the path

PAIRS3 = ["EURUSD", "GBPUSD", "USDJPY"]


def _models(root: Path) -> tuple[str, str]:
    from streams.config import build_config
    from streams.core.batch import Batch
    from streams.data.synth import generate_market
    from streams.services.features import compute_features
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    if (root / "paths.json").exists():
        p = json.loads((root / "paths.json").read_text())
        return p["regime"], p["edge"]
    split = int(datetime(2020, 2, 3, tzinfo=UTC).timestamp() * 1000)
    market = Batch(generate_market(PAIRS3, "2020-01-06", "2020-02-03", 5).bars)
    base = build_config({"market": {"pairs": PAIRS3}})
    features = compute_features(market.take(market["ts"] < split), base)
    now = datetime(2020, 2, 3, tzinfo=UTC)
    kw: dict[str, Any] = {"created_at": now, "code_version": "bench", "params": {}}
    regime = train_regime_artifact(features, base.regime, root=root / "regime", **kw)
    edge = train_edge_artifact(
        features, base.edge.model_copy(update={"execution_priced": False}), root=root / "edge", **kw
    )
    (root / "paths.json").write_text(json.dumps({"regime": str(regime.path), "edge": str(edge.path)}))
    return str(regime.path), str(edge.path)


def _stats(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    q = {f"p{p}_ms": round(float(np.percentile(a, p)), 2) for p in (50, 95, 99)}
    return {"n": len(a), **q, "max_ms": round(float(a.max()), 2), "mean_ms": round(float(a.mean()), 2)}


class Gate:
    """Holds the paced part of the script until the warm-up is decided; heartbeats meanwhile."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def steps(self, warm: list[Any], paced: list[Any], beat_ts: int) -> Any:
        from tests.kit.v20_server import heartbeat_line

        yield from warm
        while not self.open.wait(1.0):
            yield heartbeat_line(beat_ts)
        yield from paced


def _produced_times(boot: str, ns: str) -> tuple[dict[int, float], dict[int, float]]:
    """Producer timestamps: each minute's watermark on ``bars`` (the feed gateway) and the first
    ``orders`` message carrying an instruction decided on that minute (the fused worker)."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.core.topics import TOPICS
    from streams.runner.runtime import MARKER_HEADER, WATERMARK, WATERMARK_HEADER
    from streams.serde.avro import AvroCodec

    codec = AvroCodec(TOPICS["orders"].schema)
    wms: dict[int, float] = {}
    orders: dict[int, float] = {}
    for key in ("bars", "orders"):
        topic = TOPICS[key].name(ns)
        c = Consumer({"bootstrap.servers": boot, "group.id": f"t-{ns}-{key}", "enable.auto.commit": False})
        _, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        while hi > 0:
            msg = c.poll(2.0)
            if msg is None:
                break
            h, at = dict(msg.headers() or []), msg.timestamp()[1] / 1000.0
            if key == "bars" and h.get(MARKER_HEADER) == WATERMARK:
                wms[int(h[WATERMARK_HEADER])] = at
            elif key == "orders" and msg.value():
                for rec in codec.decode_many(msg.value()):
                    m = int(rec["ts"]) - MINUTE_MS
                    orders[m] = min(orders.get(m, at), at)
            if msg.offset() >= hi - 1:
                break
        c.close()
    return wms, orders


def run(args: argparse.Namespace) -> dict[str, Any]:
    from streams.binding.book_check import trader_reader
    from streams.binding.kafka_io import Out, ensure_topics, publish, read_to_end
    from streams.binding.workers import child_env, fresh_namespace, python_command
    from streams.config import build_config, dump_config
    from streams.core.batch import Batch
    from streams.dag import STAGE_FACTORIES
    from streams.data.synth import generate_market
    from streams.fx.pairs import KNOWN_PAIRS
    from streams.infra import bootstrap_servers
    from streams.services.runs import with_models
    from tests.kit.v20_quotes import quotes_for_bars, script
    from tests.kit.v20_server import V20Server

    regime, edge = _models(Path(args.models))
    pairs = list(KNOWN_PAIRS)
    config = with_models(build_config({"market": {"pairs": pairs}}), regime, edge, "")
    start = np.datetime64("2020-02-05T08:00", "ms").astype(np.int64)
    end = start + (args.minutes + 1) * MINUTE_MS
    market = Batch(generate_market(pairs, "2020-02-03", str(end.astype("datetime64[ms]")), args.seed).bars)
    warm, paced = (
        market.take(market["ts"] < start),
        market.take((market["ts"] >= start) & (market["ts"] < end)),
    )
    grace = args.grace_ms
    paced_q = quotes_for_bars(paced, args.quotes_per_minute)
    paced_steps = list(script(paced_q, args.wall_per_minute, mark_grace_ms=grace))
    boot, ns = bootstrap_servers(), fresh_namespace("v20lat")
    sid = "_".join(STAGE_FACTORIES)
    ensure_topics(boot, ns, [sid])
    gate = Gate()
    tmp = Path(tempfile.mkdtemp())
    cfg = tmp / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    log = Path(os.environ.get("HSLR_BENCH_LOG", tmp / "live.log"))
    load0 = os.getloadavg()
    with V20Server() as server:
        server.scripts.append(gate.steps([], paced_steps, int(start) * 1_000_000 - 10**9))
        cmd = python_command("-m", "streams.cli", "live", "--broker", "oanda", "--env", "practice",
                             "--feed-url", server.url, "--config", str(cfg), "--namespace", ns,
                             "--grace-ms", str(grace), "--stall-s", "900", "--silent-s", "30",
                             "--worker-log", str(tmp / "worker.log"),
                             "--batch-within-s", str(args.batch_within))  # fmt: skip
        port = _free_port()
        env = child_env(
            {
                "KAFKA_BOOTSTRAP_SERVERS": boot,
                "HSLR_MESSAGE_RECORDS": "500",
                "HSLR_METRICS_PORT": str(port),  # the fused worker's /metrics: its time by phase
            }
        )
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            trader = trader_reader(boot, ns, config)
            t0 = time.monotonic()
            while "live: " not in log.read_text(errors="replace"):  # reconciled, order gateway assigned
                assert proc.poll() is None, f"hslr live exited; log {log}"
                assert time.monotonic() - t0 < 120, f"hslr live did not start; log {log}"
                time.sleep(0.2)
            out = Out(boot)
            publish(out, "bars", warm, ns, max_records=500)  # the warm-up in bulk, as history
            out.flush()
            _wait_decided(trader, int(warm["ts"].max()) - MINUTE_MS, proc, args.timeout)  # the last waits
            warm_s = time.monotonic() - t0
            before = _scrape(port)
            gate.open.set()
            last = int(paced["ts"].max())
            t1 = time.monotonic()
            while last not in server.marks or time.time() - server.marks[last] < 3.0:
                assert proc.poll() is None, f"hslr live exited; log {log}"
                assert time.monotonic() - t1 < args.timeout, "paced minutes did not finish"
                time.sleep(0.5)
            time.sleep(2.0)
            phases = _phases(before, _scrape(port), len(server.marks))
        finally:
            proc.terminate()
            proc.wait(60)
        orders = read_to_end(boot, "orders", ns)
        log_rows = list(server.order_log)
        marks = dict(server.marks)
    wms, produced = _produced_times(boot, ns)
    rep = _report(args, orders, log_rows, marks, wms, warm_s, load0, len(pairs))
    rep["watermark_to_orders_on_kafka"] = _stats(
        [(produced[m] - wms[m]) * 1000 for m in produced if m in wms and m in marks]
    )
    first = rep.pop("_first")
    rep["orders_on_kafka_to_request"] = _stats(
        [(first[m] - produced[m]) * 1000 for m in first if m in produced]
    )
    if args.dump:  # per minute, wall clock (s): close, watermark produced, orders produced, first request
        rows = [[m, marks[m], wms.get(m), produced.get(m), first.get(m)] for m in sorted(marks)]
        Path(args.dump).write_text(json.dumps(rows))
    return {**rep, "worker_ms_per_minute_by_phase": phases}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, str], float]:
    """The worker's ``hslr_binding_seconds`` by (stage, phase), its ``hslr_input_delay_seconds`` sums
    and counts by (stage, ``delay:<step>`` / ``delays:<step>``) and its batches (``batches``)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: S310
    out: dict[tuple[str, str], float] = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            if smp.name == "hslr_binding_seconds_total":
                out[(smp.labels["stage"], smp.labels["phase"])] = smp.value
            elif smp.name == "hslr_input_delay_seconds_sum":
                out[(smp.labels["stage"], f"delay:{smp.labels['step']}")] = smp.value
            elif smp.name == "hslr_input_delay_seconds_bucket":
                out[(smp.labels["stage"], f"bucket:{smp.labels['step']}:{smp.labels['le']}")] = smp.value
            elif smp.name == "hslr_input_delay_seconds_count":
                out[(smp.labels["stage"], f"delays:{smp.labels['step']}")] = smp.value
            elif smp.name == "hslr_processing_seconds_count" and "_" in smp.labels["stage"]:  # the group
                out[(smp.labels["stage"], "batches")] = smp.value
    return out


def _phases(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], minutes: int
) -> dict[str, float]:
    """Mean wall ms per paced minute in each phase of the fused worker (``wait`` includes idle time),
    its batches per minute and, per batch, the mean ms of each input delay step (delivery: the newest
    message's producer timestamp -> Faust handed it to the agent's stream; batching: then -> the agent)."""
    d = {k: v - before.get(k, 0.0) for k, v in after.items()}
    out = {ph: round(v * 1000 / max(minutes, 1), 3) for (st, ph), v in d.items() if ":" not in ph}
    out["batches"] = round(out.pop("batches", 0.0) / 1000, 2)
    for (st, ph), v in d.items():
        if ph.startswith("delay:"):
            n = d.get((st, "delays:" + ph[6:]), 0.0)
            out[f"{ph[6:]}_ms_per_batch"] = round(v * 1000 / n, 3) if n else 0.0
            buckets = sorted(
                (float(k.split(":")[2]), c)
                for (s, k), c in d.items()
                if s == st and k.startswith(f"bucket:{ph[6:]}:")
            )
            for q in (0.5, 0.9, 0.99):  # the upper bound of the bucket holding the quantile
                le = next((b for b, c in buckets if n and c >= q * n), float("nan"))
                out[f"{ph[6:]}_ms_p{round(q * 100)}_at_most"] = round(le * 1000, 2)
    return out


def _wait_decided(trader: Any, minute: int, proc: Any, timeout: float) -> None:
    from tests.kit.decided import decided

    t0 = time.monotonic()
    while decided(trader) < minute:
        if proc.poll() is not None or time.monotonic() - t0 > timeout:
            raise TimeoutError("the warm-up was not decided")
        time.sleep(1.0)


def _report(args: argparse.Namespace, orders: Any, log_rows: list[tuple[float, dict[str, Any]]],
            marks: dict[int, float], wms: dict[int, float], warm_s: float,
            load0: tuple[float, float, float], n_pairs: int) -> dict[str, Any]:  # fmt: skip
    decided: dict[tuple[str, str], int] = {}  # (action, client id) -> the minute it was decided on
    for a, c, t in zip(orders["action"], orders["client_order_id"], orders["ts"], strict=True):
        decided.setdefault((str(a), str(c)), int(t) - MINUTE_MS)  # a cancel shares its order's id
    first: dict[int, float] = {}
    for at, body in log_rows:
        cancel = body.get("cancel")
        cid = cancel or body.get("order", {}).get("clientExtensions", {}).get("id")
        m = decided.get(("CANCEL" if cancel else "NEW", str(cid)))
        if m is not None and m in marks:
            first[m] = min(first.get(m, at), at)
    order_ms = [(first[m] - marks[m]) * 1000 for m in sorted(first)]
    feed_ms = [(wms[m] - marks[m]) * 1000 for m in sorted(marks) if m in wms]
    rest_ms = [(first[m] - wms[m]) * 1000 for m in sorted(first) if m in wms]
    return {
        "bench": "live_v20",
        "pairs": n_pairs,
        "paced_minutes": len(marks),
        "wall_s_per_minute": args.wall_per_minute,
        "quotes_per_minute_per_pair": args.quotes_per_minute,
        "grace_ms": args.grace_ms,
        "batch_within_s": args.batch_within,
        "warmup_wall_s": round(warm_s, 1),
        "close_to_order_request": _stats(order_ms),
        "close_to_watermark_on_kafka": _stats(feed_ms),
        "watermark_to_order_request": _stats(rest_ms),
        "order_requests": len(log_rows),
        "slowest": sorted((round(x, 1) for x in order_ms), reverse=True)[:5],
        "_first": first,
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=1000)
    ap.add_argument("--wall-per-minute", type=float, default=0.25)
    ap.add_argument("--quotes-per-minute", type=int, default=30)
    ap.add_argument("--grace-ms", type=int, default=500)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--batch-within", type=float, default=0.0, help="hslr live --batch-within-s")
    ap.add_argument("--models", default=str(Path(tempfile.gettempdir()) / "hslr-bench-v20-models"))
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--dump", default="", help="write each minute's wall times (JSON rows) to this file")
    args = ap.parse_args()
    Path(args.models).mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
