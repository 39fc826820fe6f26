"""Walk-forward of the whole system on real HistData M1 files, with the execution economics evaluated.

Research driver (figures, not a test). Reads ``HISTDATA_COM_ASCII_<PAIR>_M1<YEAR>.zip`` files from
``--data`` (never commit them), computes the features once over the whole history (every feature uses
past bars only), then runs :class:`backtest.walkforward.WalkForward` in-process: per fold the regime
and execution-priced edge models are trained on the train window only and the test month is replayed
through the DAG. Each fold adds (:mod:`backtest.econ_eval`) the edge skill out of sample, the fill-model
calibration (simulated and the broker's own orders), per-pair PnL and the research grid's daily returns
(for PBO and the deflated Sharpe ratio). ``--folds 0,2,4`` runs a subset (another process can run the
rest into the same ``--run-dir``); ``--merge`` only stitches finished folds into ``econ_summary.json``.

    PYTHONPATH=$PWD python bench/realdata_walkforward.py --data /work/realdata/histdata \\
        --cache /work/realdata/cache --run-dir /work/realdata/runs/wf1 --folds 0,2,4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

PAIRS = ("GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD")
SAFETY = (1.0, 1.5)
WIN_PROBS = (0.5, 0.55)


def log(msg: str) -> None:
    print(f"{datetime.now(tz=UTC):%H:%M:%S} {msg}", file=sys.stderr, flush=True)


def load_bars(data: Path, cache: Path, pairs: tuple[str, ...], years: range) -> Any:
    from streams.core.batch import Batch
    from streams.data.histdata import read_histdata

    parts = []
    for p in pairs:
        c = cache / f"{p}.npz"
        if not c.exists():
            cols = [read_histdata(data / f"HISTDATA_COM_ASCII_{p}_M1{y}.zip", p).bars for y in years]
            np.savez(c, **{k: np.concatenate([x[k] for x in cols]) for k in cols[0]})
        parts.append(dict(np.load(c, allow_pickle=False)))
    d = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    order = np.lexsort((d["pair"], d["ts"]))
    return Batch({k: v[order] for k, v in d.items()})


def load_features(bars: Any, config: Any, cache: Path, tag: str) -> Any:
    from streams.core.batch import Batch
    from streams.services.features import compute_features

    c = cache / f"features-{config.digest()}-{tag}.npz"
    if c.exists():
        return Batch(dict(np.load(c, allow_pickle=False)))
    f = compute_features(bars, config)
    np.savez(c, **{k: np.asarray(f[k]) for k in f})
    return f


def make_extra(features: Any, config: Any, rng_seed: int = 0) -> Any:
    from backtest import econ_eval
    from models.artifacts import load_artifact
    from streams.training.exec_edge import candidates_of, exec_params

    ecfg = config.edge
    params = exec_params(ecfg, config.trader.execution)

    def extra(fold: Any, models: Any, out: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        model, _ = load_artifact(models.edge_path, kind="edge")
        rng = np.random.default_rng(rng_seed + fold.k)
        sig = out["signals.governed"]
        fts = features["ts"]
        train = features.take((fts >= fold.train_from) & (fts < fold.train_to))
        test = features.take((fts >= fold.test_from - 6 * 3_600_000) & (fts < fold.test_to))
        days, R = econ_eval.grid_daily_returns(
            train, test, model, params, fold.test_from, fold.test_to, candidates_of(ecfg), SAFETY, WIN_PROBS
        )
        res = {
            "skill": econ_eval.edge_skill(sig, model, params, fold.test_from, fold.test_to, rng),
            "fill_calibration": econ_eval.fill_calibration(
                sig, out["fills"], out["orders"], model, params, fold.test_from, fold.test_to
            ),
            "pairs": econ_eval.pair_pnl(out["fills"], fold.test_from, fold.test_to, ecfg.commission_bps),
            "grid": {
                "names": econ_eval.grid_names(candidates_of(ecfg), SAFETY, WIN_PROBS),
                "days": days.tolist(),
                "returns": R.tolist(),
            },
            "gate_blocks": _gate_blocks(sig, fold),
            "eval_seconds": round(time.perf_counter() - t0, 2),
        }
        return res

    return extra


def _gate_blocks(sig: Any, fold: Any) -> dict[str, int]:
    m = (sig["ts"] >= fold.test_from) & (sig["ts"] < fold.test_to)
    out: dict[str, int] = {}
    for text in np.asarray(sig["blocked_by"])[m].astype(str):
        for g in text.split(",") if text else ["passed"]:
            out[g] = out.get(g, 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    from backtest.folds import label_horizon_min, make_schedule
    from backtest.walkforward import WalkForward
    from backtest.walkforward import _write_atomic as write_json
    from streams.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--from", dest="start", default="2018-01-01")
    ap.add_argument("--to", dest="end", default="2020-01-01")
    ap.add_argument("--folds", default="")
    ap.add_argument("--train", default="6M")
    ap.add_argument("--test", default="1M")
    ap.add_argument("--config", default="")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    config = load_config(args.config or None)
    pairs = tuple(p.strip().upper() for p in args.pairs.split(","))
    start = int(datetime.fromisoformat(args.start).replace(tzinfo=UTC).timestamp() * 1000)
    end = int(datetime.fromisoformat(args.end).replace(tzinfo=UTC).timestamp() * 1000)
    folds = make_schedule(start, end, args.train, args.test, horizon_min=label_horizon_min(config))
    args.cache.mkdir(parents=True, exist_ok=True)
    bars = load_bars(args.data, args.cache, pairs, range(2018, 2020))
    bars = bars.take((bars["ts"] >= start) & (bars["ts"] < end))
    log(f"{bars.n} bars loaded ({time.perf_counter() - t0:.0f}s); {len(folds)} folds")
    tag = f"{'_'.join(pairs)}-{args.start}-{args.end}"
    features = load_features(bars, config, args.cache, tag)
    log(f"features ready ({time.perf_counter() - t0:.0f}s)")
    chosen = [folds[int(k)] for k in args.folds.split(",")] if args.folds else folds
    wf = WalkForward(
        args.run_dir.name,
        bars,
        config,
        chosen,
        args.run_dir,
        features=features,
        extra=make_extra(features, config),
        log=log,
    )
    for fold in chosen:
        path = args.run_dir / "folds" / str(fold.k) / "result.json"
        if path.exists():
            continue
        # fold by fold (not wf.run()): several processes share the run directory, one fold each
        res = wf.run_fold(fold, "realdata", datetime(2020, 1, 1, tzinfo=UTC))
        write_json(path, res)
        log(
            f"fold {fold.k} done: return {res['return']:+.4%} fills {res['fills']} ({time.perf_counter() - t0:.0f}s)"
        )
    log(f"part done in {time.perf_counter() - t0:.0f}s")
    (args.run_dir / f"timing-{args.folds or 'all'}.json").write_text(
        json.dumps({"seconds": round(time.perf_counter() - t0, 1), "folds": [f.k for f in chosen]})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
