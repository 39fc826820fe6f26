"""Map the common economic-calendar layouts onto the calendar records :mod:`streams.data.calendar` parses.

Recognised (column names case- and separator-insensitive):

* time: ``datetime_utc, event_dt, datetime, date_time, timestamp, time_utc``, or separate ``date`` and
  ``time`` columns (ForexFactory's CSV export: ``Date 11-20-2019``, ``Time 7:00am``; ``All Day`` or
  ``Tentative`` count as 00:00). Times without an offset are in ``tz`` (default UTC).
* currency: ``currency, ccy, cur``; else a country column (``country, country_code, region``) mapped to
  its currency where that is unambiguous (:data:`COUNTRY_CURRENCY`; ForexFactory's ``Country`` column
  already holds currency codes). ``ALL`` (ForexFactory's all-currency holidays) is kept as ``ALL``.
* title: ``event, title, name, event_name``; impact: ``impact, importance, volatility`` (``High Impact
  Expected``, ``High``, ``3``/``2``/``1``); optional ``actual, forecast, previous``.
* id: ``event_id, id``; without one, a stable id is derived from the content: ``h`` + the first 15
  hex digits of sha1(time ms | currency | title), so re-importing the same file gives the same ids.

JSON: a list of events (ForexFactory's weekly export) or ``{"events": [...]}`` (the daily scrape).
Whatever cannot be mapped (no time, currency/country, title or impact column; an unknown country;
an unparseable time) raises :class:`CalendarLayoutError` naming the file, column, values and rows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "NZD", "CNY", "SEK", "NOK", "DKK", "HKD", "SGD"}
    | {"MXN", "ZAR", "TRY", "PLN", "CZK", "HUF", "KRW", "INR", "BRL", "RUB", "ALL"}
)
COUNTRY_CURRENCY: dict[str, str] = {
    **dict.fromkeys(("US", "USA", "UNITED STATES"), "USD"),
    **dict.fromkeys(("EZ", "EU", "EMU", "EA", "EUROZONE", "EURO ZONE", "EURO AREA"), "EUR"),
    **dict.fromkeys(("DE", "GERMANY", "FR", "FRANCE", "IT", "ITALY", "ES", "SPAIN"), "EUR"),
    **dict.fromkeys(("GB", "UK", "UNITED KINGDOM", "GREAT BRITAIN"), "GBP"),
    **dict.fromkeys(("JP", "JAPAN"), "JPY"),
    **dict.fromkeys(("AU", "AUSTRALIA"), "AUD"),
    **dict.fromkeys(("CA", "CANADA"), "CAD"),
    **dict.fromkeys(("CH", "SWITZERLAND"), "CHF"),
    **dict.fromkeys(("NZ", "NEW ZEALAND"), "NZD"),
    **dict.fromkeys(("CN", "CHINA"), "CNY"),
}
"""Country (ISO code or name, upper case) → currency, only where the mapping is unambiguous."""

_ALIASES = {
    "time": ("datetime_utc", "event_dt", "datetime", "date_time", "timestamp", "time_utc", "dateline"),
    "currency": ("currency", "ccy", "cur", "currency_code"),
    "country": ("country", "country_code", "region", "zone"),
    "title": ("event", "title", "name", "event_name"),
    "impact": ("impact", "importance", "volatility"),
    "event_id": ("event_id", "id", "eventid"),
    "actual": ("actual",),
    "forecast": ("forecast", "consensus"),
    "previous": ("previous", "prior"),
}
_IMPACT_NUMBERS = {"3": "High", "2": "Medium", "1": "Low", "0": "Non-Economic"}


class CalendarLayoutError(ValueError):
    """A calendar file whose layout or values cannot be mapped (the message says what and where)."""


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _find(columns: Sequence[str], role: str) -> str | None:
    by_norm = {_norm(c): c for c in columns}
    return next((by_norm[a] for a in _ALIASES[role] if a in by_norm), None)


def _rows_where(values: Sequence[str], bad: set[str], limit: int = 5) -> str:
    rows = [str(i + 1) for i, v in enumerate(values) if v in bad][:limit]
    return ", ".join(rows)


def _currencies(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], where: str) -> list[str]:
    col = _find(columns, "currency") or _find(columns, "country")
    if col is None:
        raise CalendarLayoutError(f"{where}: no currency or country column (columns: {list(columns)})")
    raw = [str(r.get(col) or "").strip().upper() for r in rows]
    out = [v if v in CURRENCIES else COUNTRY_CURRENCY.get(v, "") for v in raw]
    bad = {r for r, o in zip(raw, out, strict=True) if not o}
    if bad:
        raise CalendarLayoutError(
            f"{where}: column {col!r} has values that map to no currency: {sorted(bad)[:10]} "
            f"(data rows {_rows_where(raw, bad)}); known countries: {sorted(COUNTRY_CURRENCY)[:12]}..."
        )
    return out


def _date_time(date: str, time: str) -> str:
    t = time.strip().lower()
    if not t or t in ("all day", "tentative", "day 1", "day 2") or not re.match(r"^\d", t):
        t = "00:00"
    return f"{date.strip()} {t}"


def _times(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], tz: str, where: str) -> list[int]:
    col = _find(columns, "time")
    if col is not None:
        values = [r.get(col) for r in rows]
    else:
        date, time = _find_plain(columns, "date"), _find_plain(columns, "time")
        if date is None:
            raise CalendarLayoutError(f"{where}: no time column (e.g. datetime_utc, or date + time)")
        values = [
            _date_time(str(r.get(date) or ""), str(r.get(time) or "")) if time else r.get(date) for r in rows
        ]
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_to_ms(v, tz))
        except (ValueError, TypeError) as exc:
            raise CalendarLayoutError(
                f"{where}: data row {i + 1}: cannot read the time {v!r} ({exc})"
            ) from None
    return out


def _find_plain(columns: Sequence[str], name: str) -> str | None:
    return next((c for c in columns if _norm(c) == name), None)


def _to_ms(value: Any, tz: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000) if abs(value) < 1e11 else int(value)
    stamp = pd.Timestamp(str(value).strip())
    if pd.isna(stamp):
        raise ValueError("empty")
    stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp
    return int(stamp.tz_convert("UTC").value // 1_000_000)


def _impact(value: Any) -> str:
    text = str(value or "").strip()
    return _IMPACT_NUMBERS.get(text, text)


def content_id(ts_ms: int, currency: str, title: str) -> str:
    """A stable event id from the content (see the module docstring)."""
    return "h" + hashlib.sha1(f"{ts_ms}|{currency}|{title}".encode()).hexdigest()[:15]  # noqa: S324


def map_layout(rows: Sequence[Mapping[str, Any]], where: str, tz: str = "UTC") -> list[dict[str, Any]]:
    """Return the rows as calendar records (``event_id, ts, currency, impact, event, actual, forecast,
    previous``; ``ts`` ms UTC) or raise :class:`CalendarLayoutError` for what cannot be mapped."""
    if not rows:
        return []
    columns = list(dict.fromkeys(k for r in rows for k in r))
    title_col, impact_col = _find(columns, "title"), _find(columns, "impact")
    if title_col is None or impact_col is None:
        role = "event title" if title_col is None else "impact"
        raise CalendarLayoutError(f"{where}: no {role} column (columns: {columns})")
    ts = _times(rows, columns, tz, where)
    currency = _currencies(rows, columns, where)
    id_col = _find(columns, "event_id")
    extra = {k: _find(columns, k) for k in ("actual", "forecast", "previous")}
    out = []
    for i, r in enumerate(rows):
        title = str(r.get(title_col) or "").strip()
        given = str(r.get(id_col) or "").strip() if id_col else ""
        out.append(
            {
                "event_id": given or content_id(ts[i], currency[i], title),
                "ts": ts[i],
                "currency": currency[i],
                "impact": _impact(r.get(impact_col)),
                "event": title,
                **{k: (str(r.get(c) or "") if c else "") for k, c in extra.items()},
            }
        )
    return out
