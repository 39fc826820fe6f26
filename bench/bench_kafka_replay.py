"""Kafka topic replay of the full DAG through fused workers (``hslr worker --fuse``): bars/s and where the
time goes (wait/fetch, decode, stages, encode, produce, flush, checkpoint).

Usage: ``PYTHONPATH=. .venv/bin/python bench/bench_kafka_replay.py [--pairs 8] [--weeks 4] [--repeat 3]
[--groups two|one] [--no-audit] [--models DIR] [--no-transport-free] [--variant NAME:K=V,...]...``.
Needs ``hslr infra up`` (Kafka). Prints one JSON document (and each replay's line on stderr as it ends).
``--variant``: worker environments over the replay's own (``backtest.engine.replay_worker_env``), run
interleaved in each repeat (e.g. ``--variant default --variant f1:HSLR_CONSUMER_MAX_FETCH_BYTES=1048576``).

Inputs: the seeded synthetic market (``streams.data.synth``, first ``--pairs`` of ``KNOWN_PAIRS``) from
2020-02-03 for ``--weeks`` weeks, regime and edge models trained on the 4 weeks before it (mid-to-mid edge,
so the trader trades), the shared ForexFactory calendar when present.

* ``transport_free``: the workers' code path without a broker: each worker group's ``StageRuntime`` over
  the bars as published (messages of ``--message-records``), ``--batch-messages`` messages per batch,
  checkpoint after every batch; CPU seconds per phase (this process).
* ``kafka``: per repeat, fresh namespace and fresh workers (as ``run_kafka_engine(fuse=True)``); a warm-up
  replay of the first 64 bars (start-up, group join, first fetch), then the clock runs from the first
  publish of the remaining bars to the end-of-replay markers on every result topic, decoded by the
  collector (what ``run_kafka_engine`` does). ``phases_s``: the workers' ``hslr_binding_seconds`` of that
  replay (wall time inside each agent; ``wait`` is the time between batches: fetch, Faust, idle), plus
  ``batches`` (batches handled, counted for the fused stage and each of its 7 members), ``batching_s`` and
  ``delivery_s`` (sums of ``hslr_input_delay_seconds``: a batch's first message in the stream -> handed
  to the agent; the newest message's producer timestamp -> in the stream), ``records_in`` (per member);
  ``cpu_s``: CPU seconds of the workers, this process (publish + collect) and the broker (shared: other
  users' load counts too) over the replay. ``load`` is the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtest.engine import RESULT_TOPICS, WORKER_GROUPS, replay_worker_env, unread_topics  # noqa: E402
from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker  # noqa: E402
from streams.binding.workers import fresh_namespace, worker  # noqa: E402
from streams.config import HSLRConfig, build_config, dump_config  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.core.topics import TOPICS  # noqa: E402
from streams.dag import worker_stages  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402
from streams.fx.pairs import KNOWN_PAIRS  # noqa: E402
from streams.infra import bootstrap_servers  # noqa: E402
from streams.runner.runtime import Envelope, StageRuntime, index_header  # noqa: E402
from streams.serde.avro import AvroCodec  # noqa: E402

SPLIT = "2020-02-03"
GROUPS = {"two": [list(g) for g in WORKER_GROUPS], "one": [[s for g in WORKER_GROUPS for s in g]]}


def market(pairs: list[str], weeks: int, models: Path) -> tuple[Batch, HSLRConfig]:
    """Test bars after SPLIT and a config with models trained on the 4 weeks before (cached in ``models``)."""
    from streams.services.features import compute_features
    from streams.services.runs import default_calendar_path, with_models
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    cal_path = default_calendar_path("")
    cal = None
    if cal_path:
        from streams.data.calendar import read_calendar_file

        cal = dict(read_calendar_file(cal_path))
    end = np.datetime64(SPLIT) + np.timedelta64(7 * weeks, "D")
    bars = Batch(generate_market(pairs, "2020-01-06", str(end), 3, calendar=cal).bars)
    split = int(np.datetime64(SPLIT, "ms").astype(np.int64))
    train, test = bars.take(bars["ts"] < split), bars.take(bars["ts"] >= split)
    base = build_config(
        {"market": {"pairs": pairs}, "edge": {"execution_priced": False}, "news": {"calendar_path": cal_path}}
    )
    root = models / f"{len(pairs)}pairs"
    if not (root / "edge").exists():
        features = compute_features(train, base)
        now = datetime(2020, 2, 3, tzinfo=UTC)
        kw: dict[str, Any] = {"created_at": now, "code_version": "bench", "params": {}}
        train_regime_artifact(features, base.regime, root=root / "regime", **kw)
        train_edge_artifact(features, base.edge, root=root / "edge", **kw)
    return test, with_models(base, str(root / "regime" / "latest"), str(root / "edge" / "latest"), "")


class PhaseClock:
    """A ``Metrics`` that sums the runtime's phases (CPU seconds) and ignores the rest."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}

    def phase(self, stage: str, phase: str, seconds: float) -> None:
        self.s[phase] = self.s.get(phase, 0.0) + seconds

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def transport_free(
    bars: Batch,
    config: HSLRConfig,
    groups: list[list[str]],
    records: int,
    per: int,
    unpublished: frozenset[str],
) -> dict:
    """CPU seconds per phase of the fused groups' runtimes, fed the published messages in batches."""
    ns = "bench"
    vals = AvroCodec("bar").encode_batch_indexed(bars, records)
    envs = [
        Envelope(TOPICS["bars"].name(ns), 0, i, None, v, index_header(x)) for i, (v, x) in enumerate(vals)
    ]
    clock = PhaseClock()
    c0 = time.process_time()
    for g in groups:
        rt = StageRuntime(
            worker_stages(config, g, True)[0],
            namespace=ns,
            metrics=clock,
            clock=time.process_time,
            unpublished=unpublished,
        )
        inputs = {TOPICS[k].name(ns) for k in rt.stage.spec.inputs}
        envs = [e for e in envs if e.topic in inputs]
        produced = []
        for i in range(0, len(envs), per):
            produced += rt.handle(envs[i : i + per])
            t0 = time.process_time()
            rt.checkpoint()
            clock.phase(g[0], "checkpoint", time.process_time() - t0)
        envs = [Envelope(m.topic, 0, i, m.key, m.value, m.headers) for i, m in enumerate(produced)]
    total = sum(clock.s.values())
    return {
        "cpu_s_all": round(time.process_time() - c0, 3),
        "cpu_s": {k: round(v, 3) for k, v in clock.s.items()},
        "cpu_bars_per_s": round(bars.n / total) if total else None,  # None: code without phase metrics
    }


def codec_cost(bars: Batch, config: HSLRConfig, records: int) -> dict[str, dict[str, float]]:
    """CPU µs per record to encode (messages of ``records``) and decode (column-wise, all messages at once)
    each per-bar topic of the DAG's own in-process outputs."""
    from streams.dag import build_stages
    from streams.runner.inprocess import run_inprocess

    out = run_inprocess(build_stages(config), {"bars": bars})
    cost = {}
    for key in ("bars.clean", "features", "regime", "regime.adjusted", "signals", "signals.governed"):
        b, codec = out[key], AvroCodec(TOPICS[key].schema)
        t0 = time.process_time()
        msgs = codec.encode_batch_indexed(b, records)
        t1 = time.process_time()
        back, errors, _ = codec.decode_messages([m for m, _ in msgs], [i for _, i in msgs])
        t2 = time.process_time()
        assert not errors
        assert back.n == b.n
        size = sum(len(m) for m, _ in msgs) / b.n
        cost[key] = {
            "encode_us": round((t1 - t0) / b.n * 1e6, 2),
            "decode_us": round((t2 - t1) / b.n * 1e6, 2),
        }
        cost[key]["bytes"] = round(size)
    return cost


def _cpu(pid: int) -> float:
    """utime + stime of a process (s), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _broker_pid() -> int | None:
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if b"kafka.Kafka" in (p / "cmdline").read_bytes():
                    return int(p.name)
            except OSError:
                continue
    return None


def _phases(logs: list[Path]) -> dict[str, float]:
    """Sums over the workers (metrics port from their logs): ``hslr_binding_seconds_total`` by phase, and
    ``batches`` (agent batches handled), ``batching_s``/``delivery_s`` (``hslr_input_delay_seconds``
    sums: first event in the stream -> batch handed over; producer timestamp -> in the stream),
    ``records_in`` (records consumed)."""
    total: dict[str, float] = {}
    for log in logs:
        m = re.search(r"metrics on 127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if not m:
            continue
        text = urllib.request.urlopen(f"http://127.0.0.1:{m[1]}/metrics", timeout=10).read().decode()  # noqa: S310
        found = re.findall(r'hslr_binding_seconds_total\{phase="(\w+)",stage="[^"]*"\} (\S+)', text)
        found += [("batches", v) for v in re.findall(r"hslr_processing_seconds_count\{[^}]*\} (\S+)", text)]
        found += [
            (f"{step}_s", v)
            for step, v in re.findall(r'hslr_input_delay_seconds_sum\{[^}]*step="(\w+)"[^}]*\} (\S+)', text)
        ]
        found += [("records_in", v) for v in re.findall(r"hslr_events_in_total\{[^}]*\} (\S+)", text)]
        for ph, v in found:
            total[ph] = total.get(ph, 0.0) + float(v)
    return total


def kafka_once(
    bars: Batch,
    config: HSLRConfig,
    groups: list[list[str]],
    records: int,
    tmp: Path,
    audit: bool,
    overrides: dict[str, str] | None = None,
) -> dict:
    ns, bootstrap = fresh_namespace("kbench"), bootstrap_servers()
    ensure_topics(bootstrap, ns)
    cfg = tmp / f"{ns}.json"
    cfg.write_text(json.dumps(dump_config(config)))
    logs = [tmp / f"{ns}-{i}.log" for i in range(len(groups))]
    unpublished = "" if audit else ",".join(sorted(unread_topics(config, groups, True)))
    env = {**replay_worker_env(records, unpublished), **(overrides or {})}
    out, broker = Out(bootstrap), _broker_pid()
    with ExitStack() as stack:
        t_start = time.perf_counter()
        procs = [
            stack.enter_context(worker(g, ns, cfg, logs[i], env=env, args=["--fuse"]))
            for i, g in enumerate(groups)
        ]
        warm, rest = bars.take(slice(0, 64)), bars.take(slice(64, bars.n))
        publish(out, "bars", warm, ns, max_records=records)
        publish_marker(out, "bars", "warm", ns)
        out.flush()
        collect(bootstrap, RESULT_TOPICS, "warm", ns, timeout=600)
        started = time.perf_counter() - t_start
        before = _phases(logs)
        cpu0 = [_cpu(p.pid) for p in procs], time.process_time(), _cpu(broker) if broker else 0.0
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        publish(out, "bars", rest, ns, max_records=records)
        publish_marker(out, "bars", "bench", ns)
        out.flush()
        t_pub = time.perf_counter() - t0
        result = collect(bootstrap, RESULT_TOPICS, "bench", ns, timeout=3600)
        wall = time.perf_counter() - t0
        cpu1 = [_cpu(p.pid) for p in procs], time.process_time(), _cpu(broker) if broker else 0.0
        after = _phases(logs)
    phases = {k: round(after[k] - before.get(k, 0.0), 3) for k in after}
    return {
        "bars": rest.n,
        "bars_per_s": round(rest.n / wall),
        "wall_s": round(wall, 3),
        "publish_s": round(t_pub, 3),
        "start_up_s": round(started, 2),
        "phases_s": phases,
        "cpu_s": {
            "workers": round(sum(cpu1[0]) - sum(cpu0[0]), 2),
            "bench_process": round(cpu1[1] - cpu0[1], 2),
            "broker": round(cpu1[2] - cpu0[2], 2),
        },
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "orders": result["orders"].n,
    }


def _variant(text: str) -> tuple[str, dict[str, str]]:
    """``name:K=V,K=V`` -> (name, {K: V}); ``name`` alone: no overrides."""
    name, _, rest = text.partition(":")
    return name, dict(kv.split("=", 1) for kv in rest.split(",") if kv)


def summary(runs: list[dict]) -> dict:
    rates = [r["bars_per_s"] for r in runs]
    return {"median_bars_per_s": round(statistics.median(rates)), "range": [min(rates), max(rates)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--groups", choices=sorted(GROUPS), default="two")
    ap.add_argument("--message-records", type=int, default=500)
    ap.add_argument("--batch-messages", type=int, default=40, help="transport-free: messages per batch")
    ap.add_argument("--models", default=str(Path(tempfile.gettempdir()) / "hslr-bench-models"))
    ap.add_argument("--no-kafka", action="store_true")
    ap.add_argument(
        "--no-transport-free", action="store_true", help="skip the codec and transport-free parts"
    )
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME[:K=V,...]",
        help="worker environment over the replay's (repeatable; variants run interleaved in each repeat)",
    )
    ap.add_argument(
        "--no-audit",
        action="store_true",
        help="leave out the topics no one reads (run_kafka_engine(audit=False))",
    )
    args = ap.parse_args()
    pairs = list(KNOWN_PAIRS)[: args.pairs]
    bars, config = market(pairs, args.weeks, Path(args.models))
    groups = GROUPS[args.groups]
    report: dict[str, Any] = {"bars": bars.n, "pairs": len(pairs), "weeks": args.weeks, "groups": groups}
    report["audit"] = not args.no_audit
    unpublished = frozenset() if not args.no_audit else unread_topics(config, groups, True)
    if not args.no_transport_free:
        report["codec_per_record"] = codec_cost(bars, config, args.message_records)
        report["transport_free"] = transport_free(
            bars, config, groups, args.message_records, args.batch_messages, unpublished
        )
    if not args.no_kafka:
        variants = dict(_variant(v) for v in args.variant or ["default"])
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        with tempfile.TemporaryDirectory() as d:
            for _ in range(args.repeat):
                for name, env in variants.items():
                    r = kafka_once(
                        bars, config, groups, args.message_records, Path(d), not args.no_audit, env
                    )
                    runs[name].append(r)
                    print(name, json.dumps(r), file=sys.stderr, flush=True)
        if list(variants) == ["default"]:
            report["kafka"] = {**summary(runs["default"]), "runs": runs["default"]}
        else:
            report["kafka"] = {
                name: {"env": variants[name], **summary(r), "runs": r} for name, r in runs.items()
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
