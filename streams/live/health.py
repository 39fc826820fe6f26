"""Is the price stream alive? (pure: every time is an argument, monotonic seconds).

Two failure modes, both *stale* (halt new entries, alert, reconnect):

* **silent**: neither a price nor a heartbeat for ``silent_after_s`` (v20 sends a heartbeat every 5 s,
  so 3 missed heartbeats by default) - the connection is dead even if TCP has not noticed;
* **stalled**: heartbeats keep arriving but no price of any instrument for ``stall_after_s`` while the
  market is open - the failure LEAN #4045 missed, where heartbeats masked a dead price flow.

A single quiet instrument is not stale (an illiquid cross can be quiet for minutes); it is reported by
:meth:`StreamHealth.quiet` for dashboards only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FeedState(StrEnum):
    OK = "ok"
    SILENT = "silent"
    STALLED = "stalled"


@dataclass
class StreamHealth:
    silent_after_s: float = 15.0
    stall_after_s: float = 60.0
    started_s: float = 0.0
    last_any_s: float = 0.0
    last_price_s: float = 0.0
    last_pair_s: dict[str, float] = field(default_factory=dict)

    def reset(self, now_s: float) -> None:
        """A new connection: the timers restart (a reconnect is not itself a stall)."""
        self.started_s = self.last_any_s = self.last_price_s = now_s

    def on_heartbeat(self, now_s: float) -> None:
        self.last_any_s = now_s

    def on_price(self, now_s: float, pair: str) -> None:
        self.last_any_s = self.last_price_s = now_s
        self.last_pair_s[pair] = now_s

    def state(self, now_s: float, market_open: bool = True) -> FeedState:
        """The feed's state at ``now_s``; prices are only expected while ``market_open``."""
        if now_s - self.last_any_s > self.silent_after_s:
            return FeedState.SILENT
        if market_open and now_s - self.last_price_s > self.stall_after_s:
            return FeedState.STALLED
        return FeedState.OK

    def reason(self, now_s: float, market_open: bool = True) -> str:
        st = self.state(now_s, market_open)
        if st is FeedState.SILENT:
            return f"price stream silent: no price or heartbeat for {now_s - self.last_any_s:.1f} s"
        if st is FeedState.STALLED:
            return (
                f"price flow stalled: no price for {now_s - self.last_price_s:.1f} s while heartbeats arrive"
            )
        return "ok"

    def quiet(self, now_s: float, pairs: list[str], after_s: float) -> list[str]:
        """Pairs without a price for ``after_s`` (informational)."""
        return [p for p in pairs if now_s - self.last_pair_s.get(p, self.started_s) > after_s]
