"""Tearsheet sections a quant reads first: the summary box, stitched equity, folds, pairs, the gate
waterfall, governance and kills, fill-model calibration and the naive yardstick.

Inputs are whatever the run directory holds (see :mod:`backtest.artifacts`): ``summary.json`` (a
walk-forward's has ``stitched``), ``folds/<k>/result.json`` (each with its ``daily`` returns),
``governance.npz``, ``controls.csv``, ``yardstick.json``, ``search.json``. What a file lacks is computed
from the stitched out-of-sample daily returns; what cannot be computed is shown as "not available".
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from backtest import stats
from backtest.svg import PALETTE, Chart

DAY_MS = 86_400_000
ANNUAL = 260.0
STATE_COLORS = {
    "NORMAL": "#cfe8cf",
    "REDUCED": "#f6e3a1",
    "SUSPENDED": "#f5b971",
    "HALTED": "#e8705f",
    "DECOMMISSIONED": "#444444",
}
REGIME_COLORS = (("Stable_Flow", "#7fb77e"), ("Directional_Vol", "#f0a35e"), ("Event_Risk", "#d9534f"))


def na(what: str) -> str:
    return f'<p class="missing">{escape(what)}</p>'


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def fmt(v: Any, kind: str = "") -> str:
    """Format a figure: ``pct``, ``usd``, ``int``, ``x`` (2 decimals) or plain."""
    f = _num(v)
    if v is None or isinstance(v, str) or not math.isfinite(f):
        return "—" if v is None or (not isinstance(v, str) and not math.isfinite(f)) else escape(str(v))
    if kind == "pct":
        return f"{f:+.2%}" if abs(f) < 10 else f"{f:+.0%}"
    if kind == "pct0":
        return f"{f:.1%}"
    if kind == "usd":
        return f"{f:,.0f}"
    if kind == "int":
        return f"{f:,.0f}"
    return f"{f:.2f}"


def _table(rows: list[list[str]], head: list[str], cls: str = "") -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><tr>{h}</tr>{b}</table>'


# -- stitched out-of-sample returns -------------------------------------------------------------------
def stitched_daily(folds: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(day start ms, daily return) of the folds' test windows in order."""
    days = [d for f in folds for d in (f.get("daily") or {}).get("day", [])]
    rets = [r for f in folds for r in (f.get("daily") or {}).get("ret", [])]
    return np.asarray(days, dtype=np.int64) * DAY_MS, np.asarray(rets, dtype=np.float64)


def _search(run: Path) -> dict[str, Any]:
    import json

    path = run / "search.json"
    return json.loads(path.read_text()) if path.exists() else {}


def stitched_figures(summary: dict[str, Any], folds: list[dict[str, Any]], run: Path) -> dict[str, Any]:
    """The walk-forward's headline figures: from ``summary["stitched"]`` where present, else computed
    from the stitched daily returns. DSR counts ``n_trials`` configurations (summary or search.json;
    1 when neither says: DSR is then the PSR against 0)."""
    st = dict(summary.get("stitched") or {})
    _, r = stitched_daily(folds)
    eq = np.cumprod(np.r_[1.0, 1.0 + r]).astype(np.float64) if len(r) else np.ones(1)
    search = _search(run)
    n_trials = int(summary.get("n_trials") or search.get("n_configs") or 1)
    sr = stats.sharpe(r) if len(r) > 2 else math.nan
    skew, kurt = stats.moments(r) if len(r) > 2 else (0.0, 3.0)
    var = float((search.get("dsr") or {}).get("sr_variance") or 0.0)
    dsr = summary.get("dsr", st.get("dsr"))
    if dsr is None and math.isfinite(sr):
        dsr = stats.deflated_sharpe(sr, len(r), skew, kurt, var, n_trials)
    ci = st.get("sharpe_ci95")
    if ci is None and len(r) > 2:
        ci = list(
            stats.bootstrap_sharpe_ci(r, np.random.default_rng(0), n_boot=1000, periods_per_year=ANNUAL)
        )
    pbo = summary.get("pbo", st.get("pbo"))
    pbo = pbo if pbo is not None else (search.get("pbo") or {}).get("pbo")
    pairs = st.get("per_pair") or {}
    trips = sum(int(v.get("round_trips", 0)) for v in pairs.values()) if pairs else st.get("trades")
    return {
        "return": st.get("return", float(eq[-1] - 1.0)),
        "sharpe": st.get("sharpe", sr * math.sqrt(ANNUAL) if math.isfinite(sr) else None),
        "sharpe_ci95": ci,
        "dsr": dsr,
        "n_trials": n_trials,
        "pbo": pbo,
        "max_drawdown": st.get("max_drawdown_daily", stats.max_drawdown(eq)),
        "max_drawdown_intraday": max((_num(f.get("max_drawdown")) for f in folds), default=math.nan),
        "round_trips": trips,
        "time_in_market": st.get("time_in_market"),
        "spread_cost_usd": st.get("spread_cost_usd", sum(_num(f.get("spread_cost_usd")) for f in folds)),
        "fill_bar_cost_usd": st.get(
            "fill_bar_cost_usd", sum(_num(f.get("fill_bar_cost_usd")) for f in folds)
        ),
        "commission_usd": st.get("commission_usd", sum(_num(f.get("commission_usd")) for f in folds)),
        "fills": st.get("fills"),
        "days": st.get("days", len(r)),
        "mean_ic": st.get("mean_ic"),
    }


def _card(label: str, value: str, note: str = "") -> str:
    sub = f'<div class="cn">{escape(note)}</div>' if note else ""
    return f'<div class="card"><div class="cl">{escape(label)}</div><div class="cv">{value}</div>{sub}</div>'


def summary_cards(summary: dict[str, Any], folds: list[dict[str, Any]], run: Path) -> str:
    """The summary box: stitched figures of a walk-forward, the run's own of a single backtest."""
    if "stitched" in summary or folds:
        s = stitched_figures(summary, folds, run)
        ci = s["sharpe_ci95"] or [None, None]
        cards = [
            _card("Return (stitched OOS)", fmt(s["return"], "pct"), f"{s['days']} days, {len(folds)} folds"),
            _card("Sharpe", fmt(s["sharpe"]), f"95% CI {fmt(ci[0])} … {fmt(ci[1])}"),
            _card(
                "Deflated Sharpe",
                fmt(s["dsr"]),
                f"{s['n_trials']} configuration(s) counted"
                + (" (= P(SR > 0))" if s["n_trials"] == 1 else ": P(SR > best of N null trials)"),
            ),
            _card("PBO", fmt(s["pbo"]) if s["pbo"] is not None else "n/a", "needs hslr search (CSCV)"),
            _card(
                "Max drawdown",
                fmt(s["max_drawdown"], "pct0"),
                f"daily; intraday {fmt(s['max_drawdown_intraday'], 'pct0')}",
            ),
            _card("Round trips", fmt(s["round_trips"], "int"), f"fills {fmt(s['fills'], 'int')}"),
            _card("Time in market", fmt(s["time_in_market"], "pct0"), "share of minutes with a position"),
            _card(
                "Execution cost (USD)",
                fmt(s["fill_bar_cost_usd"], "usd"),
                f"fills vs fill-bar mid; vs arrival mid {fmt(s['spread_cost_usd'], 'usd')}; "
                f"commission {fmt(s['commission_usd'], 'usd')} assumed, not in PnL",
            ),
        ]
    else:
        trips = summary.get("trades")
        cards = [
            _card(
                "Return", fmt(summary.get("return"), "pct"), f"PnL {fmt(summary.get('pnl_usd'), 'usd')} USD"
            ),
            _card("Sharpe", fmt(summary.get("sharpe")), "daily closes, annualised"),
            _card("Max drawdown", fmt(summary.get("max_drawdown"), "pct0")),
            _card(
                "Orders / fills",
                f"{fmt(summary.get('orders_new'), 'int')} / {fmt(summary.get('fills'), 'int')}",
            ),
            _card("Trades", fmt(trips, "int")),
            _card("Time in market", fmt(summary.get("time_in_market"), "pct0")),
            _card("Kill switch", "yes" if summary.get("kill_switch") else "no", _triggers(summary)),
        ]
    head = f"<p>Run <b>{escape(str(summary.get('run_id', run.name)))}</b>, engine {escape(str(summary.get('engine', '—')))}"
    code = summary.get("code_version")
    return (
        f'{head}{", code " + escape(str(code)) if code else ""}.</p><div class="cards">{"".join(cards)}</div>'
    )


def _triggers(summary: dict[str, Any]) -> str:
    t = summary.get("triggers_fired") or {}
    return ", ".join(f"{k} ×{v}" for k, v in t.items()) if t else "no governance triggers"


def stitched_equity(folds: list[dict[str, Any]], levels: list[tuple[float, float]]) -> str:
    """Stitched out-of-sample equity (compounded daily) and its drawdown with the throttle levels."""
    ts, r = stitched_daily(folds)
    if not len(r):
        return na("no daily returns in folds/*/result.json")
    eq = np.cumprod(1.0 + r)
    dd = 1.0 - eq / np.maximum.accumulate(np.maximum(eq, 1.0))
    c1 = Chart("Stitched out-of-sample equity (start = 1)", width=660, xkind="day").line(
        ts, eq, "equity", step=True
    )
    for f in folds[1:]:
        start = (f.get("fold") or {}).get("test_from")
        if start is not None:
            c1.vline(float(start), "", "#bbbbbb")
    c2 = Chart(
        "Drawdown from the high-water mark (throttle levels dashed)", width=660, xkind="day", ykind="pct"
    )
    c2.band(ts, np.zeros(len(ts)), dd, PALETTE[1], 0.35, "drawdown")
    for lv, mult in levels:
        c2.hline(lv, f"{lv:.0%} → size ×{mult:g}")
    return f'<div class="grid">{c1.render()}{c2.render()}</div>'


def _day(iso: Any) -> str:
    return str(iso)[:10] if iso else "—"


def fold_table(folds: list[dict[str, Any]]) -> str:
    """One row per fold with its train and test dates."""
    if not folds:
        return na("no folds/<k>/result.json (walk-forward runs write them)")
    rows = []
    for i, f in enumerate(folds):
        d = f.get("fold") or {}
        trips = (
            sum(int(v.get("round_trips", 0)) for v in (f.get("per_pair") or {}).values())
            if f.get("per_pair")
            else f.get("trades")
        )
        rows.append(
            [
                str(d.get("k", f.get("k", i))),
                f"{_day(d.get('train_from_iso'))} → {_day(d.get('train_to_iso'))}",
                f"{_day(d.get('test_from_iso'))} → {_day(d.get('test_to_iso'))}",
                fmt(f.get("return"), "pct"),
                fmt(f.get("sharpe")),
                fmt(f.get("max_drawdown"), "pct0"),
                fmt(trips, "int"),
                fmt(f.get("fills"), "int"),
                fmt(f.get("time_in_market"), "pct0"),
                fmt(f.get("ic")),
                fmt(f.get("fill_bar_cost_usd"), "usd"),
            ]
        )
    head = [
        "fold",
        "train",
        "test",
        "return",
        "Sharpe",
        "max DD",
        "round trips",
        "fills",
        "in market",
        "IC",
        "exec. cost USD",
    ]
    return _table(rows, head)


def pair_table(summary: dict[str, Any], folds: list[dict[str, Any]]) -> str:
    """Per pair: round trips, win rate, realised PnL, mean holding time, fills (stitched over folds)."""
    from backtest.fold_metrics import add_per_pair

    pairs = (summary.get("stitched") or {}).get("per_pair") or summary.get("per_pair")
    if not pairs and folds:
        pairs = add_per_pair([f.get("per_pair") for f in folds])
    if not pairs:
        return na("not available: no per-pair figures in summary.json or the folds")
    rows = []
    for p, v in sorted(pairs.items()):
        n = int(v.get("round_trips", 0))
        rows.append(
            [
                escape(p),
                fmt(n, "int"),
                fmt(v.get("won", 0) / n, "pct0") if n else "—",
                fmt(v.get("pnl_usd"), "usd"),
                fmt(_num(v.get("pnl_usd")) / n, "usd") if n else "—",
                fmt(_num(v.get("minutes")) / n, "int") if n else "—",
                fmt(v.get("fills"), "int"),
            ]
        )
    return _table(
        rows, ["pair", "round trips", "won", "realised PnL USD", "per trip USD", "mean minutes", "fills"]
    )


def waterfall(summary: dict[str, Any], folds: list[dict[str, Any]]) -> str:
    """Why signals did not become trades: bars leave at their first blocking gate."""
    from backtest.waterfall import add_waterfalls

    w = (summary.get("stitched") or {}).get("gate_waterfall") or summary.get("gate_waterfall")
    if not w and folds:
        w = add_waterfalls([f.get("gate_waterfall") for f in folds])
    if not w:
        return ""
    bars = int(w["bars"])
    steps = [(g, int(n)) for g, n in w["blocked"].items() if n]
    width, row, left = 1000, 24, 230
    top, plot = 34, width - left - 120
    items = [("bars scored", bars, 0, bars)]
    level = bars
    for g, n in steps:
        items.append((f"− {g}", n, level - n, level))
        level -= n
    items.append(("passed every gate", int(w["passed"]), 0, int(w["passed"])))
    height = top + row * len(items) + 10

    def sx(v: float) -> float:
        return left + plot * v / max(bars, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="gate waterfall">',
        '<text x="8" y="18" class="ct">Bars leaving at their first blocking gate (edge engine order)</text>',
    ]
    for i, (label, n, lo, hi) in enumerate(items):
        y = top + i * row
        color = PALETTE[0] if i in (0, len(items) - 1) else PALETTE[1]
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="tk">{escape(label)}</text>'
            f'<rect x="{sx(lo):.1f}" y="{y + 3}" width="{max(sx(hi) - sx(lo), 1):.1f}" height="{row - 7}" fill="{color}"/>'
            f'<text x="{sx(hi) + 5:.1f}" y="{y + 15}" class="tk">{n:,} ({n / max(bars, 1):.1%})</text>'
        )
    parts.append("</svg>")
    after = [
        ["passed every gate", fmt(w["passed"], "int")],
        ["kept out by governance (state not NORMAL/REDUCED)", fmt(w.get("governance"), "int")],
    ]
    after += [[f"risk engine: {escape(k)}", fmt(v, "int")] for k, v in sorted((w.get("risk") or {}).items())]
    after += [
        ["entry orders posted", fmt(w.get("entry_orders"), "int")],
        ["entry orders filled", fmt(w.get("entry_fills"), "int")],
        ["round trips closed", fmt(w.get("round_trips"), "int")],
    ]
    note = "<p>After the gates the trader decides per minute and works orders: counts below are minutes, orders and trips, not bars.</p>"
    return "".join(parts) + note + _table(after, ["step", "count"])
