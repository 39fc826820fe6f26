"""Kills and halts of a run, from its ``control`` topic: when, who, why, and when (if) cleared.

Clearing follows the trader's rules (:mod:`streams.stages.trader.execution.killswitch`): a KILL is cleared
only by a RESUME from issuer ``operator``; a HALT by any later RESUME whose scope covers it (an empty
``pair`` is every pair).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch

BLOCKING = ("KILL", "HALT")


def _iso(ts: int) -> str:
    return pd.Timestamp(ts, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _clears(action: str, pair: str, resume: dict[str, Any]) -> bool:
    if action == "KILL":
        return bool(resume["issuer"] == "operator")
    return resume["pair"] in ("", pair)


def control_events(control: Batch | None) -> list[dict[str, Any]]:
    """Every KILL and HALT in time order, with ``cleared_ts``/``cleared_by`` (None while in force)."""
    if control is None or control.n == 0:
        return []
    order = np.argsort(control["ts"], kind="stable")
    recs = control.take(order).to_records()
    seen: set[str] = set()
    events: list[dict[str, Any]] = []
    for i, r in enumerate(recs):
        if r["command_id"] in seen or str(r["action"]) not in BLOCKING:
            continue
        seen.add(str(r["command_id"]))
        action, pair, ts = str(r["action"]), str(r["pair"]), int(r["ts"])
        clear = next(
            (
                x
                for x in recs[i + 1 :]
                if x["action"] == "RESUME" and int(x["ts"]) >= ts and _clears(action, pair, x)
            ),
            None,
        )
        events.append(
            {
                "ts": ts,
                "time": _iso(ts),
                "action": action,
                "issuer": str(r["issuer"]),
                "pair": pair,
                "reason": str(r["reason"]),
                "cleared_ts": int(clear["ts"]) if clear is not None else None,
                "cleared_by": f"{clear['issuer']}: {clear['reason']}" if clear is not None else None,
            }
        )
    return events
