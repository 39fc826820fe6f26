"""Walk-forward timing: 18 months of one pair, 6-month training windows, monthly test folds, training
included, in-process (figures, not a test).

Usage: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_walkforward.py [--pair GBPUSD] [--months 18]
[--realdata DIR] [--workers N] [--forest-jobs N] [--profile FILE]``. Bars: the seeded synthetic market (``streams.data.synth``) or, with
``--realdata``, the HistData cache ``DIR/<PAIR>.npz`` written by ``bench/realdata_walkforward.py``
(never EURUSD). Features are computed once over the whole span (as ``bench/realdata_walkforward.py``
does) and sliced per fold. Prints one JSON document: total seconds, features seconds, and per fold the
training and replay seconds (the engine's own figures), with the config (default: the execution-priced
edge model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtest.folds import label_horizon_min, make_schedule  # noqa: E402
from backtest.walkforward import WalkForward  # noqa: E402
from streams.config import build_config  # noqa: E402
from streams.core.batch import Batch  # noqa: E402
from streams.services.features import compute_features  # noqa: E402


def _log(msg: str) -> None:
    print(f"{datetime.now(tz=UTC):%H:%M:%S} {msg}", file=sys.stderr, flush=True)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (parallel folds run in children)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def load(args: argparse.Namespace, start: str, end: str) -> Batch:
    if args.realdata:
        if args.pair.upper() == "EURUSD":
            raise SystemExit("EURUSD is the held-out pair: never used for development")
        d = dict(np.load(Path(args.realdata) / f"{args.pair}.npz", allow_pickle=False))
        bars = Batch(d)
        return bars.take((bars["ts"] >= _ms(start)) & (bars["ts"] < _ms(end)))
    from streams.data.synth import generate_market

    return Batch(generate_market([args.pair], start, end, args.seed).bars)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", default="GBPUSD")
    ap.add_argument("--start", default="2018-01-01")
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--train", default="6M")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--realdata", default="", help="folder of <PAIR>.npz bar caches (real data, local)")
    ap.add_argument("--mid-to-mid", action="store_true", help="the mid-to-mid edge model instead")
    ap.add_argument("--workers", type=int, default=1, help="folds run at once (forked processes)")
    ap.add_argument("--forest-jobs", type=int, default=1, help="regime forest n_jobs (threads)")
    ap.add_argument(
        "--regime-train", default="{}", help="regime.train overrides, e.g. '{\"max_samples\": 0.1}'"
    )
    ap.add_argument("--profile", default="", help="write a cProfile of the run to this file")
    args = ap.parse_args(argv)
    y, m = divmod(int(args.start[5:7]) - 1 + args.months, 12)
    end = f"{int(args.start[:4]) + y:04d}-{m + 1:02d}-01"
    config = build_config(
        {
            "market": {"pairs": [args.pair]},
            "edge": {"execution_priced": not args.mid_to_mid},
            "regime": {"train": {"n_jobs": args.forest_jobs, **json.loads(args.regime_train)}},
        }
    )
    t0 = time.perf_counter()
    bars = load(args, args.start, end)
    t_load = time.perf_counter() - t0
    folds = make_schedule(_ms(args.start), _ms(end), args.train, "1M", horizon_min=label_horizon_min(config))
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t1, c1 = time.perf_counter(), _cpu()
    features = compute_features(bars, config)
    t_feat = time.perf_counter() - t1
    with tempfile.TemporaryDirectory() as tmp:
        wf = WalkForward(
            "bench", bars, config, folds, Path(tmp), features=features, log=_log, workers=args.workers
        )
        summary = wf.run(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    total = time.perf_counter() - t1
    cpu = _cpu() - c1
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    folds_out = [
        {
            **{
                k: f.get(k)
                for k in ("train_seconds", "replay_seconds", "train_bars", "bars_replayed", "fills")
            },
            **{k: f.get(k) for k in ("return", "sharpe", "trades")},
            "regime_accuracy": f["models"].get("regime_accuracy"),
        }
        for f in summary["folds"]
    ]
    report = {
        "pair": args.pair,
        "data": "realdata" if args.realdata else f"synthetic seed {args.seed}",
        "span": [args.start, end],
        "bars": bars.n,
        "folds": len(folds),
        "edge_model": "mid-to-mid" if args.mid_to_mid else "execution-priced",
        "load_s": round(t_load, 2),
        "features_s": round(t_feat, 2),
        "total_s_after_load": round(total, 2),
        "cpu_s_after_load": round(cpu, 2),
        "workers": args.workers,
        "forest_jobs": args.forest_jobs,
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "train_s": round(sum(f["train_seconds"] or 0 for f in folds_out), 2),
        "replay_s": round(sum(f["replay_seconds"] or 0 for f in folds_out), 2),
        "regime_train": json.loads(args.regime_train),
        "stitched": summary["stitched"],
        "per_fold": folds_out,
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
