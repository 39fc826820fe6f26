"""Tearsheet sections over time and against references: regime shares (daily or weekly, never the
hourly barcode), the governance/kill timeline, the fill-model calibration and the naive yardstick."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from backtest.artifacts import load_npz
from backtest.report_views import REGIME_COLORS, STATE_COLORS, _table, fmt, na
from backtest.svg import Chart
from backtest.waterfall import fx_day

DAY_MS = 86_400_000
WEEK_DAYS = 7
DAILY_UP_TO = 90
"""Up to this many days the regime shares are drawn per day, beyond it per week (26 columns for six months)."""
PROB_KEYS = (
    ("prob_stable", "Stable_Flow"),
    ("prob_directional", "Directional_Vol"),
    ("prob_event", "Event_Risk"),
)


def _iso(ms: Any) -> str:
    return "—" if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def daily_from_hourly(tl: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Means per FX trading day (bar-weighted) of the hourly regime probabilities and tradeable share."""
    day = fx_day(tl["ts"])
    days, inv = np.unique(day, return_inverse=True)
    w = np.asarray(tl.get("n", np.ones(len(day))), dtype=np.float64)
    out: dict[str, np.ndarray] = {"day": days, "bars": np.bincount(inv, weights=w, minlength=len(days))}
    for key, label in (*PROB_KEYS, ("tradeable", "tradeable")):
        if key in tl:
            v = np.asarray(tl[key], dtype=np.float64)
            ok = np.isfinite(v)
            num = np.bincount(inv, weights=np.where(ok, v * w, 0.0), minlength=len(days))
            den = np.bincount(inv, weights=np.where(ok, w, 0.0), minlength=len(days))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[label] = num / den
    return out


def _merge_days(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per day: a trading day split by a fold boundary is joined (bar-weighted)."""
    days, inv = np.unique(d["day"].astype(np.int64), return_inverse=True)
    w = np.asarray(d.get("bars", np.ones(len(inv))), dtype=np.float64)
    n = np.bincount(inv, weights=w, minlength=len(days))
    out: dict[str, np.ndarray] = {"day": days, "bars": n}
    for k, v in d.items():
        if k not in ("day", "bars"):
            out[k] = (
                np.bincount(
                    inv, weights=np.nan_to_num(np.asarray(v, dtype=np.float64)) * w, minlength=len(days)
                )
                / n
            )
    return out


def _weekly(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bar-weighted mean of the daily shares per week (weeks starting Monday; a day without ``bars``
    counts once)."""
    week = (d["day"] + 3) // WEEK_DAYS  # day 0 = Thursday 1970-01-01; +3 makes weeks start on Monday
    weeks, inv = np.unique(week, return_inverse=True)
    w = np.asarray(d.get("bars", np.ones(len(week))), dtype=np.float64)  # a 1-hour day counts little
    n = np.bincount(inv, weights=w, minlength=len(weeks))
    out = {"day": weeks * WEEK_DAYS - 3, "bars": n}
    for k, v in d.items():
        if k not in ("day", "bars"):
            x = np.nan_to_num(np.asarray(v, dtype=np.float64))
            out[k] = np.bincount(inv, weights=x * w, minlength=len(weeks)) / n
    return out


def regime_chart(run: Path, folds: list[dict[str, Any]]) -> str:
    """Stacked regime shares per day (per week beyond :data:`DAILY_UP_TO` days) and the tradeable share."""
    tl = load_npz(run / "timeline.npz")
    if tl is not None and len(tl["ts"]):
        d, what = daily_from_hourly(tl), "mean regime probabilities over the day's bars and pairs"
    else:
        rows = [f["regime_daily"] for f in folds if f.get("regime_daily") and f["regime_daily"].get("day")]
        if not rows:
            return na("no timeline.npz and no regime_daily in the folds")
        d = _merge_days(
            {k: np.concatenate([np.asarray(r[k], dtype=np.float64) for r in rows]) for k in rows[0]}
        )
        what = "share of the day's bars labelled with each regime (after the news override)"
    unit = "day"
    if len(d["day"]) > DAILY_UP_TO:
        d, unit = _weekly(d), "week"
    span = 1 if unit == "day" else WEEK_DAYS
    if "bars" in d and len(d["bars"]):  # a column of a few bars (a window's last hour) says nothing
        keep = np.asarray(d["bars"]) >= 0.1 * float(np.median(d["bars"]))
        d = {k: np.asarray(v)[keep] for k, v in d.items()}
    x = (d["day"] + span / 2) * DAY_MS
    chart = Chart(
        f"Regime shares per {unit} ({what})",
        width=1300,
        height=300,
        xkind="day",
        ylim=(0.0, 1.0),
        ykind="pct",
    )
    layers = [(label, np.nan_to_num(d.get(label, np.zeros(len(x)))), color) for label, color in REGIME_COLORS]
    rest = np.clip(1.0 - sum(h for _, h, _ in layers), 0.0, 1.0)
    chart.stacked(x, span * DAY_MS * 0.85, [*layers, ("not classified (warm-up, gaps)", rest, "#d0d0d0")])
    if "tradeable" in d:  # broken across weekends: a line through a closed market would invent values
        gap = (span + 1.5) * DAY_MS
        chart.line(
            x, d["tradeable"], f"tradeable share per {unit}", "#222222", width=1.8, max_gap=gap, dots=True
        )
    return chart.render()


def _controls(run: Path, summary: dict[str, Any], folds: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Every KILL/HALT: summary ``kills_and_halts``, else controls.csv files; None when no source exists."""
    events = summary.get("kills_and_halts")
    if events is None and folds and any("kills_and_halts" in f for f in folds):
        events = [e for f in folds for e in f.get("kills_and_halts") or []]
    if events is not None:
        return list(events)
    files = [run / "controls.csv", *sorted((run / "folds").glob("*/controls.csv"))]
    found = [p for p in files if p.exists()]
    if not found:
        return None
    rows: list[dict[str, Any]] = []
    for p in found:
        with p.open(newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def _state_spans(
    run: Path, summary: dict[str, Any], folds: list[dict[str, Any]]
) -> list[tuple[float, float, str]]:
    """(start ms, end ms, state) spans: governance.npz, else each fold's start state and its events."""
    gov = load_npz(run / "governance.npz")
    if gov is not None and len(gov["ts"]):
        ts, state = gov["ts"].astype(np.float64), gov["state"].astype(str)
        change = np.flatnonzero(np.r_[True, state[1:] != state[:-1]])
        ends = np.r_[ts[change[1:]], ts[-1]]
        return [
            (float(a), float(b), str(st)) for a, b, st in zip(ts[change], ends, state[change], strict=True)
        ]
    spans = []
    for f in folds:
        g, d = f.get("governance") or {}, f.get("fold") or {}
        if not g or d.get("test_from") is None:
            continue
        t, st = float(d["test_from"]), str(g.get("start_state", "NORMAL"))
        for e in g.get("events", []):
            if e.get("issuer") == "governance" and e.get("state"):
                spans.append((t, float(e["ts"]), st))
                t, st = float(e["ts"]), str(e["state"])
        spans.append((t, float(d["test_to"]), st))
    return spans


def _events(run: Path, summary: dict[str, Any], folds: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Every governance action and control command: the folds' or the run's views, else kills/halts."""
    parts: list[dict[str, Any]] = [f["governance"] for f in folds if f.get("governance")] or (
        [summary["governance"]] if summary.get("governance") else []
    )
    if parts:
        return [e for p in parts for e in p.get("events", [])]
    return _controls(run, summary, folds)


def governance_timeline(run: Path, summary: dict[str, Any], folds: list[dict[str, Any]]) -> str:
    """Governance state over time (coloured spans), kill/halt markers and the table of events."""
    parts = []
    spans = _state_spans(run, summary, folds)
    events = _events(run, summary, folds)
    if spans:
        c = Chart(
            "Governance state over time (black lines: kill switch, red: HALT)",
            width=1300,
            height=150,
            xkind="date",
            ylim=(0.0, 1.0),
            yticks=False,
        )
        for name, color in STATE_COLORS.items():
            sel = [(a, b) for a, b, st in spans if st == name]
            if sel:
                x0, x1 = np.array(sel).T
                c.rects(x0, x1, np.zeros(len(sel)), np.ones(len(sel)), color, name)
        for e in events or []:
            if e.get("action") in ("KILL", "HALT") and e.get("ts") not in (None, ""):
                c.vline(float(e["ts"]), str(e["action"]), "#000000" if e["action"] == "KILL" else "#c0392b")
        parts.append(c.render())
    kills = _controls(run, summary, folds)
    if kills is not None:
        parts.append(_kill_table(kills))
    if events is None:
        parts.append(
            na("Governance events: not available (no governance records, kills_and_halts or controls.csv).")
        )
    elif not events:
        parts.append("<p>No governance action and no control command in this run.</p>")
    else:
        rows = [
            [
                escape(_iso(e.get("ts"))),
                escape(str(e.get("action", ""))),
                escape(str(e.get("issuer", ""))),
                escape(str(e.get("state") or "")),
                escape(str(e.get("pair") or "all")),
                escape(str(e.get("reason", ""))),
            ]
            for e in events
        ]
        tab = _table(rows, ["time (UTC)", "action", "issuer", "state after", "scope", "reason"])
        counts = ", ".join(f"{a} ×{n}" for a, n in _count(e.get("action", "") for e in events).items())
        parts.append(
            f"<details{' open' if len(rows) <= 12 else ''}><summary>{len(rows)} governance actions and control "
            f"commands ({escape(counts)})</summary>{tab}</details>"
        )
    return "".join(parts)


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[str(x)] = out.get(str(x), 0) + 1
    return out


def _kill_table(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p>No KILL or HALT in this run.</p>"
    rows = [
        [
            escape(str(e.get("time") or _iso(e.get("ts")))),
            escape(str(e.get("action", ""))),
            escape(str(e.get("issuer", ""))),
            escape(str(e.get("reason", ""))),
            escape(
                _iso(e.get("cleared_ts"))
                if e.get("cleared_ts") not in (None, "")
                else "not cleared by the end"
            ),
            escape(str(e.get("cleared_by") or "")),
        ]
        for e in events
    ]
    return "<p>Kills and halts:</p>" + _table(
        rows, ["time (UTC)", "action", "issuer", "reason", "cleared", "cleared by"]
    )


def _flat_rows(data: Any) -> list[dict[str, Any]]:
    """A list of row dicts from a list of dicts or a dict of dicts (key becomes the first column)."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        if all(isinstance(v, dict) for v in data.values()):
            return [{"": k, **v} for k, v in data.items()]
        return [data]
    return []


def generic_table(rows: list[dict[str, Any]]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    body = [
        [escape(fmt(r.get(c)) if not isinstance(r.get(c), str) else r.get(c, "")) for c in cols] for r in rows
    ]
    return _table(body, cols)


def calibration(run: Path, summary: dict[str, Any]) -> str:
    """The fill model's predicted vs realised fill rate and mark-out, when the run has one."""
    st = summary.get("stitched") or {}
    data = next(
        (
            src[k]
            for src in (summary, st)
            for k in ("fill_calibration", "fill_model_calibration", "calibration")
            if src.get(k)
        ),
        None,
    )
    path = run / "fill_calibration.json"
    if data is None and path.exists():
        data = json.loads(path.read_text())
    rows = _flat_rows(data)
    return (
        generic_table(rows)
        if rows
        else na("Fill-model calibration: not available (the run's summary has none).")
    )


def yardstick(run: Path, mine: dict[str, Any]) -> str:
    """The naive yardstick (yardstick.json) beside this run's figures, key by key."""
    path = run / "yardstick.json"
    if not path.exists():
        return na("Naive yardstick: not available (no yardstick.json in the run directory).")
    y = json.loads(path.read_text())
    ys = y.get("stitched") or y.get("summary") or y
    desc = y.get("description") or y.get("rule") or ""
    keys = [
        k
        for k in (
            "return",
            "sharpe",
            "max_drawdown",
            "round_trips",
            "trades",
            "time_in_market",
            "costs_usd",
            "spread_cost_usd",
            "pnl_usd",
        )
        if k in ys
    ]
    kinds = {
        "return": "pct",
        "max_drawdown": "pct0",
        "time_in_market": "pct0",
        "round_trips": "int",
        "trades": "int",
    }
    rows = [
        [
            escape(k),
            fmt(mine.get(k), kinds.get(k, "usd" if k.endswith("usd") else "")),
            fmt(ys.get(k), kinds.get(k, "usd" if k.endswith("usd") else "")),
        ]
        for k in keys
    ]
    head = f"<p>{escape(str(desc))}</p>" if desc else ""
    return head + (_table(rows, ["", "HSLR", "naive yardstick"]) if rows else generic_table(_flat_rows(ys)))
