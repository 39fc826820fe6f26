"""Which economic calendar a backtest uses, and which part of its window no calendar covers.

Order: an explicit file (``--calendar``); else the events stored by ``hslr calendar import --db``
(``calendar_events``) in the window, written to a CSV named by the window and a hash of its content
in ``out_dir`` (the data directory), so both engines and later readers see the same file; else the shared CSV (``$HSLR_SHARED_DATA``), said so in the note;
else none. :func:`coverage_gaps` finds the uncovered parts of the window: before the first event, after
the last, and any stretch of more than ``max_gap_days`` without an event (a calendar lists every day
with releases, so a longer silence is a hole in the file, not a quiet week).
"""

from __future__ import annotations

import csv
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

DAY_MS = 86_400_000
CSV_COLUMNS = ("datetime_utc", "currency", "impact", "event", "actual", "forecast", "previous", "event_id")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


def coverage_gaps(event_ts: np.ndarray, start: int, end: int, max_gap_days: float = 4.0) -> list[list[int]]:
    """``[from, to)`` stretches (ms) of ``[start, end)`` that the events ``event_ts`` (ms) do not cover."""
    ts = np.sort(np.asarray(event_ts, dtype=np.int64))
    ts = ts[(ts >= start) & (ts < end)]
    if ts.size == 0:
        return [[start, end]]
    gaps: list[list[int]] = []
    first_day = ts[0] - ts[0] % DAY_MS
    if first_day - start > max_gap_days * DAY_MS:
        gaps.append([start, int(first_day)])
    holes = np.flatnonzero(np.diff(ts) > max_gap_days * DAY_MS)
    gaps += [[int(ts[i] - ts[i] % DAY_MS + DAY_MS), int(ts[i + 1] - ts[i + 1] % DAY_MS)] for i in holes]
    last_day_end = ts[-1] - ts[-1] % DAY_MS + DAY_MS
    if end - last_day_end > max_gap_days * DAY_MS:
        gaps.append([int(last_day_end), end])
    return gaps


def write_calendar_csv(batch: Any, path: Path) -> Path:
    """Write calendar events (a ``calendar_event`` batch) in the merged ForexFactory CSV layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in batch.to_records():
            when = datetime.fromtimestamp(int(r["ts"]) / 1000, tz=UTC).isoformat()
            w.writerow(
                [
                    when,
                    r["currency"],
                    r["impact"],
                    r["title"],
                    r["actual"],
                    r["forecast"],
                    r["previous"],
                    r["event_id"],
                ]
            )
    return path


def _stored(start: int, end: int) -> tuple[Any, str]:
    try:
        from streams.storage.calendar_store import load_events
        from streams.storage.db import connect

        with connect() as conn:
            lo, hi = (datetime.fromtimestamp(x / 1000, tz=UTC) for x in (start, end))
            return load_events(conn, lo, hi), ""
    except Exception as exc:  # noqa: BLE001 - no database is a fallback, said in the note
        return None, f"calendar_events not read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


def resolve_calendar(
    explicit: str, start: int, end: int, out_dir: Path, shared: str = ""
) -> tuple[str, dict[str, Any]]:
    """Return (calendar file path or "", info for the summary) for the window ``[start, end)`` (ms).

    ``shared``: the fallback file (``streams.services.runs.default_calendar_path("")``)."""
    from streams.data.calendar import read_calendar_file

    note = ""
    if explicit:
        path, source = explicit, f"file:{explicit}"
    else:
        stored, note = _stored(start, end)
        if stored is not None and stored.n:
            digest = hashlib.sha1(repr(stored.to_records()).encode()).hexdigest()[:12]  # noqa: S324
            name = f"calendar_events-{_iso(start)[:10]}-{_iso(end)[:10]}-{digest}.csv"
            path = str(write_calendar_csv(stored, out_dir / name))
            source = "db:calendar_events"
        elif shared:
            path, source = shared, f"file:{shared}"
            note = (
                note + "; " if note else ""
            ) + "no calendar stored in calendar_events for the window: using the shared CSV"
        else:
            path, source = "", "none"
            note = (note + "; " if note else "") + "no calendar: the news stage runs without one"
    ts = read_calendar_file(path)["ts"] if path else np.zeros(0, np.int64)
    gaps = coverage_gaps(ts, start, end)
    uncovered = sum(b - a for a, b in gaps)
    info = {
        "source": source,
        "path": path,
        "events_in_window": int(((ts >= start) & (ts < end)).sum()),
        "uncovered": [[_iso(a), _iso(b)] for a, b in gaps],
        "uncovered_share": round(uncovered / max(end - start, 1), 4),
        "note": note,
    }
    return path, info


def backtest_calendar(explicit: str, start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    """The calendar of a backtest window (:func:`resolve_calendar`): ``explicit`` (``--calendar`` or
    ``[news] calendar_path``), else the stored events (written to the data directory), else the shared
    CSV; the note, if any, goes to stderr."""
    from streams.services.runs import default_calendar_path
    from streams.settings import data_dir

    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    path, info = resolve_calendar(
        explicit, start_ms, end_ms, data_dir() / "calendars", default_calendar_path("")
    )
    if info["note"]:
        print(f"[backtest] calendar: {info['note']}", file=sys.stderr, flush=True)
    return path, info
