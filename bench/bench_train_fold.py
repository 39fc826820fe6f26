"""CPU seconds of one walk-forward fold's training, part by part (figures, not a test).

Usage: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_train_fold.py [--profile regime|edge]``. Six
months of the seeded synthetic GBPUSD market (the first fold of ``bench_walkforward.py``): features,
then the regime forest (:func:`streams.training.regime.train_regime`) and the execution-priced edge
(:func:`streams.training.exec_edge.train_exec_edge`), each timed with ``time.process_time``; with
``--profile`` the cProfile of that part is printed (top 25 by cumulative time). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.config import build_config  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402
from streams.services.features import compute_features  # noqa: E402
from streams.stages.trader.execution.config import ExecutionConfig  # noqa: E402
from streams.training.exec_edge import exec_params, train_exec_edge  # noqa: E402
from streams.training.regime import train_regime  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("", "regime", "edge"), default="")
    args = ap.parse_args()
    cfg = build_config({"market": {"pairs": ["GBPUSD"]}})
    bars = Batch(generate_market(["GBPUSD"], "2018-01-01", "2018-07-01", 3).bars)
    out: dict[str, float] = {"train_bars": float(bars.n)}
    c0 = time.process_time()
    feats = compute_features(bars, cfg)
    out["features_cpu_s"] = time.process_time() - c0
    xp = exec_params(cfg.edge, ExecutionConfig())
    parts = {
        "regime": lambda: train_regime(feats, cfg.regime),
        "edge": lambda: train_exec_edge(feats, cfg.edge, xp),
    }
    for name, fit in parts.items():
        prof = cProfile.Profile() if args.profile == name else None
        c0 = time.process_time()
        if prof is not None:
            prof.enable()
        fit()
        if prof is not None:
            prof.disable()
        out[f"{name}_cpu_s"] = round(time.process_time() - c0, 3)
        if prof is not None:
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    out["loadavg_1m"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
