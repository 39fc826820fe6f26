"""Calendar columns → ``calendar_event`` records (pure: used by the importer, the poller and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streams.core.batch import Batch

CALENDAR_EVENT_FIELDS: tuple[str, ...] = (
    "event_id",
    "ts",
    "currency",
    "impact",
    "title",
    "actual",
    "forecast",
    "previous",
    "actual_value",
    "forecast_value",
    "previous_value",
    "source",
)
"""Fields of ``schemas/calendar_event.avsc``, in order."""


def to_calendar_batch(cols: Mapping[str, Any], source: str | Any = "") -> Batch:
    """Return a ``calendar_event`` batch from calendar columns (``streams.data.calendar`` readers).

    Parameters
    ----------
    cols : mapping of str to array-like, shape (n,) each
        ``event_id, ts`` (int ms UTC), ``currency, impact, title``, the texts ``actual, forecast,
        previous`` and their ``*_value`` floats (NaN when absent; missing columns give ""/NaN).
    source : str or array of str, shape (n,)
        Provenance written to every row (``file:<name>``, ``live:<url>``).

    Returns
    -------
    Batch
        Columns :data:`CALENDAR_EVENT_FIELDS` typed for the schema (str, int64, float64).
    """
    n = len(np.asarray(cols["ts"]))
    out: dict[str, Any] = {}
    for f in CALENDAR_EVENT_FIELDS:
        if f == "source":
            out[f] = np.broadcast_to(np.asarray(source, dtype=str), (n,)).copy()
        elif f == "ts":
            out[f] = np.asarray(cols["ts"], dtype=np.int64)
        elif f.endswith("_value"):
            out[f] = np.asarray(cols.get(f, np.full(n, np.nan)), dtype=np.float64)
        else:
            out[f] = np.asarray(cols.get(f, np.full(n, "")), dtype=str)
    return Batch(out)
