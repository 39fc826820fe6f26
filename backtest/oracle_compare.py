"""Oracle vs learned on the demo's synthetic market (``hslr oracle``): the same trader, two signal sources.

:func:`demo_replay` rebuilds what ``hslr demo`` does, in process: the seeded synthetic market with
event shocks at the reference calendar's times, models trained on ``[start, split)``, the full DAG
replayed over ``[split, end)``. :func:`compare` then replays only the trader over the learned
``signals.governed`` and over the oracle's (:mod:`backtest.oracle`) for each mechanics variant, and
:func:`evaluate` scores each replay the same way (:mod:`backtest.fold_metrics` over the window plus
the attribution of :mod:`backtest.attribution`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from backtest.attribution import attribution, order_stats, round_trips
from backtest.oracle import OracleSpec, oracle_signals, replay_trader, with_trader
from streams.core.batch import Batch

MINUTE_MS = 60_000


@dataclass(frozen=True)
class DemoReplay:
    """The learned replay of the demo's test window and the truth of its rows."""

    bars: Batch
    outputs: dict[str, Batch]
    truth: dict[str, npt.NDArray[Any]]
    config: Any
    training: dict[str, Any]


def demo_replay(
    pairs: Sequence[str], start: str, split: str, end: str, seed: int, calendar: str, workdir: Path
) -> DemoReplay:
    """Generate, train and replay as ``hslr demo`` does, on the in-process engine."""
    from backtest.engine import run_inprocess_engine
    from models.training import train_edge_artifact, train_regime_artifact
    from streams.cli_backtest import with_models
    from streams.cli_train import compute_features
    from streams.config import build_config
    from streams.data.sessions import to_ms
    from streams.data.synth import generate_market

    cal = None
    if calendar:
        from streams.cli_calendar import read_calendar_file

        cal = dict(read_calendar_file(calendar))
    market = generate_market(list(pairs), start, end, seed, calendar=cal)
    ts = market.bars["ts"]
    cut = to_ms(split)
    train = Batch({k: v[ts < cut] for k, v in market.bars.items()})
    test = Batch({k: v[ts >= cut] for k, v in market.bars.items()})
    base = build_config({"market": {"pairs": list(pairs)}})
    features = compute_features(train, base)
    now, params = datetime.now(tz=UTC), {"pairs": ",".join(pairs), "source": f"synth:{seed}"}
    kw = {"created_at": now, "code_version": "oracle", "params": params}
    regime = train_regime_artifact(features, base.section("regime"), root=workdir / "regime", **kw)
    edge = train_edge_artifact(features, base.section("edge"), root=workdir / "edge", **kw)
    config = with_models(base, str(regime.path), str(edge.path), calendar)
    out = run_inprocess_engine(test, config)
    truth = {k: np.asarray(v)[ts >= cut] for k, v in market.truth.items()}
    training = {"regime_accuracy": regime.report.get("accuracy"), "edge_test": edge.report.get("test")}
    return DemoReplay(test, out, truth, config, training)


def evaluate(
    signals: Batch, outputs: Mapping[str, Batch], truth: Mapping[str, npt.NDArray[Any]], config: Any
) -> dict[str, Any]:
    """One replay's figures: window metrics, attribution, orders per leg and round trips."""
    from backtest.fold_metrics import fold_metrics

    ecfg = config.section("edge")
    start, end = int(signals["ts"].min()), int(signals["ts"].max()) + MINUTE_MS
    topics = {**outputs, "signals.governed": signals}
    m = fold_metrics(
        topics,
        start,
        end,
        initial_equity=config.section("trader").portfolio.initial_equity_usd,
        horizon_min=ecfg.horizon_min,
        commission_bps=ecfg.commission_bps,
    )
    trips = round_trips(outputs["fills"])
    kills = outputs["control"].take(outputs["control"]["action"] == "KILL") if outputs["control"].n else None
    return {
        "orders_new": int((outputs["orders"]["action"] == "NEW").sum()) if outputs["orders"].n else 0,
        "fills": m["fills"],
        "round_trips": len(trips["pnl_usd"]),
        "trip_win_rate": float((trips["pnl_usd"] > 0).mean()) if len(trips["pnl_usd"]) else None,
        "trip_minutes_median": float(np.median(trips["minutes"])) if len(trips["minutes"]) else None,
        "fills_per_trip": float(trips["fills"].mean()) if len(trips["fills"]) else None,
        "return": m["return"],
        "sharpe": m["sharpe"],
        "max_drawdown": m["max_drawdown"],
        "spread_cost_usd": m["spread_cost_usd"],
        "signals_passed": int(signals["passed"].sum()),
        "kill": None if kills is None or not kills.n else f"{_iso(int(kills['ts'][0]))} {kills['reason'][0]}",
        "orders": order_stats(outputs["orders"], outputs["fills"]),
        **attribution(signals, outputs, truth),
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "before (all fills judged for toxicity)": {"execution": {"toxicity_legs": ["entry", "adjust", "exit"]}},
    "toxicity on exposure-adding fills": {},
    "+ resize band 0.5": {"risk": {"resize_band": 0.5}},
    "+ reversion exit": {"risk": {"exit_on_reversion": True}},
    "+ resize band 0.5 + reversion exit": {"risk": {"resize_band": 0.5, "exit_on_reversion": True}},
}
"""Mechanics variants, each replayed for both signal sources (every one is reported: 5 configurations)."""


def compare(
    demo: DemoReplay, spec: OracleSpec, variants: Mapping[str, Mapping[str, Any]] = VARIANTS
) -> dict[str, Any]:
    """Replay the trader over the learned and the oracle signals for every variant; return the figures."""
    learned = demo.outputs["signals.governed"]
    sources = {"learned": learned, "oracle": oracle_signals(learned, demo.truth, spec)}
    results: dict[str, Any] = {}
    for name, sections in variants.items():
        config = with_trader(demo.config, **{k: dict(v) for k, v in sections.items()})
        results[name] = {
            label: evaluate(sig, replay_trader(sig, config), demo.truth, config) for label, sig in sources.items()
        }
    return {"spec": spec.__dict__, "variants": {k: dict(v) for k, v in variants.items()}, "results": results}
