"""Live-path latency through Kafka and the Faust workers: bar publish → trader decision, p50/p95/p99 ms.

Usage: ``python bench/bench_live_latency.py [--minutes 300] [--interval-ms 100] [--warmup-min 360]
[--fuse] [--minute-message] [--message-records N] [--watermark]``. The live deployment is
``--fuse --minute-message --message-records 500 --watermark``.

Method: every stage of the DAG runs in one ``hslr worker`` subprocess with live settings
(``HSLR_BATCH_WITHIN_S=0.001``, ``HSLR_MESSAGE_RECORDS`` from ``--message-records``), one agent per stage
or co-located as one agent (``--fuse``), with the model artifacts already in ``models/artifacts``
(regime/latest, edge/latest; nothing is trained). A synthetic market of the first ``--pairs`` known
pairs is generated; the first ``--warmup-min`` minutes are published in bulk and the benchmark waits
until the trader has decided them. Then bars are published one minute at a time, one minute every
``--interval-ms`` of wall time (600x real time: the worker must keep up), each minute stamped with the
wall-clock time just before its first bar is produced: one Kafka message per bar, or the minute's bars
as one message (``--minute-message``, as a feed gateway closing a minute would), optionally followed by
a watermark for the minute (``--watermark``).

Measured (wall clock, one machine, so no clock skew):

* ``decision``: bar close → decision. The trader decides minute ``t`` as soon as every configured pair's
  bar of ``t`` has reached it (a minute with a missing pair waits for the next minute). The sample for
  minute ``t`` runs from the publish of minute ``t``'s first bar to the arrival of the trader's
  checkpoint whose state has decided ``t``: the binding produces a stage's outputs, flushes them, then
  produces its checkpoint, so this is after every order / report / portfolio record of minute ``t`` is
  on Kafka. It exists for every minute, unlike the trader's records (``portfolio`` rows only while a
  position is open or after a fill; ``risk.targets`` only on entries and exits).
* ``trader_records``: the same, to the first trader output record (portfolio, risk.targets, orders, fills)
  of decision minute ``t``, for the minutes that have one.
* ``governed``: per bar, publish of the bar's minute → arrival of its ``signals.governed`` record (market,
  features, regime, news, edge, governance: the trader's input).

Prints one JSON object (also with the box's load average and core count: the numbers are only
comparable on a similarly loaded machine). ``--regime-rows`` adds the regime model's single-row inference
p50/p99 (µs), measured as ``bench/bench_regime.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Consumer

MINUTE = 60_000
TRADER_TOPICS = ("portfolio", "risk.targets", "orders", "fills")


class Recorder(threading.Thread):
    """Consumes the measured topics from the start and records wall-clock arrival times."""

    def __init__(self, bootstrap: str, namespace: str, sid: str, part: int) -> None:
        super().__init__(daemon=True)
        from streams.binding.kafka_io import QUIET, state_topic
        from streams.core.topics import TOPICS
        from streams.serde.avro import AvroCodec

        self.names = {TOPICS[k].name(namespace): k for k in ("signals.governed", *TRADER_TOPICS)}
        self.sid, self.part = sid, part  # the trader's stage, or the fused stage holding it (member ``part``)
        self.state = state_topic(namespace, sid)
        self.codecs = {k: AvroCodec(TOPICS[k].schema) for k in self.names.values()}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"lat-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
                "fetch.max.bytes": 64 << 20,
                "max.partition.fetch.bytes": 64 << 20,
                **QUIET,
            }
        )
        self.consumer.subscribe([*self.names, self.state])
        self.decided: list[tuple[float, int]] = []  # (arrival, trader's last decided minute)
        self.governed: dict[tuple[str, int], float] = {}
        self.trader: dict[int, float] = {}  # decision minute -> first trader record arrival
        self.stop = threading.Event()

    def run(self) -> None:
        from streams.core import state_codec

        while not self.stop.is_set():
            # poll, not consume(n, timeout): librdkafka's batch consume waits for n messages or the whole
            # timeout, which would stamp arrivals up to the timeout late
            msg = self.consumer.poll(0.05)
            if msg is None:
                continue
            now = time.time()
            if msg.error() or not msg.value():
                continue
            if msg.topic() == self.state:
                last = _trader_last_ts(msg.key(), state_codec.loads(msg.value()), self.sid, self.part)
                if last is not None:
                    self.decided.append((now, last))
                continue
            key = self.names[msg.topic()]
            for r in self.codecs[key].decode_many(msg.value()):
                if key == "signals.governed":
                    self.governed.setdefault((r["pair"], r["ts"]), now)
                else:  # orders / reports carry the decision bar's close, the book rows its open
                    m = r["ts"] - (MINUTE if key in ("orders", "fills") else 0)
                    self.trader.setdefault(m, now)

    def last_decided(self) -> int:
        return self.decided[-1][1] if self.decided else -1

    def wait_decided(self, minute: int, timeout: float, alive: Any) -> None:
        deadline = time.monotonic() + timeout
        while self.last_decided() < minute:
            if time.monotonic() > deadline or not alive():
                raise TimeoutError(f"trader decided up to {self.last_decided()}, waited for {minute}")
            time.sleep(0.05)


def _trader_last_ts(key: bytes, value: Any, sid: str, part: int) -> int | None:
    """The trader's last decided minute in a checkpoint record, None when the record does not hold the
    trader's state. Full checkpoints are ``(seq, Checkpoint)``; deltas ``(seq, base, offsets, last_ts,
    {part: state})`` (streams/runner/runtime.py); ``part``: the trader's index among the state's parts
    (a fused stage's members; 0 for the trader stage itself)."""
    from streams.core.fused import FusedState

    if key == sid.encode():
        state = value[1].state
        state = state.members[part] if isinstance(state, FusedState) else state
    elif key == f"{sid}:offsets".encode():
        state = value[4].get(part)
    else:
        return None
    return None if state is None else int(state.last_ts)


def _config(tmp: Path, pairs: list[str]) -> Path:
    edge = Path("models/artifacts/edge/latest")
    cfg = tmp / "hslr.toml"
    cfg.write_text(
        f'[market]\npairs = {json.dumps(pairs)}\n\n[regime]\nmodel_path = "models/artifacts/regime/latest"\n\n'
        f'[edge]\nmodel_path = "{edge if edge.is_dir() else ""}"\n'
    )
    return cfg


def _stats(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    return {
        "n": len(a),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
        "mean_ms": round(float(a.mean()), 2),
    }


def _halves(ms: list[float]) -> list[float]:
    q = max(len(ms) // 4, 1)
    return [round(float(np.median(ms[:q])), 2), round(float(np.median(ms[-q:])), 2)] if ms else []


def _paced(
    out: Any, bars: Any, minutes: np.ndarray, interval: float, ns: str, per_message: int, watermarks: bool
) -> dict[int, float]:
    from streams.binding.kafka_io import publish, publish_watermark

    stamps: dict[int, float] = {}
    ts = bars["ts"]
    nxt = time.monotonic()
    for m in minutes.tolist():
        nxt += interval
        stamps[m] = time.time()
        publish(out, "bars", bars.take(ts == m), ns, max_records=per_message)
        if watermarks:
            publish_watermark(out, "bars", m, ns)
        out.flush()
        time.sleep(max(0.0, nxt - time.monotonic()))
    return stamps


def run(args: argparse.Namespace) -> dict[str, Any]:
    from streams.binding.kafka_io import Out, ensure_topics, publish
    from streams.binding.workers import fresh_namespace, worker
    from streams.core.batch import Batch
    from streams.data.synth import generate_market
    from streams.fx.pairs import KNOWN_PAIRS
    from streams.infra import bootstrap_servers

    pairs = list(KNOWN_PAIRS)[: args.pairs]
    total = args.warmup_min + args.minutes
    start = np.datetime64(args.start, "ms")
    end = start + np.timedelta64(total, "m")
    bars = Batch(generate_market(pairs, str(start), str(end), args.seed).bars)
    minutes = np.unique(bars["ts"])
    warm, live = minutes[: args.warmup_min], minutes[args.warmup_min : total]
    boot, ns = bootstrap_servers(), fresh_namespace("lat")
    stages = ["market", "features", "regime", "news", "edge", "governance", "trader"]
    sid = "_".join(stages) if args.fuse else "trader"
    ensure_topics(boot, ns, [sid] if args.fuse else stages)
    out = Out(boot, **{"linger.ms": 0})
    rec = Recorder(boot, ns, sid, len(stages) - 1 if args.fuse else 0)
    rec.start()
    env = {
        "HSLR_BATCH_WITHIN_S": str(args.within_s),
        "HSLR_MESSAGE_RECORDS": str(args.message_records),
        "HSLR_BATCH_MAX": "2000",
    }
    load0 = os.getloadavg()
    with (
        tempfile.TemporaryDirectory() as tmp,
        worker(
            [],
            ns,
            _config(Path(tmp), pairs),
            Path(os.environ.get("HSLR_BENCH_LOG", Path(tmp) / "worker.log")),
            env=env,
            args=["--fuse"] if args.fuse else [],
        ) as w,
    ):
        alive = lambda: w.poll() is None  # noqa: E731
        publish(out, "bars", bars.take(bars["ts"] <= warm[-1]), ns, max_records=500)
        out.flush()
        t0 = time.monotonic()
        rec.wait_decided(int(warm[-2]), args.timeout, alive)
        warm_s = time.monotonic() - t0
        time.sleep(1.0)
        stamps = _paced(
            out,
            bars,
            live,
            args.interval_ms / 1000.0,
            ns,
            len(pairs) if args.minute_message else 1,
            args.watermark,
        )
        rec.wait_decided(int(live[-2]), args.timeout, alive)
        time.sleep(0.5)
    rec.stop.set()
    rec.join(5)
    return _report(args, rec, stamps, live, bars, pairs, warm_s, load0)


def _report(
    args: argparse.Namespace,
    rec: Recorder,
    stamps: dict[int, float],
    live: np.ndarray,
    bars: Any,
    pairs: list[str],
    warm_s: float,
    load0: tuple[float, float, float],
) -> dict[str, Any]:
    decided = np.array([d for _, d in rec.decided])
    arrival = np.array([a for a, _ in rec.decided])
    decision, trader = [], []
    for m in live.tolist():
        first = np.flatnonzero(decided >= m)
        if first.size:
            decision.append((arrival[first[0]] - stamps[m]) * 1000)
        if m in rec.trader:
            trader.append((rec.trader[m] - stamps[m]) * 1000)
    live_set = set(live.tolist())
    governed = [(t - stamps[ts]) * 1000 for (p, ts), t in rec.governed.items() if ts in live_set]
    return {
        "bench": "live_latency",
        "pairs": len(pairs),
        "warmup_minutes": args.warmup_min,
        "paced_minutes": len(live),
        "interval_ms": args.interval_ms,
        "batch_within_s": args.within_s,
        "message_records": args.message_records,
        "watermarks": args.watermark,
        "bars_published": "one message per minute (all pairs)"
        if args.minute_message
        else "one message per bar",
        "warmup_wall_s": round(warm_s, 1),
        "decision": _stats(decision),
        "decision_slowest": [(int(i), round(decision[i], 1)) for i in np.argsort(decision)[::-1][:5]],
        "trader_records": _stats(trader),
        "governed": _stats(governed),
        # a backlog grows when the pace exceeds what the box sustains: then the later samples are slower
        "decision_p50_first_vs_last_quarter_ms": _halves(decision),
        "fused": args.fuse,
        "note": "decision(t) is timed from the publish of minute t's first bar (the trader decides a minute "
        "when every pair's bar of it has arrived); all stages in one worker process"
        + (", co-located as one agent (hslr worker --fuse)" if args.fuse else ", one agent per stage"),
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def regime_inference(rows: int) -> dict[str, Any]:
    """Single-row regime inference p50/p99 (µs) with the artifact, as bench/bench_regime.py measures it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_regime import _model, _per_row  # type: ignore[import-not-found]

    model, X = _model("models/artifacts/regime/latest")
    model.predict_proba(X[:10])
    us = _per_row(model.predict_proba, X, rows)
    return {
        "rows": rows,
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=300, help="paced minutes (one sample each)")
    ap.add_argument("--warmup-min", type=int, default=360, help="minutes published in bulk first")
    ap.add_argument("--interval-ms", type=float, default=100.0, help="wall time between paced minutes")
    ap.add_argument("--pairs", type=int, default=12, help="first N of KNOWN_PAIRS")
    ap.add_argument("--within-s", type=float, default=0.001, help="HSLR_BATCH_WITHIN_S of the worker")
    ap.add_argument("--start", default="2019-03-05T06:00", help="synthetic market start (UTC)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument(
        "--minute-message",
        action="store_true",
        help="publish each minute's bars (all pairs) as one record-batch message, as a feed gateway "
        "closing a minute would; default one message per bar",
    )
    ap.add_argument(
        "--message-records",
        type=int,
        default=1,
        help="HSLR_MESSAGE_RECORDS of the worker: records per output message",
    )
    ap.add_argument(
        "--watermark",
        action="store_true",
        help="publish a watermark after each minute (a gateway closing the minute): a minute with a "
        "missing pair is then decided at its close instead of at the next minute",
    )
    ap.add_argument(
        "--fuse", action="store_true", help="co-locate the stages as one agent (hslr worker --fuse)"
    )
    ap.add_argument("--regime-rows", type=int, default=0, help="also time regime single-row inference")
    args = ap.parse_args()
    result = run(args)
    if args.regime_rows:
        result["regime_single_row"] = regime_inference(args.regime_rows)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
