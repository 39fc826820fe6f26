"""Authentication of operator control records: HMAC-SHA256 over the record's canonical fields.

Why an HMAC and not Kafka SASL/ACLs: the control topic is also written by the watchdog, the binding
(HALT on a stage error) and governance, and a HALT or KILL from anyone only makes the system safer.
What must be trusted is the *clearing* of a halt or the kill switch, and that is the one thing an
HMAC proves end to end, whatever broker, replay or mirror carried the record; it needs no broker
configuration, and the verification is pure (the stages check it in event time, so a replay of the
control topic decides exactly as the live run did).

The key is read in :mod:`streams.settings` (``HSLR_CONTROL_KEY`` or ``HSLR_CONTROL_KEY_FILE``); there
is no default key. Without a key no operator RESUME verifies, so nothing can clear the kill switch:
fail-safe.

Replays: a signed record stays valid for ever, and anyone who can read ``control`` can write it back
later (a RESUME captured today would clear next month's KILL). The feed gateway signs its RESUME with
the same key as issuer ``live-feed`` (:data:`SELF_RESUMING`): it clears that issuer's halts only. The id of an operator command ends with
its signing time (``operator:<action>:<pair>:<ts>:<signed_at ms>``, covered by the signature), and a
stage accepts a signed command only when (:func:`check_replay`) it was signed after the last one it
accepted from that issuer (a high-water kept in the stage's checkpointed state, so it survives
restarts and holds beyond any window of remembered ids) and, when it names an event time, that time
is at most :data:`MAX_AGE_MS` behind the stage's own event time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

VERSION = "hslr-control-v1"
MAX_AGE_MS = 3_600_000
"""A signed command due more than an hour before the stage's event time on arrival is refused."""
SELF_RESUMING = frozenset({"live-feed"})
"""Issuers that sign their own RESUME (with the same key) and whose RESUME clears only their own HALTs:
the feed gateway halts on a stale feed and may resume once prices flow again. The trader keeps their
halts apart; governance ignores their resumes (a feed halt is no governance state)."""
CANONICAL_FIELDS = ("command_id", "ts", "action", "scale", "pair", "issuer", "reason")


class ControlRejected(ValueError):
    """A control record that must not take effect (unauthenticated, bad signature, bad pair)."""


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes the signature covers: version and the canonical fields as compact JSON."""
    values = [
        VERSION,
        str(record["command_id"]),
        int(record["ts"]),
        str(record["action"]),
        float(record.get("scale", 1.0)),
        str(record.get("pair", "")),
        str(record["issuer"]),
        str(record.get("reason", "")),
    ]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode()


def sign(record: Mapping[str, Any], key: bytes) -> str:
    """Hex HMAC-SHA256 of :func:`canonical` under ``key`` (non-empty)."""
    if not key:
        raise ValueError("an empty control key signs nothing")
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


def verify(record: Mapping[str, Any], key: bytes | None) -> bool:
    """True when ``record['signature']`` is the HMAC of its canonical fields under ``key``."""
    sig = str(record.get("signature", "") or "")
    if not key or not sig:
        return False
    return hmac.compare_digest(sig, sign(record, key))


def signed_at(record: Mapping[str, Any]) -> int | None:
    """The signing time (ms) at the end of an operator command id; None when the id carries none."""
    tail = str(record["command_id"]).rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def check_replay(
    record: Mapping[str, Any], high_water: int, event_ts: int, max_age_ms: int = MAX_AGE_MS
) -> int:
    """Return the signing time of an authenticated ``record`` that may take effect: the issuer's new
    high-water.

    ``high_water``: the latest signing time accepted from this issuer (-1: none); ``event_ts``: the
    stage's event time (-1: none yet).

    Raises
    ------
    ControlRejected
        No signing time in the id, signed at or before the high-water (a replay, or an older command
        delivered late), or due more than ``max_age_ms`` before ``event_ts`` (a stale or replayed one).
    """
    cid, ts = str(record["command_id"]), int(record["ts"])
    at = signed_at(record)
    if at is None:
        raise ControlRejected(f"control {cid}: signed command without a signing time in its id: ignored")
    if at <= high_water:
        raise ControlRejected(
            f"control {cid}: signed at {at}, not after the last accepted command of "
            f"{record['issuer']!r} (signed at {high_water}): replay ignored"
        )
    if ts > 0 and event_ts >= 0 and ts < event_ts - max_age_ms:
        raise ControlRejected(
            f"control {cid}: due at {ts}, more than {max_age_ms // 60_000} min before the stream's event "
            f"time {event_ts}: stale or replayed, ignored"
        )
    return at


def parse_at(at: str, now_ms: int) -> int:
    """Event time of an operator command: ``now`` (wall clock: live), ``next`` (0: at the next event
    of whatever stream the stages are processing, a replay included) or an ISO-8601 time (UTC unless
    it names an offset), as ms.

    Raises
    ------
    ValueError
        Anything else, with the accepted forms.
    """
    from datetime import UTC, datetime

    text = at.strip().lower()
    if text == "now":
        return now_ms
    if text == "next":
        return 0
    try:
        t = datetime.fromisoformat(at.strip())
    except ValueError:
        raise ValueError(
            f"--at {at!r}: expected 'now' (live), 'next' (the next event, e.g. of a replay) or an "
            "ISO time such as 2020-03-02T14:30"
        ) from None
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def operator_command(
    action: str, pair: str, ts: int, reason: str, now_ms: int, key: bytes | None, issuer: str = "operator"
) -> dict[str, Any]:
    """A control record from the operator (or a :data:`SELF_RESUMING` ``issuer``), signed at ``now_ms``
    when ``key`` is given (``pair`` already normalised)."""
    rec: dict[str, Any] = {
        "command_id": f"{issuer}:{action}:{pair or 'ALL'}:{ts}:{now_ms}",
        "ts": ts,
        "action": action,
        "scale": 1.0,
        "pair": pair,
        "issuer": issuer,
        "reason": reason,
    }
    rec["signature"] = sign(rec, key) if key else ""
    return rec
