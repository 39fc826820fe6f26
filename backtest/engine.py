"""Run the full DAG over stored history on either engine and summarise what it did.

``inprocess``: the stages chained over whole arrays (no broker). ``kafka``: a topic replay — the bars
are published to a fresh topic namespace and the same stages run as Faust workers (two processes, one
per core), exactly as live; outputs are read back from their topics after the end-of-replay markers.
Both engines give identical orders, fills and PnL (tests/integration/test_engine_parity.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from backtest.jsonsafe import clean
from backtest.stats import sharpe
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.core.units import DAY_MS
from streams.dag import STAGE_FACTORIES, build_stages
from streams.runner.inprocess import run_inprocess

RESULT_TOPICS = (
    "bars.clean",
    "quarantine",
    "signals.governed",
    "risk.targets",
    "orders",
    "fills",
    "portfolio",
    "governance",
)
"""Topics a backtest reads back (the Kafka engine collects exactly these)."""

WORKER_GROUPS = (("market", "features", "regime", "news", "edge"), ("governance", "trader"))
"""Stages per Faust worker process for the Kafka engine: two processes for two cores."""


def run_inprocess_engine(bars: Batch, config: HSLRConfig, chunk: int | None = 50_000) -> dict[str, Batch]:
    """All stages in this process; returns every topic's records."""
    return run_inprocess(build_stages(config), {"bars": bars}, chunk=chunk)


def run_kafka_engine(
    bars: Batch,
    config: HSLRConfig,
    *,
    workdir: Path | None = None,
    groups: Sequence[Sequence[str]] = WORKER_GROUPS,
    timeout: float = 3600.0,
    message_records: int = 500,
    fuse: bool = False,
) -> dict[str, Batch]:
    """Replay ``bars`` through Faust workers on real Kafka; return the records of :data:`RESULT_TOPICS`.

    ``fuse``: each worker runs its group as one co-located agent (``hslr worker --fuse``)."""
    from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
    from streams.binding.workers import fresh_namespace, worker
    from streams.infra import bootstrap_servers

    missing = sorted(set(STAGE_FACTORIES) - {s for g in groups for s in g})
    if missing:
        raise ValueError(f"worker groups leave out stages {missing}")
    ns = fresh_namespace("bt")
    bootstrap = bootstrap_servers()
    ensure_topics(bootstrap, ns)  # each worker creates its own state topic (fused or not) when it starts
    with ExitStack() as stack:
        tmp = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        cfg = tmp / "config.json"
        cfg.write_text(json.dumps(dump_config(config)))
        procs = [
            stack.enter_context(
                worker(
                    g,
                    ns,
                    cfg,
                    tmp / f"worker-{i}.log",
                    env={
                        "HSLR_BATCH_WITHIN_S": "0.05",
                        "HSLR_BATCH_MAX": "5000",
                        "HSLR_MESSAGE_RECORDS": str(message_records),
                    },
                    args=["--fuse"] if fuse else [],
                )
            )
            for i, g in enumerate(groups)
        ]
        out = Out(bootstrap)
        publish(out, "bars", bars, ns, max_records=message_records)
        publish_marker(out, "bars", "backtest", ns)
        out.flush()
        return collect(
            bootstrap,
            RESULT_TOPICS,
            "backtest",
            ns,
            timeout=timeout,
            alive=lambda: all(p.poll() is None for p in procs),
        )


def run_engine(engine: str, bars: Batch, config: HSLRConfig, **kwargs: Any) -> dict[str, Batch]:
    if engine == "inprocess":
        return run_inprocess_engine(bars, config)
    if engine == "kafka":
        return run_kafka_engine(bars, config, **kwargs)
    raise ValueError(f"unknown engine {engine!r}; use 'kafka' or 'inprocess'")


def equity_curve(portfolio: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Account rows (``pair == ""``) of the portfolio topic: times (ms) and equity (USD)."""
    acct = portfolio["pair"] == ""
    return portfolio["ts"][acct], portfolio["equity_usd"][acct]


def daily_sharpe(ts: np.ndarray, equity: np.ndarray, periods_per_year: float = 260.0) -> float:
    """Annualised Sharpe ratio (:func:`backtest.stats.sharpe`) of the daily (UTC day close) returns of an
    equity curve; NaN with fewer than 3 days."""
    if len(ts) == 0:
        return float("nan")
    day = ts // DAY_MS
    closes = equity[np.flatnonzero(np.r_[day[1:] != day[:-1], True])]
    return sharpe(np.diff(closes) / closes[:-1], periods_per_year)


def gate_counts(signals: Batch) -> dict[str, int]:
    """How many bars each entry gate blocked (a bar can be blocked by several)."""
    counts: dict[str, int] = {}
    for text, n in zip(*np.unique(signals["blocked_by"], return_counts=True), strict=True):
        for gate in filter(None, str(text).split(",")):
            counts[gate] = counts.get(gate, 0) + int(n)
    return dict(sorted(counts.items()))


def summarize(bars: Batch, out: dict[str, Batch], initial_equity: float) -> dict[str, Any]:
    """The JSON summary of a run (see ``hslr backtest --help``)."""
    return clean(_summary(bars, out, initial_equity))  # strict JSON: PostgreSQL's JSONB rejects NaN


def _summary(bars: Batch, out: dict[str, Batch], initial_equity: float) -> dict[str, Any]:
    sig, fills, orders, gov = out["signals.governed"], out["fills"], out["orders"], out["governance"]
    ts, eq = equity_curve(out["portfolio"])
    executed = np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"])
    final = float(eq[-1]) if len(eq) else initial_equity
    actions = gov["action"][~np.isin(gov["action"], ["", "NONE"])] if gov.n else np.empty(0, dtype=str)
    return {
        "bars_processed": bars.n,
        "bars_clean": out["bars.clean"].n,
        "quarantined": out["quarantine"].n,
        "orders": int(orders.n),
        "orders_new": int((orders["action"] == "NEW").sum()) if orders.n else 0,
        "fills": int(executed.sum()),
        "trades": int(len(np.unique(fills["client_order_id"][executed]))) if fills.n else 0,
        "pnl_usd": final - initial_equity,
        "return": final / initial_equity - 1.0,
        "sharpe": daily_sharpe(ts, eq),
        "max_drawdown": float(out["portfolio"]["drawdown"].max()) if out["portfolio"].n else 0.0,
        "fraction_tradeable": float(sig["tradeable"].mean()) if sig.n else 0.0,
        "signals_passed": int(sig["passed"].sum()) if sig.n else 0,
        "gates_blocked": gate_counts(sig) if sig.n else {},
        "triggers_fired": dict(
            zip(*(x.tolist() for x in np.unique(actions, return_counts=True)), strict=True)
        ),
        "kill_switch": bool(out["portfolio"]["kill_active"].any()) if out["portfolio"].n else False,
    }
