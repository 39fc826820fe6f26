"""Kill switch and control-command state.

The kill switch blocks every new order and cancels all working orders at once. It is part of the
trader's checkpointed state, so it survives restarts, and only an authenticated global ``RESUME``
from the operator (HMAC verified by the trader, :mod:`streams.core.control_auth`) clears it. It fires
on toxic flow (:mod:`toxicity`) and on a ``KILL`` command. When the stage's own input goes stale (more
than ``stale_after_min`` open-market minutes, :mod:`streams.fx.hours`: the New York FX week, holidays
excluded, pass between two consecutive input minutes), working orders are cancelled and new entries
pause for ``stale_pause_min`` minutes of fresh input (features re-warm), then resume by themselves:
a gap in the data is not an operator matter (real HistData years hold 3-4 such gaps; a latched KILL
ended every long backtest at the first). Exits continue during the pause.

Control commands (topic ``control``): HALT (no new orders, cancel working ones), KILL, RESUME (only
when authenticated: clears HALT/SUSPEND/DECOMMISSION/REDUCE of its scope; a pair RESUME clears only
that pair's own flags, never a global one and never the kill switch; a global RESUME also clears the
kill switch; a RESUME signed by a :data:`SELF_RESUMING` issuer - the feed gateway after a stale feed
- clears only that issuer's own HALTs, never an operator's, reconcile's, execution's or the kill switch),
REDUCE(scale) (allocation multiplier; the effective scale is min(control scale, signal alloc_scale)
so a reduction announced both ways is not applied twice), DECOMMISSION (flatten through exit orders,
no entries), SUSPEND (no new entries, exits continue). A command with ``pair`` applies to that pair,
an empty ``pair`` to all. Commands take effect at their event time ``ts`` (0: at the next decision): before the fills of the
first minute whose decision time (bar close) is at or after ``ts``; ids already applied are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.control_auth import SELF_RESUMING, ControlRejected, check_replay, verify
from streams.core.units import MINUTE_MS
from streams.fx.hours import open_minutes_between
from streams.fx.pairs import normalize_pair

SIGNERS = SELF_RESUMING | {"operator"}


@dataclass(frozen=True)
class Command:
    command_id: str
    ts: int
    action: str
    scale: float
    pair: str
    issuer: str
    reason: str
    authenticated: bool = False
    """The record carried a valid operator signature (checked by the trader)."""


@dataclass(frozen=True)
class ControlState:
    """Kill switch plus the effect of every applied command (scope "" = all pairs)."""

    killed: bool = False
    kill_reason: str = ""
    kill_ts: int = -1
    halted: frozenset[str] = frozenset()
    halted_by: frozenset[tuple[str, str]] = frozenset()
    """(issuer, scope) of the HALTs of :data:`SELF_RESUMING` issuers (not in ``halted``)."""
    suspended: frozenset[str] = frozenset()
    decommissioned: frozenset[str] = frozenset()
    scale: tuple[tuple[str, float], ...] = ()
    queue: tuple[Command, ...] = ()
    """Commands not yet in effect, sorted by ts (stable)."""
    paused_until: int = -1
    """After a feed gap (stale input), no new entries before this decision time (ms); -1: none. It
    clears by itself: a gap in the data is not an operator matter, unlike the kill switch."""
    seen: tuple[str, ...] = field(default=())
    """Ids of applied commands (the most recent 1000)."""
    high_water: tuple[tuple[str, int], ...] = ()
    """Per issuer, the signing time of the last signed command accepted (replay protection beyond the
    remembered ids: :func:`streams.core.control_auth.check_replay`)."""

    def in_scope(self, scopes: frozenset[str], pair: str) -> bool:
        return "" in scopes or pair in scopes

    def blocks_all(self, pair: str) -> bool:
        """No new orders at all (kill switch or HALT)."""
        return (
            self.killed or self.in_scope(self.halted, pair) or any(p in ("", pair) for _, p in self.halted_by)
        )

    def blocks_entries(self, pair: str) -> bool:
        """No orders that add exposure (also SUSPEND and DECOMMISSION)."""
        return (
            self.blocks_all(pair)
            or self.paused_until >= 0
            or self.in_scope(self.suspended, pair)
            or self.in_scope(self.decommissioned, pair)
        )

    def alloc(self, pair: str) -> float:
        return min([s for p, s in self.scale if p in ("", pair)], default=1.0)


def command(record: Mapping[str, Any], key: bytes | None) -> Command:
    """A control record as a :class:`Command`: pair normalised, operator signature checked.

    Raises
    ------
    ControlRejected
        Unknown pair, or a RESUME that is not a verified operator record (a RESUME clears halts and
        the kill switch, so it is the one command that must be authenticated; HALT and KILL from
        anyone only make the system safer). The binding dead-letters it with this reason.
    """
    cid, action, issuer = str(record["command_id"]), str(record["action"]), str(record["issuer"])
    raw_pair = str(record.get("pair", "") or "")
    try:
        pair = normalize_pair(raw_pair) if raw_pair else ""
    except ValueError as exc:
        raise ControlRejected(f"control {cid}: {exc}") from None
    authenticated = issuer in SIGNERS and verify(record, key)
    if action == "RESUME" and not authenticated:
        why = "no control key configured" if not key else "missing or invalid signature"
        raise ControlRejected(f"control {cid}: RESUME from {issuer!r} not authenticated ({why}): ignored")
    scale = float(record.get("scale", 1.0))
    return Command(
        cid, int(record["ts"]), action, scale, pair, issuer, str(record.get("reason", "")), authenticated
    )


def accept_signed(cs: ControlState, record: Mapping[str, Any], event_ts: int) -> ControlState:
    """``cs`` with the issuer's high-water moved to ``record``'s signing time.

    Raises
    ------
    ControlRejected
        A replayed or stale signed command (:func:`streams.core.control_auth.check_replay`).
    """
    issuer, marks = str(record["issuer"]), dict(cs.high_water)
    marks[issuer] = check_replay(record, marks.get(issuer, -1), event_ts)
    return replace(cs, high_water=tuple(sorted(marks.items())))


def fire(cs: ControlState, ts: int, reason: str) -> ControlState:
    """Return ``cs`` with the kill switch on (the first reason is kept while it stays on)."""
    return cs if cs.killed else replace(cs, killed=True, kill_reason=reason, kill_ts=ts)


def enqueue(cs: ControlState, commands: list[Command]) -> ControlState:
    queue = sorted((*cs.queue, *commands), key=lambda c: c.ts)
    return replace(cs, queue=tuple(queue))


def _drop(scopes: frozenset[str], pair: str) -> frozenset[str]:
    return frozenset() if pair == "" else scopes - {pair}


def _cleared(halts: frozenset[tuple[str, str]], pair: str, issuer: str = "") -> frozenset[tuple[str, str]]:
    return frozenset((i, p) for i, p in halts if (issuer and i != issuer) or (pair != "" and p != pair))


def apply(cs: ControlState, c: Command) -> ControlState:
    """Return the control state after command ``c`` (idempotent per command id)."""
    if c.command_id in cs.seen:
        return cs
    cs = replace(cs, seen=(*cs.seen, c.command_id)[-1000:])
    if c.action == "KILL":
        return fire(cs, c.ts, f"{c.issuer}: {c.reason}")
    if c.action == "HALT" and c.issuer in SELF_RESUMING:
        return replace(cs, halted_by=cs.halted_by | {(c.issuer, c.pair)})
    if c.action == "RESUME" and c.authenticated and c.issuer != "operator":
        return replace(cs, halted_by=_cleared(cs.halted_by, c.pair, c.issuer))
    if c.action in ("HALT", "SUSPEND", "DECOMMISSION"):
        name = {"HALT": "halted", "SUSPEND": "suspended", "DECOMMISSION": "decommissioned"}[c.action]
        return replace(cs, **{name: getattr(cs, name) | {c.pair}})
    if c.action == "REDUCE":
        kept = tuple((p, s) for p, s in cs.scale if p != c.pair)
        return replace(cs, scale=(*kept, (c.pair, min(max(c.scale, 0.0), 1.0))))
    if c.action == "RESUME" and c.authenticated:
        cs = replace(
            cs,
            halted=_drop(cs.halted, c.pair),
            halted_by=_cleared(cs.halted_by, c.pair),
            suspended=_drop(cs.suspended, c.pair),
            decommissioned=_drop(cs.decommissioned, c.pair),
            scale=tuple((p, s) for p, s in cs.scale if c.pair not in ("", p)),
        )
        if c.pair == "" and cs.killed:
            cs = replace(cs, killed=False, kill_reason="", kill_ts=-1)
    return cs


def apply_due(cs: ControlState, decision_ts: int) -> ControlState:
    """Apply every queued command with ``ts <= decision_ts`` in time order."""
    while cs.queue and cs.queue[0].ts <= decision_ts:
        head, cs = cs.queue[0], replace(cs, queue=cs.queue[1:])
        cs = apply(cs, head)
    return cs


def stale_gap(prev_ts: int, ts: int, limit_min: int) -> bool:
    """Return True when more than ``limit_min`` open-market minutes lie strictly between two bars."""
    if prev_ts < 0 or ts - prev_ts <= (limit_min + 1) * MINUTE_MS:
        return False
    return open_minutes_between(prev_ts, ts) > limit_min


def stale_minutes(last_ts: int, ts: npt.NDArray[np.int64], limit_min: int) -> npt.NDArray[np.bool_]:
    """Per minute of ``ts`` (m,): a stale gap (:func:`stale_gap`) since the minute before (``last_ts`` first)."""
    prev = np.concatenate([[last_ts], ts[:-1]])
    cand = (prev >= 0) & (ts - prev > (limit_min + 1) * MINUTE_MS)
    out = np.zeros(len(ts), dtype=bool)
    for i in np.flatnonzero(cand):
        out[i] = stale_gap(int(prev[i]), int(ts[i]), limit_min)
    return out
