"""Connection pacing (pure): reconnect backoff and OANDA's new-connection limit.

v20 allows 2 new connections per second (and 100 requests per second on a kept-alive connection);
:class:`RateLimit` says how long to wait before the next one so a sliding one-second window never
holds more than ``per_s`` starts. :class:`Backoff` doubles the wait after each failed connection up to
``cap_s`` and starts over once a connection delivered data.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    per_s: int = 2
    window_s: float = 1.0
    starts: deque[float] = field(default_factory=deque)

    def delay(self, now_s: float) -> float:
        """Seconds to wait from ``now_s`` before the next start is allowed (0 when it is)."""
        while self.starts and now_s - self.starts[0] >= self.window_s:
            self.starts.popleft()
        if len(self.starts) < self.per_s:
            return 0.0
        return self.starts[0] + self.window_s - now_s

    def record(self, now_s: float) -> None:
        self.starts.append(now_s)


@dataclass
class Backoff:
    initial_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    failures: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt after one more failure."""
        self.failures += 1
        return min(self.cap_s, self.initial_s * self.factor ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0
