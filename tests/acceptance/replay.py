"""The golden replay's fixed inputs: a seeded synthetic market, models trained on its first weeks with
fixed seeds, and the in-process DAG over the following week. No file, network or clock is read."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from backtest.engine import run_inprocess_engine
from streams.config import build_config
from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.services.features import compute_features
from streams.services.runs import with_models
from streams.training.artifacts import train_edge_artifact, train_regime_artifact

PAIRS = ["GBPUSD", "USDJPY", "AUDUSD"]
START, SPLIT, END = "2020-01-06", "2020-02-03", "2020-02-12"
SEED = 5
GOLDEN = Path(__file__).with_name("golden_replay.json")
CONFIG: dict[str, Any] = {
    "market": {"pairs": PAIRS},
    # Throttle levels inside this week's drawdown, so the throttle's both steps are exercised.
    "trader": {"risk": {"throttle_levels": [[0.004, 0.5], [0.008, 0.25]]}},
    # The golden run checks the trading mechanics, so it needs a model that trades on four weeks of
    # synthetic data: the mid-to-mid model. The execution-priced default finds no skill in the filled
    # passive trades here and places no order (gate no_skill).
    "edge": {"execution_priced": False},
}
PORTFOLIO_FIELDS = ("ts", "equity_usd", "hwm_usd", "drawdown", "throttle", "toxicity_bps", "gross_usd")

ORDER_FIELDS = ("ts", "pair", "client_order_id", "action", "side", "qty", "limit_price", "leg", "reason")
FILL_FIELDS = (
    "ts", "pair", "client_order_id", "status", "side", "last_qty", "last_price", "cum_qty", "leaves_qty",
    "reason", "realized_pnl_usd",
)  # fmt: skip


def run(root: Path) -> tuple[Batch, dict[str, Batch], float]:
    """Return (test bars, the DAG's outputs, initial equity); model artifacts are written under ``root``."""
    split = int(datetime.fromisoformat(SPLIT).replace(tzinfo=UTC).timestamp() * 1000)
    market = Batch(generate_market(PAIRS, START, END, SEED).bars)
    train, test = market.take(market["ts"] < split), market.take(market["ts"] >= split)
    base = build_config(CONFIG)
    features = compute_features(train, base)
    now = datetime(2020, 2, 3, tzinfo=UTC)
    regime = train_regime_artifact(
        features, base.regime, created_at=now, code_version="golden", params={}, root=root / "regime"
    )
    edge = train_edge_artifact(
        features, base.edge, created_at=now, code_version="golden", params={}, root=root / "edge"
    )
    config = with_models(base, str(regime.path), str(edge.path), "")
    return test, run_inprocess_engine(test, config), config.trader.portfolio.initial_equity_usd


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN; the repr keeps the comparison exact
    return value


def _rows(batch: Batch, fields: tuple[str, ...]) -> list[list[Any]]:
    cols = [batch[f].tolist() for f in fields]
    return [[_plain(c[i]) for c in cols] for i in range(batch.n)]


def snapshot(out: dict[str, Batch], initial: float) -> dict[str, Any]:
    """Every order and fill, and the final portfolio row: what the golden file holds."""
    portfolio = out["portfolio"]
    final = ("ts", "equity_usd", "hwm_usd", "drawdown", "realized_pnl_usd")
    last = {k: _plain(portfolio[k][-1].item()) for k in final}
    digest = hashlib.sha256()
    for f in PORTFOLIO_FIELDS:
        digest.update(np.ascontiguousarray(portfolio[f]).tobytes())
    return {
        "config": CONFIG,
        "portfolio_rows": portfolio.n,
        "portfolio_sha256": digest.hexdigest(),
        "throttle_levels_seen": sorted(set(portfolio["throttle"].tolist())),
        "pairs": PAIRS,
        "window": [START, SPLIT, END],
        "seed": SEED,
        "initial_equity_usd": initial,
        "order_fields": list(ORDER_FIELDS),
        "orders": _rows(out["orders"], ORDER_FIELDS),
        "fill_fields": list(FILL_FIELDS),
        "fills": _rows(out["fills"], FILL_FIELDS),
        "final": last,
    }


def dumps(snap: dict[str, Any]) -> str:
    """One row per line: a changed order shows as one changed line in a diff."""
    lines = ["{"]
    keys = sorted(snap)
    for n, key in enumerate(keys):
        value, sep = snap[key], "," if n < len(keys) - 1 else ""
        if key in ("orders", "fills"):
            rows = ",\n".join("  " + json.dumps(r) for r in value)
            lines.append(f'"{key}": [\n{rows}\n]{sep}')
        else:
            lines.append(f'"{key}": {json.dumps(value, sort_keys=True)}{sep}')
    return "\n".join(lines) + "\n}\n"


def main() -> None:  # pragma: no cover - regenerates the golden file; run only for a deliberate change
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _, out, initial = run(Path(tmp))
    GOLDEN.write_text(dumps(snapshot(out, initial)))
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
