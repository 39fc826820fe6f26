"""Peer benchmark: the same synthetic bars through HSLR's full DAG, NautilusTrader's BacktestEngine,
backtrader and a plain per-bar Python loop, in one run, interleaved (each round runs every engine once,
in a rotated order), each engine in its own process; prints bars/s per engine and the ratios to HSLR.

Usage (from the repository root, the project venv; the peers in their own venv, see README):
``PYTHONPATH=. .venv/bin/python bench/peers/run.py [--markets 1x26,8x4] [--repeat 3]
[--peers-python /work/peers-venv/bin/python]``.

Markets ``PxW``: the first P pairs of ``KNOWN_PAIRS``, W weeks of the seeded synthetic market after
2020-02-03 (``bench_kafka_replay.market``: models trained on the 4 weeks before, real calendar when present).
What each timing includes (``run_s``; ``setup_s`` is reported apart and not in bars/s):

* ``hslr``: ``run_inprocess`` of the full DAG (7 stages, model inference, orders, fills, portfolio) over
  all bars in one chunk, after a warm-up replay of 5,000 bars; setup = imports, models, warm-up.
* ``nautilus``: ``engine.run()`` over BID + ASK bars (2 bars per input bar), one strategy per pair;
  setup = venue, instruments, bar wrangling, strategies.
* ``backtrader``: ``cerebro.run()`` with one feed per pair; setup = the pandas feeds.
* ``loop``: ``zscore.run_loop``: the strategy and the loop's fill model, one Python step per bar.

HSLR runs a different, much larger strategy (the whole DAG) than the z-score strategy the others run:
the ratios compare what a replay costs per bar in each, not equal work.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(1, str(HERE.parents[1]))

from bench_kafka_replay import market  # noqa: E402

from streams.config import dump_config  # noqa: E402
from streams.fx.pairs import KNOWN_PAIRS  # noqa: E402

ENGINES = ("hslr", "nautilus", "backtrader", "loop")
PEERS = {"nautilus", "backtrader"}


def _run(engine: str, python: str, bars: Path, config: Path) -> dict[str, Any]:
    cmd = [python, str(HERE / f"engine_{engine}.py"), str(bars)] + ([str(config)] if engine == "hslr" else [])
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=3600)  # noqa: S603
    if proc.returncode != 0:
        return {"engine": engine, "error": (proc.stderr or proc.stdout).strip().splitlines()[-3:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    vals = [r[key] for r in runs if r.get(key)]
    if not vals:
        return {}
    return {f"median_{key}": round(statistics.median(vals)), f"range_{key}": [min(vals), max(vals)]}


def bench_market(spec: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    npairs, weeks = (int(x) for x in spec.split("x"))
    bars, config = market(list(KNOWN_PAIRS)[:npairs], weeks, Path(args.models))
    path, cfg = tmp / f"{spec}.npz", tmp / f"{spec}.json"
    np.savez(path, **{k: np.asarray(bars[k]) for k in bars})
    cfg.write_text(json.dumps(dump_config(config)))
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in args.engines}
    for r in range(args.repeat):
        order = args.engines[r % len(args.engines) :] + args.engines[: r % len(args.engines)]
        for e in order:
            res = _run(e, args.peers_python if e in PEERS else sys.executable, path, cfg)
            res["load"] = round(os.getloadavg()[0], 2)
            runs[e].append(res)
            print(json.dumps({"market": spec, "round": r, **res}), file=sys.stderr, flush=True)
    out: dict[str, Any] = {"bars": bars.n, "pairs": npairs, "weeks": weeks, "engines": {}}
    for e, rs in runs.items():
        ok = [x for x in rs if "bars_per_s" in x]
        out["engines"][e] = {**_median(ok, "bars_per_s"), **_median(ok, "cpu_bars_per_s"), "runs": rs}
    base = out["engines"].get("hslr", {})
    for v in out["engines"].values():
        for k in ("bars_per_s", "cpu_bars_per_s"):
            if base.get(f"median_{k}") and v.get(f"median_{k}"):
                v[f"{k}_ratio_to_hslr"] = round(v[f"median_{k}"] / base[f"median_{k}"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markets", default="1x26,8x4")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    default_peers = os.environ.get("HSLR_PEERS_PYTHON") or (
        "/work/peers-venv/bin/python" if Path("/work/peers-venv/bin/python").exists() else sys.executable
    )
    ap.add_argument(
        "--peers-python", default=default_peers, help="interpreter with nautilus_trader, backtrader"
    )
    ap.add_argument("--models", default=str(Path(tempfile.gettempdir()) / "hslr-bench-models"))
    args = ap.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    report: dict[str, Any] = {"peers_python": args.peers_python, "markets": {}}
    with tempfile.TemporaryDirectory() as d:
        for spec in args.markets.split(","):
            report["markets"][spec] = bench_market(spec, args, Path(d))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
