"""In-process full-DAG speed (issue 14): throughput with per-stage CPU, cost per bar over replay
length, and peak memory of a long multi-pair replay (figures, not tests).

Usage (each mode prints one JSON document)::

    PYTHONPATH=$PWD .venv/bin/python bench/bench_speed.py throughput --pairs 1 --weeks 26 --repeat 3
    PYTHONPATH=$PWD .venv/bin/python bench/bench_speed.py scaling --weeks 1,4,13,26,52 --repeat 3
    PYTHONPATH=$PWD .venv/bin/python bench/bench_speed.py memory --pairs 8 --weeks 52 [--whole]

Inputs: the seeded synthetic market (``streams.data.synth``) with the ForexFactory calendar, models
trained by :mod:`bench.speed_models` on four weeks before the window (mid-to-mid edge model, so the
trader trades). ``throughput``: ``run_inprocess`` over the whole window as one batch, ``--repeat``
times after a warm-up; median and range of wall and CPU bars/s, per-stage CPU of the median run, the
load average before and after (the machine is shared). ``scaling``: the same on prefixes of one
1-pair market, µs of CPU per bar. ``memory``: the year replayed in 4-week pieces generated on the
fly through :func:`streams.runner.streaming.run_streaming` (only orders, fills, portfolio, governance,
control kept); peak RSS of this process (``ru_maxrss``). ``--whole``: generate the whole market and
run ``run_inprocess`` instead (the unbounded comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pipeline import CALENDAR, Timed, _stages  # noqa: E402
from bench.speed_models import models_for  # noqa: E402
from streams.core.batch import Batch, concat  # noqa: E402
from streams.data.calendar import read_calendar_csv  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402
from streams.fx.pairs import KNOWN_PAIRS  # noqa: E402
from streams.runner.inprocess import run_inprocess  # noqa: E402

START = np.datetime64("2020-01-06")  # a Monday inside the calendar file's span
MODELS = Path(
    os.environ.get("HSLR_BENCH_MODELS", Path(__file__).resolve().parents[1] / "var" / "bench-models")
)


def _pairs(n: int) -> list[str]:
    return ["GBPUSD"] if n == 1 else list(KNOWN_PAIRS[:n])


def _market(pairs: list[str], weeks: int, calendar: Any, seed: int = 3) -> Batch:
    return Batch(generate_market(pairs, str(START), str(START + 7 * weeks), seed, calendar=calendar).bars)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _one(stages: list[Any], bars: Batch) -> dict[str, Any]:
    clock: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    run_inprocess([Timed(s, clock) for s in stages], {"bars": bars})
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "stages": clock}


def _summary(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    wall = sorted(n / r["wall"] for r in runs)
    cpu = sorted(n / r["cpu"] for r in runs)
    med = sorted(runs, key=lambda r: r["cpu"])[len(runs) // 2]
    total = sum(med["stages"].values())
    return {
        "bars": n,
        "runs": len(runs),
        "wall_bars_per_s": {
            "median": round(statistics.median(wall)),
            "range": [round(wall[0]), round(wall[-1])],
        },
        "cpu_bars_per_s": {"median": round(statistics.median(cpu)), "range": [round(cpu[0]), round(cpu[-1])]},
        "cpu_us_per_bar": round(med["cpu"] / n * 1e6, 2),
        "stage_cpu": {
            k: {"s": round(v, 3), "share": round(v / total, 3), "us_per_bar": round(v / n * 1e6, 2)}
            for k, v in med["stages"].items()
        },
    }


def throughput(args: argparse.Namespace, calendar: Any) -> dict[str, Any]:
    pairs = _pairs(args.pairs)
    cfg = models_for(pairs, MODELS, calendar=calendar)
    bars = _market(pairs, args.weeks, calendar)
    stages = _stages(cfg, calendar)
    run_inprocess(stages, {"bars": bars.take(slice(0, 5000))})  # imports and caches warm
    load0 = os.getloadavg()
    runs = [_one(stages, bars) for _ in range(args.repeat)]
    return {
        "pairs": len(pairs),
        "weeks": args.weeks,
        **_summary(runs, bars.n),
        "loadavg_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
    }


def scaling(args: argparse.Namespace, calendar: Any) -> dict[str, Any]:
    pairs = _pairs(args.pairs)
    cfg = models_for(pairs, MODELS, calendar=calendar)
    weeks = [int(w) for w in args.weeks_list.split(",")]
    market = _market(pairs, max(weeks), calendar)
    stages = _stages(cfg, calendar)
    run_inprocess(stages, {"bars": market.take(slice(0, 5000))})
    out = {}
    for w in weeks:
        bars = market.take(market["ts"] < (START + 7 * w).astype("datetime64[ms]").astype(np.int64))
        load0 = os.getloadavg()
        s = _summary([_one(stages, bars) for _ in range(args.repeat)], bars.n)
        out[str(w)] = {
            "bars": bars.n,
            "cpu_us_per_bar": s["cpu_us_per_bar"],
            "cpu_bars_per_s": s["cpu_bars_per_s"],
            "stage_us_per_bar": {k: v["us_per_bar"] for k, v in s["stage_cpu"].items()},
            "loadavg": round(load0[0], 2),
        }
    return {"pairs": len(pairs), "by_weeks": out}


def memory(args: argparse.Namespace, calendar: Any) -> dict[str, Any]:
    from streams.runner.streaming import run_streaming

    pairs = _pairs(args.pairs)
    cfg = models_for(pairs, MODELS, calendar=calendar)
    stages = _stages(cfg, calendar)
    rss0 = _rss_mb()
    step = 4
    n = [0]

    def pieces() -> Any:  # 4-week windows generated when needed (independent seeds), never all at once
        for i, w in enumerate(range(0, args.weeks, step)):
            a, b = START + 7 * w, START + 7 * min(w + step, args.weeks)
            bars = Batch(generate_market(pairs, str(a), str(b), 100 + i, calendar=calendar).bars)
            n[0] += bars.n
            yield bars

    keep = ("orders", "fills", "portfolio", "governance", "control")
    t0, c0 = time.perf_counter(), time.process_time()
    if args.whole:
        out = run_inprocess(stages, {"bars": concat(list(pieces()))})
    else:
        out = run_streaming(stages, pieces(), keep=keep)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "pairs": len(pairs),
        "weeks": args.weeks,
        "bars": n[0],
        "runner": "run_inprocess (whole market in memory)" if args.whole else "run_streaming, 4-week pieces",
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_before_replay_mb": round(rss0, 1),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_bars_per_s": round(n[0] / cpu),
        "kept": {k: out[k].n for k in keep if k in out},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("throughput", "scaling", "memory"))
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--weeks-list", default="1,4,13,26,52")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--whole", action="store_true")
    args = ap.parse_args()
    calendar = read_calendar_csv(CALENDAR)
    report = {"throughput": throughput, "scaling": scaling, "memory": memory}[args.mode](args, calendar)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
