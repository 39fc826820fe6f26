"""Live economic-calendar client: polls an HTTP endpoint serving ForexFactory daily JSON.

The endpoint returns one object per day, as published by the pakonda/FxCalendar scrape::

    {"timestamp": "...", "events": [{"event_id": "104305", "currency": "AUD",
      "impact": "High Impact Expected", "event": "Building Approvals m/m", "actual": "-8.1%",
      "forecast": "-1.0%", "previous": "7.2%", "event_dt": "2019-12-02T00:30:00+00:00"}, ...]}

The URL may name the day to fetch with ``{date}`` (``2019-12-02``), ``{year}``, ``{month}``, ``{day}``
(no zero padding, as in ``date/{year}/{month}/{date}.json``). Every failure (connection, timeout,
non-200 status, body that is not that JSON) is logged and counted in :class:`PollStats`, and the last
good calendar is kept. Each poll yields only the events that are new or changed (by ``event_id``) as a
``calendar_event`` batch, ready for the ``calendar`` topic.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import requests

from streams.core.batch import Batch
from streams.data.calendar import CALENDAR_FIELDS, parse_records
from streams.stages.news.records import to_calendar_batch

log = logging.getLogger(__name__)
_IDENTITY = ("ts", "currency", "impact", "title", "actual", "forecast", "previous")


class CalendarFetchError(RuntimeError):
    """One failed poll; ``kind`` is the :class:`PollStats` counter it increments."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class PollStats:
    """Counters of poll outcomes since the client was created."""

    ok: int = 0
    connection_errors: int = 0
    timeouts: int = 0
    http_errors: int = 0
    malformed: int = 0
    events_changed: int = 0


class CalendarClient:
    """Poll a ForexFactory-format JSON endpoint and emit changed events."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        max_bytes: int = 5_000_000,
        session: requests.Session | None = None,
    ) -> None:
        """Create a client.

        Parameters
        ----------
        url : str
            Endpoint, optionally with ``{date}``/``{year}``/``{month}``/``{day}`` placeholders.
        timeout_s : float
            Deadline for one whole request (connect + full body), seconds.
        max_bytes : int
            Larger bodies are rejected as malformed.
        session : requests.Session, optional
            Reused for connection pooling; a new one when None.
        """
        self.url, self.timeout_s, self.max_bytes = url, timeout_s, max_bytes
        self.session = session or requests.Session()
        self.stats = PollStats()
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._last_good: dict[str, dict[str, Any]] = {}

    @property
    def calendar(self) -> Batch:
        """Every event from the successful polls so far (latest version per ``event_id``), sorted by ts."""
        rows = sorted(self._last_good.values(), key=lambda r: (r["ts"], r["event_id"]))
        cols = (
            {k: np.array([r[k] for r in rows]) for k in (*CALENDAR_FIELDS, "source")}
            if rows
            else {k: np.array([], dtype=np.int64 if k == "ts" else str) for k in (*CALENDAR_FIELDS, "source")}
        )
        return to_calendar_batch(cols, cols["source"])

    def url_for(self, day: date) -> str:
        """Return the URL to fetch for ``day``."""
        return self.url.format(date=day.isoformat(), year=day.year, month=day.month, day=day.day)

    def fetch(self, day: date | None = None) -> Batch:
        """Fetch and parse one day's JSON; raise :class:`CalendarFetchError` on any failure."""
        url = self.url_for(day or datetime.now(UTC).date())
        body = self._get(url)
        try:
            payload = json.loads(body)
            events = payload["events"]
            if not isinstance(events, list):
                raise TypeError(f"'events' is a {type(events).__name__}, not a list")
            cols = parse_records(events, "event_dt")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CalendarFetchError("malformed", f"{url}: not ForexFactory calendar JSON: {exc!r}") from exc
        return to_calendar_batch(cols, f"live:{url}")

    def _get(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        try:
            with self.session.get(url, timeout=self.timeout_s, stream=True) as resp:
                if resp.status_code != 200:
                    raise CalendarFetchError("http_errors", f"{url}: HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_content(65536):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise CalendarFetchError(
                            "malformed", f"{url}: body larger than {self.max_bytes} bytes"
                        )
                    if time.monotonic() > deadline:  # a server trickling bytes must not hold us forever
                        raise CalendarFetchError("timeouts", f"{url}: body not complete in {self.timeout_s}s")
                return b"".join(chunks)
        except requests.Timeout as exc:
            raise CalendarFetchError("timeouts", f"{url}: timed out after {self.timeout_s}s") from exc
        except requests.RequestException as exc:
            raise CalendarFetchError("connection_errors", f"{url}: {type(exc).__name__}: {exc}") from exc

    def poll_once(self, day: date | None = None) -> Batch | None:
        """Fetch once; return the new or changed events (None when the poll failed or nothing changed)."""
        try:
            batch = self.fetch(day)
        except CalendarFetchError as exc:
            setattr(self.stats, exc.kind, getattr(self.stats, exc.kind) + 1)
            log.warning("calendar poll failed (%s), keeping the last good calendar: %s", exc.kind, exc)
            return None
        self.stats.ok += 1
        changed = []
        for i, rec in enumerate(batch.to_records()):
            ident = tuple(rec[k] for k in _IDENTITY)
            if self._seen.get(rec["event_id"]) != ident:
                self._seen[rec["event_id"]] = ident
                self._last_good[rec["event_id"]] = rec
                changed.append(i)
        self.stats.events_changed += len(changed)
        return batch.take(np.asarray(changed, dtype=np.int64)) if changed else None

    def poll(
        self,
        interval_s: float = 60.0,
        *,
        iterations: int | None = None,
        day: Callable[[], date] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[Batch]:
        """Poll every ``interval_s`` seconds (forever, or ``iterations`` times); yield changed-event batches.

        ``day`` gives the day to fetch at each poll (default: today, UTC).
        """
        n = 0
        while iterations is None or n < iterations:
            if n:
                sleep(interval_s)
            n += 1
            batch = self.poll_once(day() if day else None)
            if batch is not None:
                yield batch
