"""The feature engineering stage: ``bars.clean`` → ``features``.

Per bar (pair p, minute t) it emits the bar's fields plus the seven features of the design
(``schemas/features.avsc`` documents every column; the modules document every formula and window):
``log_ret`` (returns.py), ``gk_vol`` (volatility.py), ``spread_widening`` and ``tick_velocity``
(volatility.py), ``displacement`` / ``displacement_pct`` (displacement.py), ``xcorr``
(correlation.py), ``session_id`` / ``session_vol_norm`` (sessions.py).

Bar windows count the pair's own bars in the current segment; a gap longer than ``max_gap_min``
starts a new segment and every bar window restarts empty. ``ready`` is True when the segment holds
``FeaturesConfig.warmup_bars`` bars and every feature except ``log_ret`` is finite (``log_ret`` is
NaN after any missing minute by design, which alone does not make a bar unusable).

Processing is vectorised per pair (the state's tails concatenated with the batch's rows of that pair)
and every window result is a function of the window's values only, so outputs are bit-identical
however the input is split into batches; input must be in event-time order, as ``bars.clean`` is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch, concat
from streams.core.groups import group_rows
from streams.core.stage import Outputs, StageSpec
from streams.core.units import MINUTE_MS
from streams.stages.features.config import FeaturesConfig
from streams.stages.features.correlation import XcorrState, cross_correlation
from streams.stages.features.one_bar import fits, one_bar_step
from streams.stages.features.pair_step import PairInput, pair_step
from streams.stages.features.returns import mid_price
from streams.stages.features.sessions import session_ids
from streams.stages.features.state import FeaturesState, PairState
from streams.stages.features.volatility import gk_variance, tick_velocity

BAR_CARRY: dict[str, Any] = {
    "pair": np.str_,
    "ts": np.int64,
    "open": np.float64,
    "high": np.float64,
    "low": np.float64,
    "close": np.float64,
    "volume": np.float64,
    "spread": np.float64,
    "spread_modeled": np.bool_,
    "source": np.str_,
}
_BAR_DEFAULTS: dict[str, Any] = {"volume": 0.0, "spread_modeled": True, "source": ""}
ROLLING = ("log_ret", "gk_vol", "spread_widening", "displacement", "displacement_pct", "session_vol_norm")
REQUIRED_FINITE = (
    "gk_vol",
    "spread_widening",
    "tick_velocity",
    "displacement",
    "displacement_pct",
    "session_vol_norm",
)
"""Features that must be finite for ``ready``: all but ``log_ret`` and ``xcorr``. ``xcorr`` is NaN
whenever no basket exists (a single-pair deployment, or the other pairs missing for most of the window):
that is information about the other pairs, not a reason to stop trading this one, and the models map a
non-finite xcorr to a documented neutral value."""
FEATURE_FIELDS: dict[str, Any] = {
    **BAR_CARRY,
    "mid": np.float64,
    "gap_min": np.int32,
    "ready": np.bool_,
    "log_ret": np.float64,
    "gk_vol": np.float64,
    "spread_widening": np.float64,
    "tick_velocity": np.float64,
    "displacement": np.float64,
    "displacement_pct": np.float64,
    "xcorr": np.float64,
    "session_id": np.int32,
    "session_vol_norm": np.float64,
}
"""Output columns (= ``schemas/features.avsc`` fields) and their numpy dtypes."""
MAX_ROWS = 1 << 16
"""Rows per internal step: a longer batch is processed in consecutive pieces of this size."""


def _carry(batch: Batch, name: str) -> npt.NDArray[Any]:
    if name in batch:
        return np.asarray(batch[name]).astype(BAR_CARRY[name], copy=False)
    return np.full(batch.n, _BAR_DEFAULTS[name], dtype=BAR_CARRY[name])


def empty_features() -> Batch:
    """Return a zero-row features batch with every column typed."""
    return Batch({k: np.empty(0, dtype=v) for k, v in FEATURE_FIELDS.items()})


class FeaturesStage:
    """Compute the per-bar features; see the module docstring."""

    def __init__(self, config: FeaturesConfig | None = None) -> None:
        self.config = config or FeaturesConfig()
        self.spec = StageSpec("features", ("bars.clean",), ("features",))
        if self.config.pairs:
            universe: tuple[str, ...] = self.config.pairs
        else:
            from streams.fx.pairs import KNOWN_PAIRS

            universe = KNOWN_PAIRS
        self.universe = universe
        self._col = {p: i for i, p in enumerate(universe)}

    def initial_state(self) -> FeaturesState:
        return FeaturesState({}, XcorrState.empty(self.config.xcorr_window_min, len(self.universe)))

    def process(self, state: FeaturesState, topic: str, batch: Batch) -> tuple[FeaturesState, Outputs]:
        if batch.n <= MAX_ROWS:
            return self._process(state, batch)
        # Outputs do not depend on batching, so a long batch is cut: the window scans' temporaries
        # stay cache-sized and the cost per bar stays flat from a week to a year.
        parts = []
        for lo in range(0, batch.n, MAX_ROWS):
            state, out = self._process(state, batch.take(slice(lo, lo + MAX_ROWS)))
            parts.append(out["features"])
        return state, {"features": concat(parts)}

    def _process(self, state: FeaturesState, batch: Batch) -> tuple[FeaturesState, Outputs]:
        if batch.n == 0:
            return state, {"features": empty_features()}
        cols = {k: _carry(batch, k) for k in BAR_CARRY}
        o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
        mid = mid_price(c, cols["spread"])
        gkv = gk_variance(o, h, lo, c)
        cols.update(
            mid=mid,
            tick_velocity=tick_velocity(cols["volume"], o, h, lo, c, mid),
            session_id=session_ids(cols["ts"], self.config.rollover_min),
        )
        groups = group_rows(cols["pair"])
        pairs, rolling, seg = self._pairs(state, cols, gkv, groups)
        cols.update(rolling)
        xstate, cols["xcorr"] = cross_correlation(
            state.xcorr,
            self._columns(batch.n, groups),
            cols["ts"] // MINUTE_MS,
            cols["log_ret"],
            self.config.xcorr_min_obs,
        )
        finite = np.logical_and.reduce([np.isfinite(cols[k]) for k in REQUIRED_FINITE])
        cols["ready"] = finite & (seg >= self.config.warmup_bars)
        out = Batch({k: np.asarray(cols[k]).astype(v, copy=False) for k, v in FEATURE_FIELDS.items()})
        return FeaturesState(pairs, xstate), {"features": out}

    def _columns(self, n: int, groups: list[tuple[str, npt.NDArray[np.intp]]]) -> npt.NDArray[np.int64]:
        col = np.full(n, -1, dtype=np.int64)
        for name, idx in groups:
            col[idx] = self._col.get(name, -1)
        return col

    def _pairs(
        self,
        state: FeaturesState,
        cols: dict[str, npt.NDArray[Any]],
        gkv: npt.NDArray[np.float64],
        groups: list[tuple[str, npt.NDArray[np.intp]]],
    ) -> tuple[dict[str, PairState], dict[str, npt.NDArray[Any]], npt.NDArray[np.int64]]:
        n = len(gkv)
        out: dict[str, npt.NDArray[Any]] = {k: np.full(n, np.nan) for k in ROLLING}
        out["gap_min"] = np.zeros(n, dtype=np.int64)
        seg = np.zeros(n, dtype=np.int64)
        pairs = dict(state.pairs)
        steps: list[tuple[list[str], npt.NDArray[np.intp], Step]] = []
        prev = [pairs.get(name) or PairState.initial(self.config) for name, _ in groups]
        if len(groups) == n and fits(prev, self.config):
            # at most one bar per pair (the live minute): every pair at once, bit-identical
            rows = np.concatenate([idx for _, idx in groups])
            steps.append(
                ([name for name, _ in groups], rows, one_bar_step(prev, _input(cols, gkv, rows), self.config))
            )
        else:
            for (name, idx), state0 in zip(groups, prev, strict=True):
                new, res = pair_step(state0, _input(cols, gkv, idx), self.config)
                steps.append(([name], idx, ([new], res)))
        for names, idx, (new_states, res) in steps:
            pairs.update(zip(names, new_states, strict=True))
            seg[idx] = res.pop("seg")
            for k, v in res.items():
                out[k][idx] = v
        return pairs, out, seg


Step = tuple[list[PairState], dict[str, npt.NDArray[Any]]]


def _input(
    cols: dict[str, npt.NDArray[Any]], gkv: npt.NDArray[np.float64], idx: npt.NDArray[np.intp]
) -> PairInput:
    return PairInput(
        cols["ts"][idx], cols["mid"][idx], cols["spread"][idx], gkv[idx], cols["session_id"][idx]
    )
