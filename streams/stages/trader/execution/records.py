"""Column specs of the trader's output topics and the builder from row dicts to typed batches.

Names and dtypes match ``schemas/{risk_target,order,execution_report,portfolio,control}.avsc``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.core.batch import Batch

I64, F64, S, BOOL, I32 = np.int64, np.float64, np.str_, np.bool_, np.int32

ORDER_FIELDS = {
    "pair": S,
    "ts": I64,
    "client_order_id": S,
    "action": S,
    "side": I32,
    "qty": F64,
    "limit_price": F64,
    "bid": F64,
    "ask": F64,
    "leg": S,
    "reason": S,
}
REPORT_FIELDS = {
    "pair": S,
    "ts": I64,
    "client_order_id": S,
    "status": S,
    "side": I32,
    "order_qty": F64,
    "last_qty": F64,
    "last_price": F64,
    "cum_qty": F64,
    "leaves_qty": F64,
    "limit_price": F64,
    "leg": S,
    "reason": S,
    "realized_pnl_usd": F64,
    "commission_usd": F64,
    "financing_usd": F64,
    "half_spread_cost_usd": F64,
}
ROW_DEFAULTS = {"commission_usd": 0.0, "financing_usd": 0.0, "half_spread_cost_usd": 0.0}
"""Fields a row may leave out: a live broker's costs (the paper broker has none)."""
CONTROL_FIELDS = {"command_id": S, "ts": I64, "action": S, "scale": F64, "pair": S, "issuer": S, "reason": S}
PORTFOLIO_FIELDS = {
    "pair": S,
    "ts": I64,
    "position_units": F64,
    "avg_price": F64,
    "mid": F64,
    "unrealized_pnl_usd": F64,
    "realized_pnl_usd": F64,
    "equity_usd": F64,
    "hwm_usd": F64,
    "drawdown": F64,
    "throttle": F64,
    "gross_usd": F64,
    "n_positions": I32,
    "kill_active": BOOL,
    "toxicity_bps": F64,
}
TARGET_SOURCE = {
    "pair": S,
    "ts": I64,
    "mid": F64,
    "spread": F64,
    "side": I32,
    "passed": BOOL,
    "expected_return": F64,
    "alloc_scale": F64,
    "gov_state": S,
    "regime": S,
    "tradeable": BOOL,
}
TARGET_OWN = {
    "target_units": F64,
    "target_usd": F64,
    "position_units": F64,
    "weight": F64,
    "vol_scale": F64,
    "throttle": F64,
    "equity_usd": F64,
    "reason": S,
}


def from_rows(rows: Sequence[dict[str, Any]], fields: dict[str, Any]) -> Batch:
    """Typed batch of ``rows`` (dicts holding at least ``fields``, :data:`ROW_DEFAULTS` aside)."""
    if not rows:
        return _empty(tuple(fields.items()))
    return Batch({f: np.array([_get(r, f) for r in rows], dtype=t) for f, t in fields.items()})


@functools.cache
def _empty(fields: tuple[tuple[str, Any], ...]) -> Batch:
    # most minutes have no order, fill or target: one shared empty batch per schema (a Batch is read-only)
    return Batch({f: np.empty(0, dtype=t) for f, t in fields})


def _get(row: dict[str, Any], f: str) -> Any:
    return row[f] if f in row or f not in ROW_DEFAULTS else ROW_DEFAULTS[f]


def from_parts(parts: Sequence[dict[str, Any]], fields: dict[str, Any]) -> Batch:
    """Typed batch from column dicts (arrays or lists), concatenated in order."""
    if not parts:
        return _empty(tuple(fields.items()))
    return Batch({f: np.concatenate([np.asarray(p[f], dtype=t) for p in parts]) for f, t in fields.items()})


def targets_batch(rows: Sequence[dict[str, Any]], source: dict[str, Any]) -> Batch:
    """risk.targets rows: the source record's carried fields (by ``_row``) plus the risk fields."""
    idx = np.array([r["_row"] for r in rows], dtype=np.int64)
    cols: dict[str, Any] = {f: np.asarray(source[f])[idx].astype(t) for f, t in TARGET_SOURCE.items()}
    cols.update(
        {
            f: np.array([r[f] for r in rows], dtype=t) if rows else np.empty(0, dtype=t)
            for f, t in TARGET_OWN.items()
        }
    )
    return Batch(cols)
