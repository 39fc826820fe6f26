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
    from streams.config import build_config
    from streams.data.synth import generate_market
    from streams.fx.sessions import to_ms
    from streams.services.features import compute_features
    from streams.services.runs import with_models
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    cal = None
    if calendar:
        from streams.data.calendar import read_calendar_file

        cal = dict(read_calendar_file(calendar))
    market = generate_market(list(pairs), start, end, seed, calendar=cal)
    ts = market.bars["ts"]
    cut = to_ms(split)
    train = Batch({k: v[ts < cut] for k, v in market.bars.items()})
    test = Batch({k: v[ts >= cut] for k, v in market.bars.items()})
    base = build_config({"market": {"pairs": list(pairs)}})
    features = compute_features(train, base)
    now, params = datetime.now(tz=UTC), {"pairs": ",".join(pairs), "source": f"synth:{seed}"}
    regime = train_regime_artifact(
        features, base.regime, created_at=now, code_version="oracle", params=params, root=workdir / "regime"
    )
    edge = train_edge_artifact(
        features, base.edge, created_at=now, code_version="oracle", params=params, root=workdir / "edge"
    )
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

    ecfg = config.edge
    start, end = int(signals["ts"].min()), int(signals["ts"].max()) + MINUTE_MS
    topics = {**outputs, "signals.governed": signals}
    m = fold_metrics(
        topics,
        start,
        end,
        initial_equity=config.trader.portfolio.initial_equity_usd,
        horizon_min=ecfg.horizon_min,
        commission_bps=ecfg.commission_bps,
    )
    trips = round_trips(outputs["fills"])
    true_er, cost = signal_edge(signals, truth, ecfg.horizon_min)
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
        "signal_true_edge_bps": true_er,
        "signal_cost_bps": cost,
        "kill": None if kills is None or not kills.n else f"{_iso(int(kills['ts'][0]))} {kills['reason'][0]}",
        "orders": order_stats(outputs["orders"], outputs["fills"]),
        **attribution(signals, outputs, truth),
    }


def signal_edge(
    signals: Batch, truth: Mapping[str, npt.NDArray[Any]], horizon_min: int
) -> tuple[float | None, float | None]:
    """Mean true expected return (bps) of the passed signals' trades over ``horizon_min`` under the
    generator's OU, ``side x -d (1 - e^(-theta h))``, and their mean round-trip cost (bps)."""
    from backtest.oracle import align

    passed = signals.take(np.asarray(signals["passed"], dtype=bool))
    if not passed.n:
        return None, None
    rows = align(passed, truth)
    d = np.asarray(truth["deviation"], dtype=np.float64)[rows]
    theta = np.asarray(truth["ou_theta"], dtype=np.float64)[rows]
    er = passed["side"] * d * np.expm1(-theta * horizon_min)
    return float(np.mean(er) * 1e4), float(np.mean(passed["cost"]) * 1e4)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


OLD_RISK = {"resize_band": 0.0, "exit_on_reversion": False}
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "before: every fill judged for toxicity": {
        "execution": {"toxicity_legs": ["entry", "adjust", "exit"]},
        "risk": OLD_RISK,
    },
    "toxicity on exposure-adding fills": {"risk": OLD_RISK},
    "+ resize band 0.5": {"risk": {"exit_on_reversion": False}},
    "+ reversion exit": {"risk": {"resize_band": 0.0}},
    "+ both (new defaults)": {},
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
            label: evaluate(sig, replay_trader(sig, config), demo.truth, config)
            for label, sig in sources.items()
        }
    return {"spec": spec.__dict__, "variants": {k: dict(v) for k, v in variants.items()}, "results": results}


ROWS = (
    ("orders_new", "orders posted", "{:,}"),
    ("fills", "fills", "{:,}"),
    ("round_trips", "round trips", "{:,}"),
    ("fills_per_trip", "fills per round trip", "{:.1f}"),
    ("trip_win_rate", "round trips won", "{:.0%}"),
    ("trip_minutes_median", "median round trip (min)", "{:.0f}"),
    ("signals_passed", "signals passed (bars)", "{:,}"),
    ("signal_true_edge_bps", "true expected edge per passed signal (bps)", "{:.2f}"),
    ("signal_cost_bps", "gate cost per passed signal (bps)", "{:.2f}"),
    ("expected_target_usd", "expected PnL of the targets (sizing + exits, ideal fills)", "{:,.0f}"),
    ("expected_position_usd", "expected PnL of the positions held (after fills)", "{:,.0f}"),
    ("expected_against_usd", "… of which held against the true reversion", "{:,.0f}"),
    ("position_pnl_usd", "gross: realised PnL of the positions at mid", "{:,.0f}"),
    ("execution_usd", "costs: fills vs fill-bar mid (spread + adverse selection)", "{:,.0f}"),
    ("execution_bps", "costs per traded notional (bps)", "{:.2f}"),
    ("net_usd", "net PnL", "{:,.0f}"),
    ("return", "return", "{:+.2%}"),
    ("sharpe", "Sharpe (daily, annualised)", "{:.2f}"),
    ("max_drawdown", "max drawdown", "{:.2%}"),
    ("notional_usd", "traded notional", "{:,.0f}"),
    ("kill", "kill switch", "{}"),
)


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return fmt.format(value)


def markdown(result: Mapping[str, Any], header: str = "") -> str:
    """The comparison as Markdown: the final mechanics side by side, then every variant tried."""
    names = list(result["results"])
    final = result["results"][names[-1]]
    lines = [
        header,
        f"## Oracle vs learned, mechanics: {names[-1]}",
        "",
        "| | learned | oracle |",
        "|---|---:|---:|",
    ]
    for key, label, fmt in ROWS:
        lines.append(
            f"| {label} | {_cell(final['learned'].get(key), fmt)} | {_cell(final['oracle'].get(key), fmt)} |"
        )
    lines += ["", "Entry / adjust / exit orders: posted → filled (fill rate)", ""]
    for label in ("learned", "oracle"):
        parts = [
            f"{leg} {v['posted']} → {v['filled']} ({_cell(v['fill_rate'], '{:.0%}')})"
            for leg, v in final[label]["orders"].items()
        ]
        lines.append(f"- {label}: " + "; ".join(parts))
    lines += [
        "",
        f"## Every mechanics variant tried ({len(names)} configurations, both signal sources)",
        "",
        "| variant | learned orders | learned net USD | learned return | learned Sharpe | oracle orders | oracle net USD "
        "| oracle return | oracle Sharpe | oracle expected PnL held | oracle kill |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in names:
        le, orc = result["results"][name]["learned"], result["results"][name]["oracle"]
        lines.append(
            f"| {name} | {le['orders_new']:,} | {_cell(le['net_usd'], '{:,.0f}')} | {_cell(le['return'], '{:+.2%}')} "
            f"| {_cell(le['sharpe'], '{:.2f}')} | {orc['orders_new']:,} | {_cell(orc['net_usd'], '{:,.0f}')} "
            f"| {_cell(orc['return'], '{:+.2%}')} | {_cell(orc['sharpe'], '{:.2f}')} "
            f"| {_cell(orc['expected_position_usd'], '{:,.0f}')} | {orc['kill'] or '—'} |"
        )
    return "\n".join(lines) + "\n"
