"""The calendar the news stage holds in its state: merged events plus what is derived from them.

Events are kept as columns sorted by ``(ts, event_id)``. An update replaces every event with the same
``event_id`` (the last row of an update wins), so re-scheduled events and releases that gain their
``actual`` replace the scheduled version; merging an update ``a`` then ``b`` equals merging
``concat(a, b)``. Per event the state also keeps the surprise z-score (no look-ahead: only earlier
releases of the same indicator set its scale) and the human-readable override reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.stages.news.config import NewsConfig

CALENDAR_COLUMNS: tuple[str, ...] = (
    "event_id",
    "ts",
    "currency",
    "impact",
    "title",
    "actual_value",
    "forecast_value",
)
"""Calendar columns the stage uses (other ``calendar_event`` fields are ignored)."""
_MAD_TO_SIGMA = 1.4826  # MAD of a normal sample times this estimates its standard deviation
_MEANAD_TO_SIGMA = 1.2533  # same for the mean absolute deviation (fallback when half the values tie)

Columns = dict[str, npt.NDArray[Any]]


def calendar_columns(cal: Mapping[str, Any] | None) -> Columns:
    """Return the stage's typed calendar columns from any calendar mapping (Batch, parser dict, None).

    Parameters
    ----------
    cal : mapping of str to array-like, shape (n,) each, or None
        At least ``event_id, ts, currency, impact, title``; ``actual_value``/``forecast_value``
        (float, NaN when absent) default to NaN.

    Returns
    -------
    dict of str to ndarray
        :data:`CALENDAR_COLUMNS`; currency upper case, impact lower case, ``ts`` int64 ms UTC.
    """
    if cal is None or len(np.asarray(cal.get("ts", []))) == 0:
        text = np.array([], dtype=str)
        nan = np.array([], dtype=np.float64)
        return {
            "event_id": text,
            "ts": np.array([], dtype=np.int64),
            "currency": text,
            "impact": text,
            "title": text,
            "actual_value": nan,
            "forecast_value": nan,
        }
    n = len(np.asarray(cal["ts"]))
    nan = np.full(n, np.nan)
    return {
        "event_id": np.asarray(cal["event_id"]).astype(str),
        "ts": np.asarray(cal["ts"]).astype(np.int64),
        "currency": np.char.upper(np.char.strip(np.asarray(cal["currency"]).astype(str))),
        "impact": np.char.lower(np.char.strip(np.asarray(cal["impact"]).astype(str))),
        "title": np.asarray(cal["title"]).astype(str),
        "actual_value": np.asarray(cal.get("actual_value", nan), dtype=np.float64),
        "forecast_value": np.asarray(cal.get("forecast_value", nan), dtype=np.float64),
    }


def merge_calendar(old: Columns, update: Columns) -> Columns:
    """Replace events of ``old`` by ``update`` rows with the same ``event_id`` (last row wins).

    Returns the merged columns sorted by ``(ts, event_id)``.
    """
    both = {k: np.concatenate([old[k], update[k]]) for k in CALENDAR_COLUMNS}
    ids = both["event_id"]
    # the first occurrence in the reversed array is the last one in the original
    _, first_rev = np.unique(ids[::-1], return_index=True)
    keep = len(ids) - 1 - first_rev
    order = keep[np.lexsort((ids[keep], both["ts"][keep]))]
    return {k: v[order] for k, v in both.items()}


def robust_scale(x: npt.NDArray[np.float64]) -> float:
    """Return a robust standard deviation of ``x``: 1.4826 × MAD, or 1.2533 × mean |x − median|
    when the MAD is 0 (over half the values equal), or 0.0 when all values are equal."""
    dev = np.abs(x - np.median(x))
    mad = float(np.median(dev)) * _MAD_TO_SIGMA
    return mad if mad > 0 else float(np.mean(dev)) * _MEANAD_TO_SIGMA


def surprise_scores(cal: Columns, min_history: int) -> npt.NDArray[np.float64]:
    """Return each release's surprise z-score, NaN where it cannot be computed.

    ``z = (actual - forecast) / robust_scale(past surprises)`` where the past surprises are those of the
    same ``(currency, title)`` released strictly before this event. Needs ``min_history`` past surprises
    and a positive scale.

    Parameters
    ----------
    cal : calendar columns, shape (n,) each
    min_history : int
        Minimum number of earlier surprises.

    Returns
    -------
    ndarray of float64, shape (n,)
        Dimensionless z (NaN when there is no actual/forecast pair or not enough history).
    """
    s = cal["actual_value"] - cal["forecast_value"]
    z = np.full(len(s), np.nan)
    key = np.char.add(np.char.add(cal["currency"], "\x1f"), cal["title"])
    order = np.lexsort((cal["ts"], key))
    order = order[np.isfinite(s[order])]
    if not len(order):
        return z
    ks = key[order]
    for grp in np.split(order, np.flatnonzero(ks[1:] != ks[:-1]) + 1):
        if len(grp) <= min_history:
            continue
        gts, gs = cal["ts"][grp], s[grp]
        n_past = np.searchsorted(gts, gts, side="left")  # strictly earlier releases
        for j in np.flatnonzero(n_past >= min_history):
            scale = robust_scale(gs[: n_past[j]])
            if scale > 0:
                z[grp[j]] = gs[j] / scale
    return z


def inverse_signs(titles: npt.NDArray[Any], keywords: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Return -1 for titles containing any keyword (case-insensitive), else +1, shape (n,)."""
    low = np.char.lower(titles.astype(str))
    inv = np.zeros(len(low), dtype=bool)
    for kw in keywords:
        inv |= np.char.find(low, kw.lower()) >= 0
    return np.where(inv, -1, 1).astype(np.int8)


def override_reasons(cal: Columns, config: NewsConfig) -> npt.NDArray[np.str_]:
    """Return the override reason of every event, e.g.
    ``'USD Non-Farm Employment Change @2020-03-06T13:30Z (high, -30/+60 min)'``, shape (n,)."""
    if not len(cal["ts"]):
        return np.array([], dtype=str)
    when = np.datetime_as_string(cal["ts"].astype("datetime64[ms]"), unit="m")
    win = np.array(["-{}/+{} min".format(*config.windows_min.get(str(i), (0, 0))) for i in cal["impact"]])
    parts = (cal["currency"], " ", cal["title"], " @", when, "Z (", cal["impact"], ", ", win, ")")
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out.astype(str)
