"""Replay cost of a hyperparameter grid and its scaling with worker processes (figures, not a test).

Usage: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_grid.py [--configs 8] [--workers 1,2]``.
Runs ``--configs`` configurations of :data:`backtest.search.DEFAULT_GRID`'s replay-only keys (regime
thresholds, safety factor, risk aversion) over one monthly test fold of the seeded synthetic 1-pair
market, through :func:`backtest.search._pool_map` / ``_evaluate`` (what ``run_search`` runs after
training), once per worker count. Models: :mod:`bench.speed_models` (trained once, outside the timing;
a grid's training is per fold and per value of a training key, measured by ``bench_walkforward.py``).
Prints seconds per replay and the speed-up over one worker; a 200-configuration x 12-fold grid is
extrapolated from them (said so in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtest import search  # noqa: E402
from backtest.folds import Fold  # noqa: E402
from bench.bench_walkforward import _ms  # noqa: E402
from bench.speed_models import models_for  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402

REPLAY_KEYS = (
    "regime.p_threshold",
    "regime.entropy_threshold",
    "edge.safety_factor",
    "trader.risk.risk_aversion",
)


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=8)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    pair = "GBPUSD"
    models = Path(
        os.environ.get("HSLR_BENCH_MODELS", Path(__file__).resolve().parents[1] / "var" / "bench-models")
    )
    config = models_for([pair], models)
    bars = Batch(generate_market([pair], "2018-06-20", "2018-08-01", 3).bars)
    fold = Fold(0, _ms("2018-01-01"), _ms("2018-06-30"), _ms("2018-07-01"), _ms("2018-08-01"))
    combos = search.expand({k: search.DEFAULT_GRID[k] for k in REPLAY_KEYS})[: args.configs]
    jobs = [(fold, j, c, config.regime.model_path, config.edge.model_path) for j, c in enumerate(combos)]
    out: dict[str, Any] = {"configs": len(combos), "bars_per_replay": None, "by_workers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for w in [int(x) for x in args.workers.split(",")]:
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = search._pool_map(search._evaluate, jobs, w, (bars, config, tmp), lambda _m: None, "replays")
            wall = time.perf_counter() - t0
            out["bars_per_replay"] = res[0][2]["bars_replayed"]
            out["by_workers"][str(w)] = {
                "wall_s": round(wall, 2),
                "s_per_replay": round(wall / len(jobs), 3),
                "loadavg": round(load0, 2),
            }
    base = out["by_workers"].get("1", {}).get("s_per_replay")
    for v in out["by_workers"].values():
        v["speedup"] = round(base / v["s_per_replay"], 2) if base else None
        v["extrapolated_200x12_replays_s"] = round(v["s_per_replay"] * 200 * 12)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
