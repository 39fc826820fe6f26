"""Parser for the ForexFactory economic calendar (merged CSV or the raw daily JSON files).

Formats, as found in the shared data (pakonda/FxCalendar scrape, 2019-11 .. 2020-10):

* CSV columns ``datetime_utc, currency, impact, event, actual, forecast, previous, event_id,
  source_file, scraped_at``; ``datetime_utc`` is ISO-8601 with an explicit ``+00:00`` offset. Other
  common layouts (ForexFactory's export, a country instead of a currency, no id column) are mapped by
  :mod:`streams.data.calendar_layouts`; what cannot be mapped is refused with a clear error.
* JSON: one object per day, ``{"timestamp": <scrape time>, "events": [...]}`` with event keys
  ``event_id, currency, impact, event, actual, forecast, previous, event_dt``. ``event_dt`` is an
  ISO-8601 *string* with a ``+00:00`` offset, identical to the CSV's ``datetime_utc`` for the same
  ``event_id`` (checked on all 95 events of the five shared files). Epoch numbers are accepted too
  (seconds below 1e11, else milliseconds); naive strings are taken as UTC.

``event_id`` is not unique (a few events were re-scheduled and appear on two days); rows are kept.
Values keep their text in ``actual``/``forecast``/``previous``; :func:`parse_value` gives floats.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.core.batch import Batch, concat
from streams.stages.news.records import CALENDAR_EVENT_FIELDS, to_calendar_batch

CALENDAR_FIELDS: tuple[str, ...] = tuple(f for f in CALENDAR_EVENT_FIELDS if f != "source")
"""Columns returned by the readers: ids/text as str arrays, ``ts`` int64 ms UTC, values float64."""

IMPACTS: tuple[str, ...] = ("high", "medium", "low", "holiday", "none")
_SCALE = {"": 1.0, "%": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_VALUE_RE = re.compile(r"^[<>]?\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*([%KMBT]?)$", re.IGNORECASE)
CalendarColumns = dict[str, npt.NDArray[Any]]


def parse_value(text: str | None) -> float:
    """Parse a calendar value such as ``'-0.2%'``, ``'1.2K'``, ``'<0.1%'`` or ``'0.14|1.2'``.

    Percentages stay in percent (``'0.3%'`` -> 0.3); K, M, B, T scale by 1e3, 1e6, 1e9, 1e12; a
    bound ``'<x'``/``'>x'`` gives x; of ``'a|b'`` (auction yield|bid-to-cover) the first is taken.
    Empty or non-numeric text (``'Pass'``, vote splits ``'0-2-7'``) gives NaN.
    """
    if text is None:
        return float("nan")
    match = _VALUE_RE.match(str(text).split("|")[0].strip())
    if match is None:
        return float("nan")
    return float(match.group(1)) * _SCALE[match.group(2).upper()]


def normalize_impact(text: str, title: str = "") -> str:
    """Map ForexFactory impact text to one of :data:`IMPACTS`.

    ``'High Impact Expected'`` -> ``'high'`` (likewise medium, low); ``'Non-Economic'`` ->
    ``'holiday'`` when the title names a holiday, else ``'none'``; anything else -> ``'none'``.
    """
    low = text.strip().lower()
    if low == "holiday":
        return "holiday"
    for level in ("high", "medium", "low"):
        if low.startswith(level):
            return level
    return "holiday" if "holiday" in title.lower() else "none"


def parse_event_time(value: Any) -> int:
    """Convert an event time to ms UTC: ISO-8601 text (naive = UTC) or epoch s/ms numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000) if abs(value) < 1e11 else int(value)
    stamp = pd.Timestamp(str(value).strip())
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def parse_records(records: Iterable[Mapping[str, Any]], time_key: str) -> CalendarColumns:
    """Turn calendar records (CSV rows or JSON events) into sorted calendar columns.

    Parameters
    ----------
    records : iterable of mappings
        Each with ``event_id, currency, impact, event, actual, forecast, previous`` and ``time_key``.
    time_key : str
        ``'datetime_utc'`` for the CSV, ``'event_dt'`` for the JSON.

    Returns
    -------
    dict of str to ndarray, shape (n,) each
        Columns :data:`CALENDAR_FIELDS`, stably sorted by ``ts`` (ms UTC).
    """
    rows = list(records)
    text = {
        k: np.array([str(r.get(k) or "").strip() for r in rows], dtype=str)
        for k in ("event_id", "currency", "event", "actual", "forecast", "previous")
    }
    cols: CalendarColumns = {
        "event_id": text["event_id"],
        "ts": np.array([parse_event_time(r[time_key]) for r in rows], dtype=np.int64),
        "currency": np.char.upper(text["currency"]) if rows else text["currency"],
        "impact": np.array(
            [normalize_impact(str(r.get("impact") or ""), str(r.get("event") or "")) for r in rows], dtype=str
        ),
        "title": text["event"],
    }
    for k in ("actual", "forecast", "previous"):
        cols[k] = text[k]
        cols[f"{k}_value"] = np.array([parse_value(v) for v in text[k]], dtype=np.float64)
    order = np.argsort(cols["ts"], kind="stable")
    return {k: cols[k][order] for k in CALENDAR_FIELDS}


def read_calendar_csv(path: str | Path, tz: str = "UTC") -> CalendarColumns:
    """Read a calendar CSV in any layout :mod:`streams.data.calendar_layouts` maps (the merged
    ForexFactory scrape, ForexFactory's export, country-or-currency columns, with or without ids).

    Raises ``CalendarLayoutError`` (a ``ValueError``) for what cannot be mapped."""
    from streams.data.calendar_layouts import map_layout

    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    return parse_records(map_layout(rows, f"calendar file {path}", tz), "ts")


def read_calendar_json(paths: str | Path | Iterable[str | Path], tz: str = "UTC") -> CalendarColumns:
    """Read one or more calendar JSON files (daily scrape ``{"events": [...]}`` or a list of events,
    as ForexFactory's weekly export) into one set of calendar columns."""
    from streams.data.calendar_layouts import CalendarLayoutError, map_layout

    files = [paths] if isinstance(paths, str | Path) else list(paths)
    records: list[Mapping[str, Any]] = []
    for f in files:
        try:
            data = json.loads(Path(f).read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise CalendarLayoutError(f"calendar file {f}: not JSON ({exc})") from None
        events = data.get("events") if isinstance(data, dict) else data
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise CalendarLayoutError(
                f'calendar file {f}: expected a list of event objects or {{"events": [...]}}'
            )
        records.extend(map_layout(events, f"calendar file {f}", tz))
    return parse_records(records, "ts")


def event_times(
    calendar: Mapping[str, npt.NDArray[Any]], currencies: Iterable[str], impacts: Iterable[str] = ("high",)
) -> npt.NDArray[np.int64]:
    """Return the sorted unique times (ms UTC) of events of the given currencies and impacts."""
    mask = np.isin(calendar["currency"], [c.upper() for c in currencies]) & np.isin(
        calendar["impact"], list(impacts)
    )
    return np.unique(np.asarray(calendar["ts"], dtype=np.int64)[mask])


def read_calendar_file(path: str | Path, tz: str = "UTC") -> Batch:
    """Read one calendar file (``.csv`` or ``.json``, any layout :mod:`streams.data.calendar_layouts`
    maps; times without an offset in ``tz``) as a ``calendar_event`` batch."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"calendar file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"calendar file {p}: expected .csv (merged ForexFactory) or .json (daily file)")
    cols = read_calendar_csv(p, tz) if suffix == ".csv" else read_calendar_json(p, tz)
    return to_calendar_batch(cols, f"file:{p.name}")


def import_calendar(paths: Iterable[str | Path], tz: str = "UTC") -> Batch:
    """Read several calendar files into one batch, in file order (each file sorted by event time), so a
    later file's version of an ``event_id`` comes later and wins, on the topic as in the database."""
    return concat([read_calendar_file(p, tz) for p in paths])
