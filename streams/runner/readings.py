"""Trading, regime and governance metrics read off a stage's output records (pure: no I/O, no clock).

The runtime hands every output batch to its metrics (``Metrics.records``); the Prometheus binding turns
the :class:`Reading` values of :func:`readings` into gauges and counters. Names follow Prometheus
conventions: base units (``_usd``, ``_units``, ``_ratio`` for 0-1 fractions, ``_nats``), ``_total`` for
counters, and labels of bounded cardinality (pairs of the config, regimes, gates, actions, statuses).

Gauges take the batch's last record (per pair where they carry a ``pair`` label): the batch is in event
order. A counter's reading is its increment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.regime import REGIMES
from streams.core.batch import Batch
from streams.stages.governance.triggers import SEVERITY

GAUGE, COUNTER = "gauge", "counter"
REGIME_COLUMNS = tuple(zip(REGIMES, ("prob_stable", "prob_directional", "prob_event"), strict=True))
CONTROL_ACTIONS = ("HALT", "RESUME", "REDUCE", "DECOMMISSION", "SUSPEND", "KILL")
"""The ``ControlAction`` symbols of schemas/control.avsc but NONE (a unit test holds them equal)."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str
    doc: str
    labels: tuple[str, ...] = ()


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("hslr_equity_usd", GAUGE, "Portfolio equity (mark to mid)"),
    MetricSpec("hslr_drawdown_ratio", GAUGE, "Drawdown from the equity high-water mark (0-1)"),
    MetricSpec("hslr_throttle_ratio", GAUGE, "Size multiplier of the drawdown throttle (1 = full size)"),
    MetricSpec("hslr_gross_exposure_usd", GAUGE, "Gross open exposure"),
    MetricSpec("hslr_open_positions", GAUGE, "Pairs with an open position"),
    MetricSpec("hslr_kill_switch_active", GAUGE, "1 while the trader's kill switch is latched"),
    MetricSpec(
        "hslr_markout_ratio", GAUGE, "Mean fill mark-out over the toxicity horizon (fraction of price)"
    ),
    MetricSpec("hslr_position_units", GAUGE, "Open position (base-currency units, signed)", ("pair",)),
    MetricSpec("hslr_unrealized_pnl_usd", GAUGE, "Unrealised PnL of the open position", ("pair",)),
    MetricSpec("hslr_realized_pnl_usd", GAUGE, "Realised PnL since start", ("pair",)),
    MetricSpec("hslr_orders_total", COUNTER, "Order instructions (NEW, CANCEL)", ("pair", "action")),
    MetricSpec("hslr_execution_reports_total", COUNTER, "Execution reports by status", ("pair", "status")),
    MetricSpec("hslr_filled_units_total", COUNTER, "Filled quantity (base-currency units)", ("pair",)),
    MetricSpec(
        "hslr_regime_probability", GAUGE, "Regime probability of the last bar (0-1)", ("pair", "regime")
    ),
    MetricSpec("hslr_regime_entropy_nats", GAUGE, "Entropy of the regime probabilities", ("pair",)),
    MetricSpec("hslr_regime_bars_total", COUNTER, "Classified bars, tradeable or not", ("pair", "tradeable")),
    MetricSpec("hslr_news_overrides_total", COUNTER, "Bars forced to Event_Risk by the calendar", ("pair",)),
    MetricSpec("hslr_signals_total", COUNTER, "Edge signals, passed or blocked", ("pair", "passed")),
    MetricSpec("hslr_gate_blocks_total", COUNTER, "Signals blocked, per gate", ("pair", "gate")),
    MetricSpec("hslr_ic_30d", GAUGE, "Rolling 30-day information coefficient"),
    MetricSpec("hslr_kl_divergence", GAUGE, "KL divergence of live features from training"),
    MetricSpec("hslr_regime_entropy_avg", GAUGE, "Average regime entropy (nats) of the governance window"),
    MetricSpec(
        "hslr_governance_state", GAUGE, "0 normal, 1 reduced, 2 suspended, 3 halted, 4 decommissioned"
    ),
    MetricSpec("hslr_allocation_scale_ratio", GAUGE, "Allocation scale set by governance (0-1)"),
    MetricSpec("hslr_governance_triggers_total", COUNTER, "Governance trigger actions", ("action",)),
    MetricSpec("hslr_control_commands_total", COUNTER, "Control commands published", ("action", "issuer")),
    MetricSpec("hslr_model_info", GAUGE, "Model artifact version in use (value 1)", ("kind", "version")),
)
"""Every domain metric (``hslr_model_info`` is set by the worker at start, not from records)."""

INITIAL: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    ("hslr_governance_triggers_total", (a,)) for a in CONTROL_ACTIONS if a != "RESUME"
)
"""Counters whose label values are known in advance, exported at 0 before the first increment (the
Prometheus instrumentation guidance: a series that appears only on the first event hides ``rate()``)."""


@dataclass(frozen=True)
class Reading:
    name: str
    labels: tuple[str, ...]
    value: float


def _last_per_pair(batch: Batch) -> dict[str, int]:
    """Row index of the last record of each pair."""
    pairs = batch["pair"]
    return {str(p): int(np.flatnonzero(pairs == p)[-1]) for p in np.unique(pairs)}


def _counts(batch: Batch, *columns: str) -> list[tuple[tuple[str, ...], int]]:
    """Record counts per distinct value combination of ``columns``, sorted (vectorised: the signals of
    a replay are millions of rows)."""
    names, key = [], np.zeros(batch.n, np.int64)
    for c in columns:
        codes, uniq = pd.factorize(np.asarray(batch[c]), sort=True)  # hashing: no string sort per row
        names.append([str(u) for u in uniq])
        key = key * len(uniq) + codes
    out = []
    for k, n in zip(*(a.tolist() for a in np.unique(key, return_counts=True)), strict=True):
        parts = []
        for values in reversed(names):
            k, r = divmod(k, len(values))
            parts.append(values[r])
        out.append((tuple(reversed(parts)), n))
    return sorted(out)


def _flag(values: np.ndarray) -> np.ndarray:
    return np.where(values.astype(bool), "true", "false")


def _portfolio(b: Batch) -> list[Reading]:
    last = b.n - 1  # book-level columns repeat on every pair's row of a minute
    out = [
        Reading("hslr_equity_usd", (), float(b["equity_usd"][last])),
        Reading("hslr_drawdown_ratio", (), float(b["drawdown"][last])),
        Reading("hslr_throttle_ratio", (), float(b["throttle"][last])),
        Reading("hslr_gross_exposure_usd", (), float(b["gross_usd"][last])),
        Reading("hslr_open_positions", (), float(b["n_positions"][last])),
        Reading("hslr_kill_switch_active", (), 1.0 if bool(b["kill_active"][last]) else 0.0),
    ]
    tox = float(b["toxicity_bps"][last])
    if np.isfinite(tox):
        out.append(Reading("hslr_markout_ratio", (), tox * 1e-4))
    for pair, i in _last_per_pair(b).items():
        out.append(Reading("hslr_position_units", (pair,), float(b["position_units"][i])))
        out.append(Reading("hslr_unrealized_pnl_usd", (pair,), float(b["unrealized_pnl_usd"][i])))
        out.append(Reading("hslr_realized_pnl_usd", (pair,), float(b["realized_pnl_usd"][i])))
    return out


def _orders(b: Batch) -> list[Reading]:
    return [Reading("hslr_orders_total", k, n) for k, n in _counts(b, "pair", "action")]


def _fills(b: Batch) -> list[Reading]:
    out = [Reading("hslr_execution_reports_total", k, n) for k, n in _counts(b, "pair", "status")]
    qty = np.nan_to_num(np.asarray(b["last_qty"], np.float64))
    for p in np.unique(b["pair"]):
        filled = float(np.abs(qty[b["pair"] == p]).sum())
        if filled > 0:
            out.append(Reading("hslr_filled_units_total", (str(p),), filled))
    return out


def _regime(b: Batch) -> list[Reading]:
    out = []
    for pair, i in _last_per_pair(b).items():
        for name, col in REGIME_COLUMNS:
            if np.isfinite(b[col][i]):
                out.append(Reading("hslr_regime_probability", (pair, name), float(b[col][i])))
        if np.isfinite(b["entropy"][i]):
            out.append(Reading("hslr_regime_entropy_nats", (pair,), float(b["entropy"][i])))
    classified = b.take(b["regime"].astype(str) != "")
    if classified.n:
        tradeable = classified.with_columns(tradeable=_flag(classified["tradeable"]))
        out += [Reading("hslr_regime_bars_total", k, n) for k, n in _counts(tradeable, "pair", "tradeable")]
    return out


def _adjusted(b: Batch) -> list[Reading]:
    hit = b.take(b["event_override"].astype(bool))
    return [Reading("hslr_news_overrides_total", k, n) for k, n in _counts(hit, "pair")] if hit.n else []


def _signals(b: Batch) -> list[Reading]:
    out = [
        Reading("hslr_signals_total", k, n)
        for k, n in _counts(b.with_columns(passed=_flag(b["passed"])), "pair", "passed")
    ]
    blocks: dict[tuple[str, str], int] = {}
    for (pair, gates), n in _counts(b, "pair", "blocked_by"):  # a few gate combinations per batch
        for g in gates.split(","):
            if g:
                blocks[(pair, g)] = blocks.get((pair, g), 0) + n
    return out + [Reading("hslr_gate_blocks_total", k, n) for k, n in sorted(blocks.items())]


def _governance(b: Batch) -> list[Reading]:
    i = b.n - 1
    state = str(b["state"][i])
    out = [Reading("hslr_allocation_scale_ratio", (), float(b["alloc_scale"][i]))]
    if state in SEVERITY:
        out.append(Reading("hslr_governance_state", (), float(SEVERITY.index(state))))
    for name, col in (
        ("hslr_ic_30d", "ic"),
        ("hslr_kl_divergence", "kl_divergence"),
        ("hslr_regime_entropy_avg", "entropy_avg"),
    ):
        if np.isfinite(b[col][i]):
            out.append(Reading(name, (), float(b[col][i])))
    acted = b.take(np.isin(b["action"].astype(str), CONTROL_ACTIONS))
    out += [Reading("hslr_governance_triggers_total", k, n) for k, n in _counts(acted, "action")]
    return out


def _control(b: Batch) -> list[Reading]:
    issuer = np.asarray([str(s).split(":", 1)[0] or "unknown" for s in b["issuer"].tolist()])
    return [
        Reading("hslr_control_commands_total", k, n)
        for k, n in _counts(b.with_columns(issuer=issuer), "action", "issuer")
    ]


_READERS: dict[str, Callable[[Batch], list[Reading]]] = {
    "portfolio": _portfolio,
    "orders": _orders,
    "fills": _fills,
    "regime": _regime,
    "regime.adjusted": _adjusted,
    "signals": _signals,
    "governance": _governance,
    "control": _control,
}


def readings(topic: str, batch: Batch) -> list[Reading]:
    """The metric readings of one output batch of topic key ``topic`` (none for other topics)."""
    reader = _READERS.get(topic)
    return reader(batch) if reader is not None and batch.n else []
