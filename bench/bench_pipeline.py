"""Whole-DAG in-process replay throughput (one core, model inference included), per-stage time shares,
the vectorisable stages alone, and the speed-up over a naive per-bar Python loop of the same stage code.

Usage: ``.venv/bin/python bench/bench_pipeline.py [--pairs 8] [--weeks 4] [--repeat 3]
[--edge-model models/artifacts/edge/latest] [--regime-model models/artifacts/regime/latest]``.
Prints one JSON document. Inputs: the seeded synthetic market (``streams.data.synth``) with the real
ForexFactory calendar (events drive both the generator's event regimes and the news stage).

* ``full_dag``: ``run_inprocess(build_stages(cfg), {"bars": bars}, chunk=...)``, best of ``--repeat``;
  ``bars_per_s`` counts input bars per wall second, ``cpu_bars_per_s`` per second of this process's CPU
  time (the robust figure on a shared machine, where wall time includes waiting for a core).
  ``runner_overhead_cpu_s`` = CPU time − CPU time inside ``stage.process`` (the runner's topic
  concatenation).
* ``stage_shares``: CPU time inside each stage's ``process`` calls (best replay, chunk None).
* ``vectorisable_alone``: stateless / row-wise stages on their own recorded input, best CPU time of
  ``--repeat``.
* ``naive_loop``: every stage driven one record at a time (``streams.core.stage.run_records``, the
  per-event path) over ``--naive-bars`` bars that follow a vectorised warm-up replay (so the models see
  ready rows); seconds per bar extrapolated to the whole market — an extrapolation, not a full run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.config import HSLRConfig, build_config  # noqa: E402
from streams.core.batch import Batch, concat  # noqa: E402
from streams.core.stage import Stage, run_records  # noqa: E402
from streams.dag import build_stages  # noqa: E402
from streams.data.calendar import read_calendar_csv  # noqa: E402
from streams.data.synth import generate_market  # noqa: E402
from streams.fx.pairs import KNOWN_PAIRS  # noqa: E402
from streams.runner.inprocess import run_inprocess  # noqa: E402

CALENDAR = "/work/shared/data/calendar/forexfactory_calendar_2019-11_2020-10.csv"
VECTORISABLE = ("market", "regime", "news")  # row-wise given their (small) state


class Timed:
    """Proxy stage that adds the time spent in ``process`` to ``clock[stage id]``."""

    def __init__(self, stage: Stage[Any], clock: dict[str, float]) -> None:
        self.stage, self.spec, self.clock = stage, stage.spec, clock

    def initial_state(self) -> Any:
        return self.stage.initial_state()

    def process(self, state: Any, topic: str, batch: Batch) -> Any:
        t0 = time.process_time()
        out = self.stage.process(state, topic, batch)
        self.clock[self.spec.id] = self.clock.get(self.spec.id, 0.0) + time.process_time() - t0
        return out


def _stages(cfg: HSLRConfig, calendar: Any) -> list[Stage[Any]]:
    from streams.stages.news import NewsStage

    stages = build_stages(cfg)
    return [NewsStage(cfg.news, calendar=calendar) if s.spec.id == "news" else s for s in stages]


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best CPU time of ``repeat`` calls (s)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def full_dag(stages: list[Stage[Any]], bars: Batch, chunk: int | None, repeat: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(repeat):
        clock: dict[str, float] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        run_inprocess([Timed(s, clock) for s in stages], {"bars": bars}, chunk=chunk)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if not best or cpu < best["cpu_s"]:
            inside = sum(clock.values())
            best = {
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "bars_per_s": round(bars.n / wall),
                "cpu_bars_per_s": round(bars.n / cpu),
                "stages_only_cpu_bars_per_s": round(bars.n / inside),
                "runner_overhead_cpu_s": round(cpu - inside, 4),
                "stage_s": {k: round(v, 4) for k, v in clock.items()},
            }
    return best


def stage_shares(stage_s: dict[str, float], n: int) -> dict[str, dict[str, float]]:
    total = sum(stage_s.values())
    return {
        k: {"s": v, "share": round(v / total, 3), "bars_per_s": round(n / v) if v else None}
        for k, v in stage_s.items()
    }


def vectorisable_alone(stages: list[Stage[Any]], bars: Batch, repeat: int) -> dict[str, float]:
    topics = run_inprocess(stages, {"bars": bars})
    out = {}
    for s in stages:
        if s.spec.id in VECTORISABLE:
            data = topics[s.spec.primary]
            out[s.spec.id] = round(
                bars.n / _best(lambda s=s, d=data: s.process(s.initial_state(), s.spec.primary, d), repeat)
            )
    from streams.stages.features.returns import mid_price
    from streams.stages.features.sessions import session_ids
    from streams.stages.features.volatility import gk_variance, tick_velocity

    def features_stateless() -> None:
        b = bars
        mid = mid_price(b["close"], b["spread"])
        gk_variance(b["open"], b["high"], b["low"], b["close"])
        tick_velocity(b["volume"], b["open"], b["high"], b["low"], b["close"], mid)
        session_ids(b["ts"], 60)

    out["features_stateless_parts"] = round(bars.n / _best(features_stateless, repeat))
    return out


def naive_loop(stages: list[Stage[Any]], bars: Batch, n_sample: int) -> dict[str, Any]:
    """Per-record replay of ``n_sample`` bars after a vectorised warm-up of the bars before them."""
    start = max(0, bars.n // 2 - n_sample)
    states: dict[str, Any] = {}
    run_inprocess(stages, {"bars": bars.take(slice(0, start))}, states=states)
    topics: dict[str, list[Batch]] = {"bars": [bars.take(slice(start, start + n_sample))]}
    clock: dict[str, float] = {}
    for s in stages:
        state = states[s.spec.id]
        for key in (*s.spec.inputs[1:], s.spec.primary):
            data = concat(topics.get(key, []))
            if not data.n:
                continue
            t0 = time.process_time()
            state, outs = run_records(s, state, key, data)
            clock[s.spec.id] = clock.get(s.spec.id, 0.0) + time.process_time() - t0
            for k, b in outs.items():
                topics.setdefault(k, []).append(b)
    total = sum(clock.values())
    return {
        "sample_bars": n_sample,
        "extrapolated": True,
        "s_per_bar": total / n_sample,
        "bars_per_s": round(n_sample / total),
        "stage_us_per_bar": {k: round(v / n_sample * 1e6, 1) for k, v in clock.items()},
    }


def run_market(pairs: list[str], args: argparse.Namespace, calendar: Any, cfg: HSLRConfig) -> dict[str, Any]:
    import numpy as np

    start = np.datetime64(args.start)
    bars = Batch(
        generate_market(pairs, str(start), str(start + 7 * args.weeks), args.seed, calendar=calendar).bars
    )
    stages = _stages(cfg, calendar)
    run_inprocess(stages, {"bars": bars.take(slice(0, 5000))})  # warm imports and caches
    res: dict[str, Any] = {"pairs": len(pairs), "weeks": args.weeks, "bars": bars.n, "full_dag": {}}
    for chunk in (None, 20_000):
        res["full_dag"][str(chunk)] = full_dag(stages, bars, chunk, args.repeat)
    res["stage_shares"] = stage_shares(res["full_dag"]["None"]["stage_s"], bars.n)
    res["vectorisable_alone"] = vectorisable_alone(stages, bars, args.repeat)
    if args.naive_bars:
        naive = naive_loop(stages, bars, args.naive_bars)
        naive["speedup_vs_full_dag_chunk_none"] = round(
            res["full_dag"]["None"]["cpu_bars_per_s"] * naive["s_per_bar"], 1
        )
        res["naive_loop"] = naive
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pairs", type=int, default=8, help="pairs of the multi-pair market (first of KNOWN_PAIRS)"
    )
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--start", default="2020-01-06", help="a Monday inside the calendar file's span")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-bars", type=int, default=600, help="bars of the per-record loop (0: skip)")
    ap.add_argument("--calendar", default=CALENDAR)
    ap.add_argument("--edge-model", default="models/artifacts/edge/latest")
    ap.add_argument("--regime-model", default="models/artifacts/regime/latest")
    args = ap.parse_args()
    calendar = read_calendar_csv(args.calendar)
    cfg = build_config({"edge": {"model_path": args.edge_model}, "regime": {"model_path": args.regime_model}})
    report = {
        "single_pair": run_market(["EURUSD"], args, calendar, cfg),
        "multi_pair": run_market(list(KNOWN_PAIRS[: args.pairs]), args, calendar, cfg),
        "target_bars_per_s": {"full_dag": 200_000, "vectorisable": 1_000_000},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
