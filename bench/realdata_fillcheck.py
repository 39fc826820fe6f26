"""Validate the fill model against the paper broker's own orders (diagnostic replays, no PnL claim).

For finished folds of a real-data walk-forward run (bench/realdata_walkforward.py), replay the test
month with the fold's own models and permissive entry gates (``safety_factor 0``, ``min_win_prob 0``,
no CVaR / OU / skill gate; the regime, news and governance gates stay), so that the trader posts many
entry orders through the router and the paper broker. Each entry order's predicted P(fill) (the model
at its decision bar) is compared with whether the broker filled it, per pair and bucket, and the 5-min
markout of its fills with the model's. This configuration trades noise on purpose: its PnL is not a
result and is not reported.

    PYTHONPATH=$PWD python bench/realdata_fillcheck.py RUN_DIR --folds 0,8
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from backtest import econ_eval
    from backtest.folds import Fold
    from backtest.walkforward import FoldModels, fold_bars, fold_config, replay, warmup_bars
    from models.artifacts import load_artifact
    from streams.config import build_config, dump_config, load_config
    from streams.training.exec_edge import exec_params

    sys.path.insert(0, str(Path(__file__).parent))
    from realdata_walkforward import PAIRS, load_bars

    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--folds", required=True)
    ap.add_argument("--data", type=Path, default=Path("/work/realdata/histdata"))
    ap.add_argument("--cache", type=Path, default=Path("/work/realdata/cache"))
    a = ap.parse_args()
    data = dump_config(load_config(None))
    data.setdefault("edge", {}).update(
        safety_factor=0.0,
        min_win_prob=0.0,
        cvar_limit=1.0,
        block_invalid_ou=False,
        max_half_life_min=1e9,
        require_skill=False,
    )
    config = build_config(data)
    params = exec_params(config.edge, config.trader.execution)
    bars = load_bars(a.data, a.cache, PAIRS, range(2018, 2020))
    out_all: dict[str, dict[str, float]] = {}
    for k in [int(x) for x in a.folds.split(",")]:
        t0 = time.perf_counter()
        res = json.loads((a.run / "folds" / str(k) / "result.json").read_text())
        f = res["fold"]
        fold = Fold(k, f["train_from"], f["train_to"], f["test_from"], f["test_to"])
        m = res["models"]
        models = FoldModels(m["regime_path"], m["edge_path"], m["regime"], m["edge"], {})
        _, test = fold_bars(bars, fold, warmup_bars(config))
        out = replay(test, fold_config(config, models), "inprocess")
        model, _ = load_artifact(models.edge_path, kind="edge")
        cal = econ_eval.fill_calibration(
            out["signals.governed"], out["fills"], out["orders"], model, params, fold.test_from, fold.test_to
        )["broker"]
        o = out["orders"]
        entry = (
            (np.asarray(o["leg"]).astype(str) == "entry")
            & (o["ts"] >= fold.test_from)
            & (o["ts"] < fold.test_to)
        )
        acts = np.asarray(o["action"]).astype(str)[entry]
        reasons = np.asarray(o["reason"]).astype(str)[entry]
        cancel = {
            str(r): int(n)
            for r, n in zip(*np.unique(reasons[acts == "CANCEL"], return_counts=True), strict=True)
        }
        coids = np.asarray(o["client_order_id"]).astype(str)[entry]
        ots = np.asarray(o["ts"], np.int64)[entry]
        born = {c: t for c, t, a_ in zip(coids, ots, acts, strict=True) if a_ == "NEW"}
        life = [
            (t - born[c]) // 60_000
            for c, t, a_, r in zip(coids, ots, acts, reasons, strict=True)
            if a_ == "CANCEL" and r == "replace" and c in born
        ]
        ages = (
            {int(v): int(n) for v, n in zip(*np.unique(life, return_counts=True), strict=True)}
            if life
            else {}
        )
        print(
            f"fold {k}: entry NEW {int((acts == 'NEW').sum())}, CANCEL reasons {cancel}, replace ages (min) {ages}",
            file=sys.stderr,
        )
        (a.run / "folds" / str(k) / "fillcheck.json").write_text(
            json.dumps({"broker": cal, "cancel_reasons": cancel})
        )
        for key, s in cal.items():
            acc = out_all.setdefault(key.split(":")[0], dict.fromkeys(s, 0.0))
            for c in s:
                acc[c] += s[c]
        print(
            f"fold {k}: {sum(s['n'] for s in cal.values()):.0f} entry orders ({time.perf_counter() - t0:.0f}s)",
            file=sys.stderr,
        )
    for p, s in sorted(out_all.items()):
        n, nm = s["n"], s["n_mark"]
        print(
            f"| {p} | {int(n)} | {s['pred_fill'] / n:.3f} | {s['fills'] / n:.3f} | "
            f"{(s['pred_mark'] / nm if nm else np.nan):.2f} | {(s['mark'] / nm if nm else np.nan):.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
