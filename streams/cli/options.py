"""Option parsing shared by the ``hslr`` commands."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_day(text: str) -> datetime:
    """``YYYY-MM-DD`` (or ISO date-time) as an aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_pairs(text: str) -> list[str]:
    """Comma-separated pairs, upper-cased and validated."""
    from streams.fx.pairs import validate_pair

    return [validate_pair(p.strip().upper()) for p in text.split(",") if p.strip()]
