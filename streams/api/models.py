"""Response models of the REST history (the OpenAPI spec is generated from them)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Ms = int
"""Epoch milliseconds, UTC (as on the topics)."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BarRow(_Row):
    pair: str
    ts: Ms
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    source: str | None
    spread_pips: float | None = Field(description="spread in pips; null when no spread row exists")
    spread_modeled: bool | None


class FeatureRow(_Row):
    pair: str
    ts: Ms
    ready: bool
    feature_vector: dict[str, Any]


class RegimeRow(_Row):
    pair: str
    ts: Ms
    prob_stable: float | None
    prob_directional: float | None
    prob_event: float | None
    entropy: float | None
    tradeable: bool | None
    regime: str | None
    override_reason: str | None


class SignalRow(_Row):
    pair: str
    ts: Ms
    expected_return: float | None
    win_prob: float | None
    cvar: float | None
    n_eff: float | None
    passed: bool | None
    blocked_by: str | None


class OrderRow(_Row):
    client_order_id: str
    pair: str
    ts: Ms
    side: str
    qty: float
    order_type: str | None
    limit_price: float | None
    status: str
    reason: str | None
    updated_at: Ms


class FillRow(_Row):
    fill_id: str
    client_order_id: str
    pair: str
    ts: Ms
    qty: float
    price: float
    liquidity: str | None
    fee: float | None
    slippage_pips: float | None


class PositionRow(_Row):
    pair: str
    ts: Ms
    size: float
    avg_price: float | None
    unrealized_pnl: float | None


class EquityRow(_Row):
    ts: Ms
    equity: float
    high_water_mark: float
    drawdown: float = Field(description="fraction of the high-water mark, 0.03 = 3 %")


class GovernanceRow(_Row):
    ts: Ms
    ic: float | None
    kl_divergence: float | None
    entropy_avg: float | None
    state: str | None
    action: str | None


class RunRow(_Row):
    run_id: str
    kind: str
    ts: Ms = Field(description="when the run was recorded")
    code_version: str | None
    data_hash: str | None
    summary: dict[str, Any] | None


Item = TypeVar("Item", bound=_Row)


class Page(BaseModel, Generic[Item]):
    """One page of rows in (time, key) order; ``next_cursor`` fetches the next one (null: last page)."""

    items: list[Item]
    next_cursor: str | None


class Problem(BaseModel):
    detail: str


ROW_MODELS: dict[str, type[_Row]] = {
    "bars": BarRow,
    "features": FeatureRow,
    "regime": RegimeRow,
    "signals": SignalRow,
    "orders": OrderRow,
    "fills": FillRow,
    "positions": PositionRow,
    "equity": EquityRow,
    "governance": GovernanceRow,
    "runs": RunRow,
}
"""Resource (a key of ``streams.storage.history.TABLES``) → row model."""
