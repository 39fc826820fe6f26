"""Backbone benchmark: Avro cost per record, and bars/s through the in-process and the Kafka/Faust paths.

Usage: ``.venv/bin/python bench/bench_backbone.py [--days 10] [--pairs EURUSD,GBPUSD,USDJPY,AUDUSD]
[--stages market,features]``. Needs ``hslr infra up`` for the Kafka part (``--no-kafka`` skips it).
The Kafka figure excludes worker start-up: all bars are published first, the clock starts at the first
output record and stops at the end-of-replay marker on the last stage's output topic.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer  # noqa: E402

from streams.binding.kafka_io import Out, ensure_topics, publish, publish_marker  # noqa: E402
from streams.binding.workers import fresh_namespace, worker  # noqa: E402
from streams.config import build_config  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.core.topics import TOPICS  # noqa: E402
from streams.dag import build_stages  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402
from streams.infra import bootstrap_servers  # noqa: E402
from streams.runner.inprocess import run_inprocess  # noqa: E402
from streams.runner.runtime import END_OF_REPLAY, MARKER_HEADER  # noqa: E402
from streams.serde.avro import AvroCodec  # noqa: E402


def avro_cost(bars: Batch, records: int, n: int = 20000) -> dict[str, float]:
    """µs per record to encode/decode bars in messages of ``records`` records (1 = one per message)."""
    codec = AvroCodec("bar")
    sample = bars.take(slice(0, n))
    t0 = time.perf_counter()
    msgs = codec.encode_batch(sample, records)
    t1 = time.perf_counter()
    codec.decode_batch(msgs)
    t2 = time.perf_counter()
    return {
        "encode_us": (t1 - t0) / sample.n * 1e6,
        "decode_us": (t2 - t1) / sample.n * 1e6,
        "bytes_per_record": float(sum(len(m) for m in msgs) / sample.n),
    }


def inprocess(stages: list, bars: Batch, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_inprocess(stages, {"bars": bars})
        best = min(best, time.perf_counter() - t0)
    return bars.n / best


def _wait_marker(c: Consumer, run: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        for msg in c.consume(10000, 0.05):
            headers = dict(msg.headers() or [])
            if (
                not msg.error()
                and headers.get(MARKER_HEADER) == END_OF_REPLAY
                and headers.get("hslr-run") == run.encode()
            ):
                return
    raise TimeoutError(f"no end-of-replay marker for {run}")


def kafka(
    stage_ids: list[str],
    bars: Batch,
    cfg: Path,
    records: int,
    groups: list[list[str]] | None = None,
    fuse: bool = False,
) -> float:
    """bars/s through already-running workers: a short warm-up replay first (start-up, group join, first
    fetch), then the clock runs from the first publish to the end-of-replay marker on the last topic."""
    ns = fresh_namespace("bench")
    groups = groups or [stage_ids]
    ensure_topics(bootstrap_servers(), ns, ["_".join(g) for g in groups] if fuse else stage_ids)
    out = Out(bootstrap_servers())
    last = build_stages(None, stage_ids)[-1].spec.outputs[0]
    c = Consumer({"bootstrap.servers": bootstrap_servers(), "group.id": ns, "auto.offset.reset": "earliest"})
    c.subscribe([TOPICS[last].name(ns)])
    warm, rest = bars.take(slice(0, 64)), bars.take(slice(64, bars.n))
    env = {"HSLR_MESSAGE_RECORDS": str(records), "HSLR_BATCH_WITHIN_S": "0.002" if records == 1 else "0.05"}
    with ExitStack() as stack:
        for g in groups:
            stack.enter_context(worker(g, ns, cfg, env=env, args=["--fuse"] if fuse else []))
        publish(out, "bars", warm, ns, max_records=records)
        publish_marker(out, "bars", "warm", ns)
        out.flush()
        _wait_marker(c, "warm", time.monotonic() + 300)
        t0 = time.perf_counter()
        publish(out, "bars", rest, ns, max_records=records)
        publish_marker(out, "bars", "bench", ns)
        out.flush()
        _wait_marker(c, "bench", time.monotonic() + 900)
        elapsed = time.perf_counter() - t0
    c.close()
    return rest.n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY,AUDUSD")
    ap.add_argument("--stages", default="market,features")
    ap.add_argument("--no-kafka", action="store_true")
    ap.add_argument(
        "--groups", default="", help="worker processes for the Kafka run, e.g. 'a,b;c' (default one)"
    )
    ap.add_argument("--fuse", action="store_true", help="also time each worker group co-located as one agent")
    args = ap.parse_args()
    pairs = args.pairs.split(",")
    start = np.datetime64("2019-02-04")
    market = generate_market(pairs, str(start), str(start + np.timedelta64(args.days, "D")), seed=3)
    bars = Batch(market.bars)
    ids = args.stages.split(",")
    conf = {"market": {"pairs": pairs}}
    stages = build_stages(build_config(conf), ids)
    report: dict = {
        "bars": bars.n,
        "pairs": len(pairs),
        "stages": ids,
        "avro_bar_single_record_messages": avro_cost(bars, 1),
        "avro_bar_record_batches_500": avro_cost(bars, 500),
    }
    report["inprocess_bars_per_s"] = inprocess(stages, bars)
    report["inprocess_market_only_bars_per_s"] = inprocess(build_stages(build_config(conf), ["market"]), bars)
    if not args.no_kafka:
        with tempfile.TemporaryDirectory() as d:
            cfg = Path(d) / "hslr.toml"
            cfg.write_text(f"[market]\npairs = {json.dumps(pairs)}\n")
            for records in (1, 500):
                report[f"kafka_market_only_bars_per_s_records_{records}"] = kafka(
                    ["market"], bars, cfg, records
                )
                report[f"kafka_bars_per_s_records_{records}"] = kafka(ids, bars, cfg, records)
            if args.groups:
                groups = [g.split(",") for g in args.groups.split(";")]
                report["kafka_bars_per_s_records_500_worker_groups"] = {
                    "groups": groups,
                    "bars_per_s": kafka(ids, bars, cfg, 500, groups),
                }
                if args.fuse:
                    report["kafka_bars_per_s_records_500_worker_groups_fused"] = kafka(
                        ids, bars, cfg, 500, groups, True
                    )
            elif args.fuse:
                report["kafka_bars_per_s_records_500_fused"] = kafka(ids, bars, cfg, 500, None, True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
