"""Option parsing shared by the ``hslr`` commands."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def parse_day(text: str) -> datetime:
    """``YYYY-MM-DD`` (or ISO date-time) as an aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_pairs(text: str) -> list[str]:
    """Comma-separated pair names, normalised (``eur/usd`` -> ``EURUSD``); none or unknown: ValueError."""
    from streams.fx.pairs import normalize_pair

    pairs = [normalize_pair(p) for p in text.split(",") if p.strip()]
    if not pairs:
        raise ValueError(f"no pair given in {text!r}")
    return pairs


def parse_speed(text: str) -> float | None:
    """``max`` (None) or a finite real-time multiple > 0 for ``hslr replay --speed``."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = float("nan")
    if not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"--speed {text!r}: expected 'max' or a finite real-time multiple > 0, e.g. 60")
    return speed
