"""One live feed session (pure): feed events -> what the gateway publishes.

Quotes and heartbeats drive :class:`~streams.live.minute_bars.MinuteBars` (its clock is the stream's
time); each closed minute gives bar records and a watermark. Malformed lines become quarantine
records with their reason. A stale feed (silent, or stalled prices behind live heartbeats) gives one
HALT control record (issuer ``live-feed``) per stale episode: no new entries until an operator
resumes (``hslr resume``, signed) - stopping is the safe side; the feed itself keeps reconnecting.
With ``resume_after_ms`` > 0 and the control key, the session resumes its own halt once prices have
flowed for that long on a healthy connection (from the first price after the last stale or
disconnected state, measured on the gateway's clock): a RESUME signed as issuer ``live-feed``, which
the trader applies to ``live-feed`` halts only (:data:`streams.core.control_auth.SELF_RESUMING`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.core.control_auth import operator_command
from streams.live.feed import FeedEvent, FeedStatus
from streams.live.minute_bars import LiveBar, MinuteBars
from streams.live.quotes import BadLine, Heartbeat, Quote

ISSUER = "live-feed"


@dataclass
class Published:
    bars: list[LiveBar] = field(default_factory=list)
    watermark: int | None = None
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    control: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FeedSession:
    pairs: tuple[str, ...]
    grace_ms: int = 500
    agg: MinuteBars = field(init=False)
    resume_after_ms: int = 0
    """Prices flowing this long after a stale HALT resume it (0: an operator resumes)."""
    key: bytes | None = None
    """The control key that signs the RESUME (none: never resumes)."""
    stale: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    halted: bool = False
    """A HALT of this session stands (published, not resumed)."""
    flowing_since: int = -1
    """Wall ms of the first price since the last stale or disconnected state (-1: none yet)."""

    def __post_init__(self) -> None:
        self.agg = MinuteBars(grace_ms=self.grace_ms)

    def handle(self, ev: FeedEvent, wall_ms: int) -> Published:
        """Take one event; ``wall_ms`` (the gateway's clock) stamps quarantine and control records."""
        out = Published()
        self.counts[type(ev).__name__] = self.counts.get(type(ev).__name__, 0) + 1
        if isinstance(ev, Quote):
            if ev.pair in self.pairs:
                self.agg.add(ev)
                self._flowing(wall_ms, out)
            else:
                out.quarantine.append(quarantine_record(ev.pair, wall_ms, "pair not subscribed", repr(ev)))
        elif isinstance(ev, BadLine):
            out.quarantine.append(
                quarantine_record("", wall_ms, ev.reason, ev.line.decode("utf-8", "replace"))
            )
        elif isinstance(ev, FeedStatus):
            self._status(ev, wall_ms, out)
            return out
        if isinstance(ev, Quote | Heartbeat):
            out.bars, out.watermark = self.agg.advance(ev.ts_ns)
        return out

    def _status(self, ev: FeedStatus, wall_ms: int, out: Published) -> None:
        if ev.state != "connected":
            self.flowing_since = -1
        if ev.stale and not self.stale:
            self.stale, self.halted = True, True
            out.control.append(halt(wall_ms, f"{ev.state}: {ev.reason}"))
        elif ev.state == "connected":
            self.stale = False

    def _flowing(self, wall_ms: int, out: Published) -> None:
        if not (self.halted and self.resume_after_ms > 0 and self.key) or self.stale:
            return
        if self.flowing_since < 0:
            self.flowing_since = wall_ms
        elif wall_ms - self.flowing_since >= self.resume_after_ms:
            reason = f"prices flowing again for {(wall_ms - self.flowing_since) / 1000:.1f} s"
            out.control.append(operator_command("RESUME", "", wall_ms, reason, wall_ms, self.key, ISSUER))
            self.halted, self.flowing_since = False, -1


def halt(ts_ms: int, reason: str) -> dict[str, Any]:
    """A global HALT control record from the feed (unsigned: only a RESUME needs a signature)."""
    return {
        "command_id": f"{ISSUER}:HALT:ALL:{ts_ms}",
        "ts": ts_ms,
        "action": "HALT",
        "scale": 1.0,
        "pair": "",
        "issuer": ISSUER,
        "reason": reason,
        "signature": "",
    }


def quarantine_record(
    pair: str, ts_ms: int, reason: str, payload: str, stage: str = ISSUER
) -> dict[str, Any]:
    """A ``quarantine.avsc`` record of a live input that could not be used (payload cut at 2,000 chars)."""
    return {"stage": stage, "pair": pair, "ts": ts_ms, "reason": reason, "payload": payload[:2000]}
