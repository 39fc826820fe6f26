"""News override stage: ``regime`` (+ side input ``calendar``) → ``regime.adjusted``.

Calendar events are reference data: a scheduled calendar is known in advance, so the caller loads it at
startup (file or database) and passes it to the constructor; live updates (new events, re-scheduled
times, released ``actual`` values) arrive on the ``calendar`` topic and replace older versions by
``event_id``. Every ``regime`` record is copied with three new fields:

* ``event_override`` / ``override_reason``: the bar's open time lies in the window of a configured-impact
  event (default high, -30/+60 min) of a currency the pair is exposed to; then ``regime`` becomes
  ``Event_Risk`` and ``tradeable`` False. The reason names the earliest such event.
* ``surprise_mode``: +1/-1 while a large surprise (|z| above threshold, see
  :func:`~streams.stages.news.calendar_state.surprise_scores`) released at or before the bar's open
  time, within the surprise window, points the base currency up/down; 0 otherwise. The edge engine
  takes no mean-reversion entry while it is non-zero.

Outputs depend only on the calendar state and each bar, so any split of the ``regime`` records into
batches gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.stage import Outputs, StageSpec
from streams.stages.news.calendar_state import (
    Columns,
    calendar_columns,
    inverse_signs,
    merge_calendar,
    override_reasons,
    surprise_scores,
)
from streams.stages.news.config import NewsConfig
from streams.stages.news.override import PairIndex, build_pair_index, surprise_mode, window_hits

EVENT_RISK = "Event_Risk"


@dataclass(frozen=True)
class NewsState:
    """The calendar (columns sorted by (ts, event_id)) and what the stage derives from it."""

    calendar: Columns
    z: npt.NDArray[np.float64]
    """Surprise z-score per event (NaN when none)."""
    inverse: npt.NDArray[np.int8]
    """-1 for unemployment-type releases (higher actual = weaker currency), else +1."""
    reason: npt.NDArray[np.object_]
    """Override reason per event (Python str objects: a fixed-width array would be as wide as the longest)."""
    index: Mapping[str, PairIndex] = field(default_factory=dict)
    """Prebuilt exposure index per configured pair."""


def _text(a: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    return a if a.dtype.kind == "U" else np.asarray(a).astype(str)


class NewsStage:
    """Event-window regime override and surprise mode; see the module docstring."""

    def __init__(self, config: NewsConfig | None = None, calendar: Mapping[str, Any] | None = None) -> None:
        """Create the stage.

        Parameters
        ----------
        config : NewsConfig, optional
            Windows, impacts, exposure and surprise settings (defaults when None).
        calendar : mapping of str to array, shape (n,) each, optional
            Initial calendar (``streams.data.calendar`` columns or a ``calendar_event`` Batch), loaded by
            the caller at startup. Later updates come on the ``calendar`` topic.
        """
        self.config = config or NewsConfig()
        self.spec = StageSpec("news", ("regime", "calendar"), ("regime.adjusted",))
        self._initial = calendar_columns(calendar)
        if self.config.pairs:
            self._pairs: tuple[str, ...] = self.config.pairs
        else:
            from streams.fx.pairs import KNOWN_PAIRS

            self._pairs = KNOWN_PAIRS

    def initial_state(self) -> NewsState:
        return self._state_for(merge_calendar(calendar_columns(None), self._initial))

    def process(self, state: NewsState, topic: str, batch: Batch) -> tuple[NewsState, Outputs]:
        if topic == "calendar":
            if not batch.n:
                return state, {}
            return self._state_for(merge_calendar(state.calendar, calendar_columns(batch))), {}
        if topic != "regime":
            raise ValueError(f"news stage has no input {topic!r}; inputs: {self.spec.inputs}")
        return state, {"regime.adjusted": self.adjust(state, batch)}

    def adjust(self, state: NewsState, batch: Batch) -> Batch:
        """Return ``batch`` (regime records, shape (n,) columns) with the override and surprise fields."""
        n = batch.n
        row = np.full(n, -1, dtype=np.int64)
        mode = np.zeros(n, dtype=np.int32)
        if n:
            ts = np.asarray(batch["ts"], dtype=np.int64)
            uniq, inv = np.unique(_text(batch["pair"]), return_inverse=True)
            groups = np.split(
                np.argsort(inv.reshape(-1), kind="stable"), np.cumsum(np.bincount(inv.reshape(-1)))[:-1]
            )
            for p, sel in zip(uniq.tolist(), groups, strict=True):
                idx = state.index.get(p) or build_pair_index(p, state.calendar, state, self.config)
                row[sel] = window_hits(ts[sel], idx, self.config)
                mode[sel] = surprise_mode(ts[sel], idx, self.config)
        hit = row >= 0
        # only the overridden rows copy their reason: long titles make wide str arrays
        picked = state.reason[row[hit]].astype(str)
        reason = np.zeros(n, dtype=picked.dtype if len(picked) else "U1")
        reason[hit] = picked
        return batch.with_columns(
            regime=np.where(hit, EVENT_RISK, _text(batch["regime"])),
            tradeable=np.asarray(batch["tradeable"], dtype=bool) & ~hit,
            event_override=hit,
            override_reason=reason,
            surprise_mode=mode,
        )

    def _state_for(self, cal: Columns) -> NewsState:
        z = surprise_scores(cal, self.config.surprise_min_history)
        partial = NewsState(
            cal,
            z,
            inverse_signs(cal["title"], self.config.inverse_keywords),
            override_reasons(cal, self.config).astype(object),
        )  # compact checkpoints
        index = {p: build_pair_index(p, cal, partial, self.config) for p in self._pairs}
        return NewsState(partial.calendar, partial.z, partial.inverse, partial.reason, index)
