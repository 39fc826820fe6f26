"""Opaque page cursors: the last row's exact time and key, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

MAX_CURSOR_CHARS = 512


class BadCursor(ValueError):
    """A cursor this service did not issue."""


def encode_cursor(after: tuple[datetime, str | None]) -> str:
    """Cursor text of (time, key)."""
    raw = json.dumps([after[0].astimezone(UTC).isoformat(), after[1]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str | None]:
    """(time, key) of a cursor from :func:`encode_cursor`.

    Raises
    ------
    BadCursor
        Anything else.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        when, key = json.loads(raw)
        ts = datetime.fromisoformat(when)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadCursor("invalid cursor: pass next_cursor of the previous page unchanged") from exc
    if ts.tzinfo is None or not (key is None or isinstance(key, str)):
        raise BadCursor("invalid cursor: pass next_cursor of the previous page unchanged")
    return ts, key
