"""Market data stage: the gate between raw feeds and the rest of the DAG.

Reads ``bars`` (as ingested or replayed) and writes ``bars.clean`` plus ``quarantine``. A bar is
quarantined, with its reason, when its pair is unknown, a price is not finite or not positive, its
OHLC is inconsistent (high < max(open, close), low > min(open, close)), its spread is negative or not
finite, its time is not on a minute boundary, or its time is not strictly after the last accepted bar
of the same pair (``duplicate bar`` / ``out of order``). Downstream stages may therefore rely on
strictly increasing, valid bars per pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from streams.core.batch import Batch
from streams.core.config import StageConfig
from streams.core.stage import Outputs, StageSpec
from streams.core.units import MINUTE_MS


class MarketConfig(StageConfig):
    pairs: tuple[str, ...] = ()
    """Pairs accepted; empty means every pair in ``streams.fx.pairs.KNOWN_PAIRS``."""


@dataclass(frozen=True)
class MarketState:
    last_ts: dict[str, int] = field(default_factory=dict)
    """Time (ms) of the last accepted bar per pair."""


def _known_pairs(config: MarketConfig) -> frozenset[str]:
    if config.pairs:
        return frozenset(config.pairs)
    from streams.fx.pairs import KNOWN_PAIRS

    return frozenset(KNOWN_PAIRS)


def bar_problems(batch: Batch, known: frozenset[str]) -> np.ndarray:
    """Per-row reason a bar is invalid on its own ("" when valid), shape (n,)."""
    o, h, lo, c, s = (batch[k].astype(np.float64) for k in ("open", "high", "low", "close", "spread"))
    reason = np.full(batch.n, "", dtype=object)
    checks = [
        (~np.isin(batch["pair"], list(known)), "unknown pair"),
        (~np.isfinite(np.stack([o, h, lo, c])).all(axis=0), "non-finite price"),
        ((np.stack([o, h, lo, c]) <= 0).any(axis=0), "non-positive price"),
        ((h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (h < lo), "inconsistent OHLC"),
        (~np.isfinite(s) | (s < 0), "negative or non-finite spread"),
        (batch["ts"] % MINUTE_MS != 0, "time not on a minute boundary"),
    ]
    for mask, why in reversed(checks):  # the first failing check wins
        reason[mask] = why
    return reason


class MarketStage:
    """Validate raw bars; see the module docstring."""

    def __init__(self, config: MarketConfig | None = None) -> None:
        self.config = config or MarketConfig()
        self.spec = StageSpec("market", ("bars",), ("bars.clean", "quarantine"))
        self._known = _known_pairs(self.config)

    def initial_state(self) -> MarketState:
        return MarketState()

    def process(self, state: MarketState, topic: str, batch: Batch) -> tuple[MarketState, Outputs]:
        reason = bar_problems(batch, self._known)
        last = dict(state.last_ts)
        pairs, ts = batch["pair"], batch["ts"]
        for p in np.unique(pairs[reason == ""]):
            idx = np.flatnonzero((pairs == p) & (reason == ""))
            prev = np.maximum.accumulate(np.concatenate([[last.get(str(p), -1)], ts[idx]]))[:-1]
            reason[idx[ts[idx] == prev]] = "duplicate bar"
            reason[idx[ts[idx] < prev]] = "out of order"
            last[str(p)] = int(max(prev[-1], ts[idx][-1]))
        ok = reason == ""
        bad = batch.take(~ok)
        quarantine = Batch(
            {
                "stage": np.full(bad.n, "market"),
                "pair": bad["pair"].astype(str),
                "ts": bad["ts"].astype(np.int64),
                "reason": reason[~ok].astype(str),
                "payload": np.array([json.dumps(r, default=float) for r in bad.to_records()], dtype=str),
            }
        )
        return MarketState(last), {"bars.clean": batch.take(ok), "quarantine": quarantine}
