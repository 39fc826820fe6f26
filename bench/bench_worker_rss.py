"""Resident memory of each Faust worker over a long max-rate replay (issue 11: "memory of each worker over
a 30-minute max-rate replay").

The two workers of the Kafka backtest engine (``backtest.engine.WORKER_GROUPS``) run in a fresh namespace
with models trained in this script (synthetic market, mid-to-mid edge so that orders flow). Synthetic bars
are generated four weeks at a time and published as fast as the workers take them (at most two chunks
ahead of the market stage); every ``--every`` seconds each worker's RSS (``/proc/<pid>/status``) and the
bars its market stage consumed (its own ``/metrics``) are written to a CSV, and a summary (RSS at start,
end, max; bars/s) to a Markdown file. Runs until ``--minutes`` have passed.

    python -m bench.bench_worker_rss --minutes 30 --out results/worker_rss
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backtest.engine import WORKER_GROUPS
from streams.binding.kafka_io import Out, ensure_topics, publish
from streams.binding.workers import fresh_namespace, worker
from streams.config import HSLRConfig, build_config, dump_config
from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.infra import bootstrap_servers
from streams.services.features import compute_features
from streams.services.runs import with_models
from streams.training.artifacts import train_edge_artifact, train_regime_artifact

PAIRS = ["GBPUSD", "USDJPY", "AUDUSD"]
START = datetime(2020, 1, 6, tzinfo=UTC)
CHUNK = timedelta(weeks=4)
METRICS_BASE = 18_400  # away from the default 8000.. so other workers on the machine are not scraped


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (0 when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) / 1024.0 if m else 0.0


def market_bars_in(ports: range) -> float:
    """Bars consumed by a market stage, summed over the metrics endpoints on ``ports`` that answer."""
    total = 0.0
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:  # noqa: S310 - loopback
                text = r.read().decode()
        except OSError:
            continue
        for m in re.finditer(r'^hslr_events_in_total\{stage="market",topic="bars"\} (\S+)', text, re.M):
            total += float(m.group(1))
    return total


def trained_config(root: Path) -> HSLRConfig:
    base = build_config({"market": {"pairs": PAIRS}})
    train = Batch(generate_market(PAIRS, START - timedelta(weeks=4), START, 11).bars)
    feats = compute_features(train, base)
    now = datetime(2020, 1, 6, tzinfo=UTC)
    regime = train_regime_artifact(
        feats, base.regime, created_at=now, code_version="bench", params={}, root=root / "r"
    )
    ecfg = base.edge.model_copy(update={"execution_priced": False})
    edge = train_edge_artifact(feats, ecfg, created_at=now, code_version="bench", params={}, root=root / "e")
    return with_models(base, str(regime.path), str(edge.path), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--out", default="results/worker_rss")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hslr-rss-"))
    config = trained_config(tmp)
    cfg = tmp / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    ns = fresh_namespace("rss")
    bootstrap = bootstrap_servers()
    ensure_topics(bootstrap, ns)
    env = {"HSLR_BATCH_WITHIN_S": "0.05", "HSLR_BATCH_MAX": "5000", "HSLR_METRICS_PORT": str(METRICS_BASE)}
    ports = range(METRICS_BASE, METRICS_BASE + 4)
    rows: list[dict[str, float]] = []
    published, chunk_start, seed = 0, START, 100
    out = Out(bootstrap)
    with ExitStack() as stack:
        procs = [
            stack.enter_context(worker(g, ns, cfg, tmp / f"worker-{i}.log", env=env))
            for i, g in enumerate(WORKER_GROUPS)
        ]
        t0 = time.monotonic()
        next_sample = t0
        while time.monotonic() - t0 < a.minutes * 60 and all(p.poll() is None for p in procs):
            done = market_bars_in(ports)
            if published - done < 2 * 200_000:  # keep at most about two chunks ahead of the market stage
                bars = Batch(generate_market(PAIRS, chunk_start, chunk_start + CHUNK, seed).bars)
                publish(out, "bars", bars, ns, max_records=500)
                out.flush()
                published += bars.n
                chunk_start += CHUNK
                seed += 1
            if time.monotonic() >= next_sample:
                row = {"t_s": round(time.monotonic() - t0, 1), "bars_in": done, "published": published}
                row.update({f"rss_mb_worker{i}": round(rss_mb(p.pid), 1) for i, p in enumerate(procs)})
                rows.append(row)
                print(json.dumps(row), flush=True)
                next_sample += a.every
            time.sleep(1.0)
        alive = [p.poll() is None for p in procs]
    write(Path(a.out), rows, alive, ns)


def write(out: Path, rows: list[dict[str, float]], alive: list[bool], ns: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    out.with_suffix(".csv").write_text(
        "\n".join([",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]) + "\n"
    )
    started = next((r for r in rows if r["bars_in"] > 0), rows[0])
    end = rows[-1]
    span_min = (end["t_s"] - started["t_s"]) / 60.0
    lines = [
        "# Worker RSS over a max-rate replay",
        "",
        f"`python -m bench.bench_worker_rss` (namespace {ns}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC): the two",
        f"workers of the Kafka engine ({' | '.join(','.join(g) for g in WORKER_GROUPS)}), pairs {', '.join(PAIRS)},",
        "synthetic bars published 4 weeks at a time as fast as the market stage took them, on the shared",
        "2-core development machine (other work running). Start = first sample after the first bars were",
        f"consumed; {len(rows)} samples in `{out.with_suffix('.csv').name}`.",
        "",
        "| worker | stages | RSS start (MiB) | RSS end (MiB) | RSS max (MiB) | change per minute |",
        "|---|---|---|---|---|---|",
    ]
    for i, g in enumerate(WORKER_GROUPS):
        k = f"rss_mb_worker{i}"
        slope = (end[k] - started[k]) / span_min if span_min > 0 else float("nan")
        lines.append(
            f"| {i} | {','.join(g)} | {started[k]:.1f} | {end[k]:.1f} | {max(r[k] for r in rows):.1f} | "
            f"{slope:+.2f} MiB/min |"
        )
    rate = (end["bars_in"] - started["bars_in"]) / (span_min * 60) if span_min > 0 else float("nan")
    lines += [
        "",
        f"Bars consumed by the market stage: {end['bars_in']:,.0f} over {span_min:.1f} min after the start sample "
        f"({rate:,.0f} bars/s); workers alive at the end: {alive}.",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
