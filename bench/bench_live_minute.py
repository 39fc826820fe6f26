"""Stage cost of one live minute: every stage of the DAG on one-minute batches (12 pairs, one bar each),
in process, after a warm-up; ms per minute per stage, p50 and p95 (CPU and wall). Figures, not a test.

Usage: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_live_minute.py [--minutes 200] [--models DIR]``.
Models: those of ``bench_live_v20.py`` (trained on first use, cached in ``--models``). This is the
stage-compute part of the live path's bar close -> order latency; ``bench_live_v20.py`` measures the
whole path through Kafka and the v20 gateways.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(minutes: int, models: Path) -> dict[str, dict[str, float]]:
    from bench.bench_live_v20 import _models
    from streams.config import build_config
    from streams.core.batch import Batch
    from streams.dag import build_stages
    from streams.data.synth import generate_market
    from streams.fx.pairs import KNOWN_PAIRS
    from streams.runner.inprocess import run_inprocess
    from streams.services.runs import with_models

    models.mkdir(parents=True, exist_ok=True)
    regime, edge = _models(models)
    pairs = list(KNOWN_PAIRS)
    config = with_models(build_config({"market": {"pairs": pairs}}), regime, edge, "")
    stages = build_stages(config)
    start = int(np.datetime64("2020-02-05T08:00", "ms").astype(np.int64))
    market = Batch(generate_market(pairs, "2020-02-03", "2020-02-05T12:00", 5).bars)
    states: dict[str, object] = {}
    run_inprocess(stages, {"bars": market.take(market["ts"] < start)}, states=states)
    paced = market.take(market["ts"] >= start)
    cost: dict[str, list[tuple[float, float]]] = {s.spec.id: [] for s in stages}
    for m in np.unique(paced["ts"])[:minutes]:
        topics = {"bars": paced.take(paced["ts"] == m)}
        for st in stages:
            sid = st.spec.id
            c0, w0 = time.process_time(), time.perf_counter()
            outs: dict[str, Batch] = {}
            for key in (k for k in st.spec.inputs if k in topics):
                states[sid], o = st.process(states[sid], key, topics[key])
                outs.update(o)
            cost[sid].append(((time.process_time() - c0) * 1e3, (time.perf_counter() - w0) * 1e3))
            topics.update({k: v for k, v in outs.items() if v.n})
    out = {}
    for sid, v in cost.items():
        a = np.asarray(v)
        out[sid] = {
            "cpu_p50_ms": round(float(np.median(a[:, 0])), 3),
            "wall_p50_ms": round(float(np.median(a[:, 1])), 3),
            "wall_p95_ms": round(float(np.percentile(a[:, 1], 95)), 3),
        }
    out["sum"] = {"wall_p50_ms": round(sum(v["wall_p50_ms"] for v in out.values()), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=200)
    ap.add_argument("--models", default=str(Path(tempfile.gettempdir()) / "hslr-bench-v20-models"))
    args = ap.parse_args()
    print(json.dumps(run(args.minutes, Path(args.models)), indent=1))


if __name__ == "__main__":
    main()
