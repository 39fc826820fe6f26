"""Bearer tokens and per-token limits: pure logic, the clock is an argument."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field

MIN_TOKEN_CHARS = 16


def parse_tokens(raw: str) -> tuple[str, ...]:
    """The comma-separated tokens of ``raw`` (blanks dropped).

    Raises
    ------
    ValueError
        No token, or one shorter than :data:`MIN_TOKEN_CHARS` characters.
    """
    tokens = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if not tokens:
        raise ValueError("no API token configured: set HSLR_API_TOKENS (infra/hslr.env), comma-separated")
    short = [i for i, t in enumerate(tokens) if len(t) < MIN_TOKEN_CHARS]
    if short:
        raise ValueError(f"HSLR_API_TOKENS: token(s) #{short} shorter than {MIN_TOKEN_CHARS} characters")
    return tokens


def match_token(tokens: tuple[str, ...], presented: str | None) -> int | None:
    """Index of the configured token equal to ``presented`` (constant-time compare), ``None`` if none."""
    if not presented:
        return None
    found = None
    for i, t in enumerate(tokens):  # compare with every token: the time does not tell which one matched
        if hmac.compare_digest(t.encode(), presented.encode()):
            found = i
    return found


@dataclass
class TokenBuckets:
    """One token bucket per API token: ``per_min`` requests a minute, bursts up to ``per_min``.

    ``take(who, now)`` spends one request and returns 0.0, or returns the seconds until one is free
    (the request is refused, nothing is spent).
    """

    per_min: int
    _level: dict[int, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, who: int, now: float) -> float:
        rate = self.per_min / 60.0
        with self._lock:
            level, last = self._level.get(who, (float(self.per_min), now))
            level = min(float(self.per_min), level + max(0.0, now - last) * rate)
            if level < 1.0:
                self._level[who] = (level, now)
                return (1.0 - level) / rate
            self._level[who] = (level - 1.0, now)
            return 0.0


@dataclass
class StreamSlots:
    """At most ``per_token`` open streams per API token."""

    per_token: int
    _open: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, who: int) -> bool:
        with self._lock:
            if self._open.get(who, 0) >= self.per_token:
                return False
            self._open[who] = self._open.get(who, 0) + 1
            return True

    def release(self, who: int) -> None:
        with self._lock:
            self._open[who] = max(0, self._open.get(who, 0) - 1)
