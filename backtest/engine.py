"""Run the full DAG over stored history on either engine and summarise what it did.

``inprocess``: the stages chained over whole arrays (no broker). ``kafka``: a topic replay — the bars
are published to a fresh topic namespace and the same stages run as Faust workers (two processes, one
per core), exactly as live; outputs are read back from their topics after the end-of-replay markers.
Both engines give identical orders, fills and PnL (tests/integration/test_engine_parity.py).
"""

from __future__ import annotations

import json
import shutil
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
"""Topics a backtest reads back with their end-of-replay markers; the Kafka engine also reads
``control`` to its end afterwards (two stages write it, so its markers do not say when it is done)."""

REPLAY_FETCH_BYTES = 16 * 1024**2
"""A replay worker's fetch size per partition: its input is all there, so fewer, larger fetches (with
Faust's 1 MiB the consumer stalled 0.3-1 s between fetches: results/kafka_speed.md, round 3)."""

WORKER_GROUPS = (("market", "features", "regime", "news", "edge"), ("governance", "trader"))
"""Stages per Faust worker process for the Kafka engine: two processes for two cores."""


def unread_topics(config: HSLRConfig, groups: Sequence[Sequence[str]], fuse: bool) -> frozenset[str]:
    """Topics the workers write that no worker agent reads from Kafka and a backtest does not collect
    (fused: ``features``, ``regime``, ``regime.adjusted``; one worker: also ``signals``)."""
    from streams.dag import worker_stages

    specs = [s.spec for g in groups for s in worker_stages(config, g, fuse)]
    read = {t for spec in specs for t in spec.inputs} | set(RESULT_TOPICS) | {"control", "deadletter"}
    return frozenset(t for spec in specs for t in spec.outputs if t not in read)


def replay_worker_env(message_records: int, unpublished: str) -> dict[str, str]:
    """The environment of a topic replay's workers (over the project's settings, which are live's):
    batches of up to 5,000 messages gathered for up to 50 ms, fetches of up to 16 MiB per partition,
    records per message, unpublished topics."""
    return {
        "HSLR_BATCH_WITHIN_S": "0.05",
        "HSLR_BATCH_MAX": "5000",
        "HSLR_CONSUMER_MAX_FETCH_BYTES": str(REPLAY_FETCH_BYTES),
        "HSLR_MESSAGE_RECORDS": str(message_records),
        "HSLR_UNPUBLISHED": unpublished,
    }


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
    audit: bool = True,
) -> dict[str, Batch]:
    """Replay ``bars`` through Faust workers on real Kafka; return the records of :data:`RESULT_TOPICS`.

    ``fuse``: each worker runs its group as one co-located agent (``hslr worker --fuse``). ``audit``:
    publish every topic, as live; ``False``: leave out the topics no one reads (:func:`unread_topics`),
    which a fused replay computes in memory only (fewer bytes to encode and through the broker)."""
    from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker, read_to_end
    from streams.binding.workers import died_message, fresh_namespace, settle, worker
    from streams.infra import bootstrap_servers

    missing = sorted(set(STAGE_FACTORIES) - {s for g in groups for s in g})
    if missing:
        raise ValueError(f"worker groups leave out stages {missing}")
    unpublished = "" if audit else ",".join(sorted(unread_topics(config, groups, fuse)))
    ns = fresh_namespace("bt")
    bootstrap = bootstrap_servers()
    ensure_topics(bootstrap, ns)  # each worker creates its own state topic (fused or not) when it starts
    # without a workdir the worker logs go to a temporary directory that is removed only on success
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="hslr-kafka-engine-"))
    tmp.mkdir(parents=True, exist_ok=True)
    logs = [tmp / f"worker-{i}.log" for i in range(len(groups))]
    with ExitStack() as stack:
        cfg = tmp / "config.json"
        cfg.write_text(json.dumps(dump_config(config)))
        procs = [
            stack.enter_context(
                worker(
                    g,
                    ns,
                    cfg,
                    logs[i],
                    env=replay_worker_env(message_records, unpublished),
                    args=["--fuse"] if fuse else [],
                )
            )
            for i, g in enumerate(groups)
        ]
        out = Out(bootstrap)
        publish(out, "bars", bars, ns, max_records=message_records)
        publish_marker(out, "bars", "backtest", ns)
        out.flush()
        try:
            result = collect(
                bootstrap,
                RESULT_TOPICS,
                "backtest",
                ns,
                timeout=timeout,
                alive=lambda: all(p.poll() is None for p in procs),
            )
        except (RuntimeError, TimeoutError) as exc:
            if any(p.poll() is not None for p in procs):
                settle(procs)
            died = died_message(list(zip(procs, logs, strict=True)))
            raise RuntimeError(f"{exc}\n{died}" if died else f"{exc} (worker logs: {tmp})") from exc
        # every writer of control (governance, trader) has published its end marker on its other
        # topics, after its control records: read control to its end now
        result["control"] = read_to_end(bootstrap, "control", ns)
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


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


def triggers_fired(gov: Batch, control: Batch | None) -> dict[str, int]:
    """Counts of governance actions plus the control commands of every other issuer (the trader's
    kill switch, operator, watchdog); governance's own commands on ``control`` are not counted twice."""
    actions = list(gov["action"][~np.isin(gov["action"], ["", "NONE"])].tolist()) if gov.n else []
    if control is not None and control.n:
        other = control.take(control["issuer"] != "governance")
        _, first = np.unique(other["command_id"], return_index=True)
        actions += other["action"][np.sort(first)].tolist()
    names, counts = np.unique(np.asarray(actions, dtype=str), return_counts=True)
    return dict(zip(names.tolist(), counts.tolist(), strict=True))


def _summary(bars: Batch, out: dict[str, Batch], initial_equity: float) -> dict[str, Any]:
    from backtest.blotter import positions_per_bar, round_trips, time_in_market
    from backtest.controls import control_events

    sig, fills, orders, gov = out["signals.governed"], out["fills"], out["orders"], out["governance"]
    control = out.get("control")
    ts, eq = equity_curve(out["portfolio"])
    executed = np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"])
    final = float(eq[-1]) if len(eq) else initial_equity
    trips = round_trips(fills, orders, out.get("risk.targets"))
    clean = out["bars.clean"]
    minutes = np.unique(clean["ts"]) if clean.n else np.zeros(0, np.int64)
    pairs = sorted({str(p) for p in clean["pair"]}) if clean.n else []
    events = control_events(control)
    killed = any(e["action"] == "KILL" for e in events)
    return {
        "bars_processed": bars.n,
        "bars_clean": clean.n,
        "quarantined": out["quarantine"].n,
        "orders": int(orders.n),
        "orders_new": int((orders["action"] == "NEW").sum()) if orders.n else 0,
        "fills": int(len(np.unique(fills["client_order_id"][executed]))) if fills.n else 0,
        "fill_reports": int(executed.sum()),
        "trades": int((trips["exit_reason"] != "open").sum()),
        "trades_open_at_end": int((trips["exit_reason"] == "open").sum()),
        "pnl_usd": final - initial_equity,
        "return": final / initial_equity - 1.0,
        "sharpe": daily_sharpe(ts, eq),
        "max_drawdown": float(out["portfolio"]["drawdown"].max()) if out["portfolio"].n else 0.0,
        "time_in_market": time_in_market(positions_per_bar(minutes, out["portfolio"], pairs, initial_equity)),
        "regime_tradeable_share": float(sig["tradeable"].mean()) if sig.n else 0.0,
        "signals_passed": int(sig["passed"].sum()) if sig.n else 0,
        "gates_blocked": gate_counts(sig) if sig.n else {},
        "triggers_fired": triggers_fired(gov, control),
        "kill_switch": killed
        or (bool(out["portfolio"]["kill_active"].any()) if out["portfolio"].n else False),
        "kills_and_halts": events,
    }
