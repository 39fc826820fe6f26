"""Run views for the tearsheet: the gate-block waterfall and the daily regime shares.

Gate waterfall: why signals did not become trades. Each scored bar leaves at the *first* entry gate
that blocks it, in the edge engine's order (:data:`streams.stages.edge.gates.GATES`: warmup, regime,
news, surprise, cost, win_prob, cvar, ou_slow), so the steps add up: bars scored = sum of the blocks +
passed. After the gates (other units: the trader decides per minute and works orders): passed bars that
governance kept out, the risk engine's refusals (``blocked:*`` targets: covariance warm-up, no vol
budget, utility), entry orders posted, entry orders filled, round trips closed.

Daily regime shares: per FX trading day (rolling at 17:00 New York), the share of the day's bars labelled with each regime (after the news
override), so six months read as ~130 stacked columns instead of 3,000 hourly bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.core.batch import Batch
from streams.stages.edge.gates import GATES

DAY_MS = 86_400_000
GOV_OK = ("NORMAL", "REDUCED")
REGIMES = ("Stable_Flow", "Directional_Vol", "Event_Risk")


def first_gate_counts(blocked_by: np.ndarray) -> dict[str, int]:
    """Bars per first blocking gate (GATES order) of comma-joined ``blocked_by`` labels; "" is passed."""
    labels, counts = np.unique(np.asarray(blocked_by).astype(str), return_counts=True)
    out = {g: 0 for g in GATES}
    out["passed"] = 0
    for text, n in zip(labels.tolist(), counts.tolist(), strict=True):
        first = text.split(",")[0] if text else "passed"
        out[first if first in out else "passed"] += int(n)
    return out


def gate_waterfall(
    signals: Batch,
    orders: Batch | None = None,
    fills: Batch | None = None,
    trips: int | None = None,
    targets: Batch | None = None,
) -> dict[str, Any]:
    """The waterfall of one window (``signals``: its governed signals; ``orders``/``fills``/``targets``:
    its trader output). Returns ``{"bars", "blocked": {gate: n}, "passed", "governance" (passed bars
    whose gov_state forbids entries), "risk": {reason: n} (the risk engine's ``blocked:*`` targets),
    "entry_orders", "entry_fills", "round_trips"}`` (None where the input is not given)."""
    counts = first_gate_counts(signals["blocked_by"]) if signals.n else {**{g: 0 for g in GATES}, "passed": 0}
    out: dict[str, Any] = {
        "bars": int(signals.n),
        "blocked": {g: counts[g] for g in GATES},
        "passed": counts["passed"],
    }
    if signals.n and "gov_state" in signals:
        ok = np.isin(np.asarray(signals["gov_state"]).astype(str), GOV_OK)
        out["governance"] = int((np.asarray(signals["passed"], dtype=bool) & ~ok).sum())
    if targets is not None:
        reasons = np.asarray(targets["reason"]).astype(str) if targets.n else np.zeros(0, dtype=str)
        names, n = np.unique(reasons[np.char.startswith(reasons, "blocked:")], return_counts=True)
        out["risk"] = {str(a)[8:]: int(b) for a, b in zip(names.tolist(), n.tolist(), strict=True)}
    entry_ids: set[str] = set()
    if orders is not None:
        new = orders.take((orders["action"] == "NEW") & (orders["leg"] == "entry")) if orders.n else orders
        entry_ids = set(new["client_order_id"].tolist()) if new.n else set()
        out["entry_orders"] = len(entry_ids)
    if fills is not None and orders is not None:
        done = fills.take(fills["last_qty"] > 0) if fills.n else fills
        out["entry_fills"] = len(entry_ids & set(done["client_order_id"].tolist())) if done.n else 0
    out["round_trips"] = trips
    return out


def add_waterfalls(parts: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Sum fold waterfalls (None when none is given); a count missing in any fold stays None."""
    given = [p for p in parts if p]
    if not given:
        return None
    out: dict[str, Any] = {
        "bars": sum(int(p["bars"]) for p in given),
        "blocked": {g: sum(int(p["blocked"].get(g, 0)) for p in given) for g in GATES},
        "passed": sum(int(p["passed"]) for p in given),
        "governance": sum(int(p.get("governance") or 0) for p in given),
        "risk": {},
    }
    for p in given:
        for k, v in (p.get("risk") or {}).items():
            out["risk"][k] = out["risk"].get(k, 0) + int(v)
    for k in ("entry_orders", "entry_fills", "round_trips"):
        vals: list[Any] = [p.get(k) for p in given]
        out[k] = None if any(v is None for v in vals) else sum(int(v) for v in vals)
    return out


def fx_day(ts: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """FX trading day (days since epoch) of times ``ts`` (ms UTC): the day rolls at 17:00 New York, so
    Sunday evening's bars belong to Monday and the week has five trading days (a bar after Friday's
    close counts to Friday)."""
    t = pd.to_datetime(np.asarray(ts, dtype=np.int64), unit="ms", utc=True).tz_convert("America/New_York")
    local = (t + pd.Timedelta(hours=7)).tz_localize(None).normalize()
    day = np.asarray((local - pd.Timestamp(0)) // pd.Timedelta(days=1), dtype=np.int64)
    # a bar after Friday's 17:00 close (a feed on a fixed UTC close) still belongs to Friday's session
    return np.where((day + 3) % 7 == 5, day - 1, day)


def regime_daily(signals: Batch) -> dict[str, list[Any]]:
    """Per FX trading day (:func:`fx_day`): ``day``, ``bars``, the share of bars per regime label (bars
    not yet classified, e.g. in warm-up, have none) and the ``tradeable`` share."""
    if not signals.n:
        return {"day": [], "bars": [], **{r: [] for r in REGIMES}, "tradeable": []}
    day = fx_day(signals["ts"])
    days, inv = np.unique(day, return_inverse=True)
    n = np.bincount(inv).astype(np.float64)
    labels = np.asarray(signals["regime"]).astype(str)
    out: dict[str, list[Any]] = {"day": days.tolist(), "bars": n.astype(np.int64).tolist()}
    for r in REGIMES:
        out[r] = (
            np.bincount(inv, weights=(labels == r).astype(np.float64), minlength=len(days)) / n
        ).tolist()
    out["tradeable"] = (
        np.bincount(inv, weights=np.asarray(signals["tradeable"], dtype=np.float64), minlength=len(days)) / n
    ).tolist()
    return out
