"""Self-contained HTML tearsheet of a run directory (inline SVG, inline CSS, no JavaScript).

Reads the files listed in :mod:`backtest.artifacts` that are present and renders one section per
topic; a section whose data is missing says which command produces it. A walk-forward run leads with its
stitched out-of-sample figures (:mod:`backtest.report_views`). Section ids (stable, the browser test
checks them): ``summary``, ``equity``, ``folds``, ``pairs``, ``gates``, ``governance``, ``regime``,
``fills``, ``yardstick``, ``ic``, ``stress``, ``latency``, ``shuffle``.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from backtest.artifacts import load_json, load_npz
from backtest.report_timeline import calibration, governance_timeline, regime_chart, yardstick
from backtest.report_views import (
    fold_table,
    pair_table,
    stitched_equity,
    stitched_figures,
    summary_cards,
    waterfall,
)
from backtest.svg import PALETTE, Chart, hbar_table, histogram

GAP_MS = 3 * 3_600_000
"""Hourly series break across gaps longer than this (weekends, holidays) instead of bridging them."""
SECTIONS = (
    "summary",
    "equity",
    "folds",
    "pairs",
    "gates",
    "governance",
    "regime",
    "fills",
    "yardstick",
    "ic",
    "stress",
    "latency",
    "shuffle",
)
CSS = """body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1340px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:26px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:12px}
.chart .ct{font-size:13px;font-weight:600}.chart .tk{font-size:10px;fill:#555}.chart .lg{font-size:10px}
.missing{color:#888;font-style:italic}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.card{border:1px solid #ccc;border-radius:6px;padding:8px 12px;min-width:140px;background:#fafafa}
.cl{font-size:11px;color:#555;text-transform:uppercase;letter-spacing:.03em}.cv{font-size:22px;font-weight:600;margin:2px 0}
.cn{font-size:11px;color:#666}"""
FOLD_COLUMNS = (
    "fold",
    "return",
    "pnl_usd",
    "sharpe",
    "sortino",
    "max_drawdown",
    "ic",
    "fills",
    "trades",
    "time_in_market",
    "regime_tradeable_share",
    "signals_passed",
    "time_under_water",
    "turnover_per_day",
    "days",
)
"""Per-fold table columns, in this order, when present (walk-forward ``result.json`` scalars)."""
SUMMARY_KEYS = (
    "run_id",
    "engine",
    "bars_processed",
    "orders_new",
    "fills",
    "trades",
    "pnl_usd",
    "return",
    "sharpe",
    "max_drawdown",
    "time_in_market",
    "regime_tradeable_share",
    "signals_passed",
    "kill_switch",
    "triggers_fired",
    "calendar",
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in v.items()) or "—"
    return "—" if v is None else str(v)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """An HTML table of ``rows`` (dicts) over ``columns`` (default: keys of the first row)."""
    if not rows:
        return ""
    cols = columns or list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{body}</section>'


def _missing(what: str) -> str:
    return f'<p class="missing">{escape(what)}</p>'


def _throttle_levels(config: dict[str, Any]) -> list[tuple[float, float]]:
    from streams.config import build_config

    try:
        return [(dd, m) for dd, m in build_config(config or {}).trader.risk.throttle_levels]
    except Exception:  # noqa: BLE001 - a config from an older code version still gets a report
        return [(0.03, 0.5), (0.05, 0.25)]


def _equity(run: Path, levels: list[tuple[float, float]]) -> str:
    eq = load_npz(run / "equity.npz")
    if eq is None or not len(eq["ts"]):
        return _missing("no equity.npz (written by hslr backtest/demo; or the run never held a position)")
    c1 = Chart("Equity (USD)", width=660).line(eq["ts"], eq["equity"], "equity", step=True)
    c2 = Chart("Drawdown (throttle levels dashed)", width=660, ykind="pct")
    c2.band(eq["ts"], np.zeros(len(eq["ts"])), eq["drawdown"], PALETTE[1], 0.35, "drawdown")
    for lv, mult in levels:
        c2.hline(lv, f"{lv:.0%} → ×{mult:g}")
    return f'<div class="grid">{c1.render()}{c2.render()}</div>'


def load_folds(run: Path) -> list[dict[str, Any]]:
    """The folds' ``result.json`` documents in fold order (daily returns included)."""
    paths = sorted((run / "folds").glob("*/result.json"), key=lambda p: (len(p.parent.name), p.parent.name))
    out = []
    for path in paths:
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            out.append({**data, "_dir": path.parent.name})
    return out


def _folds(run: Path) -> tuple[str, list[dict[str, Any]]]:
    rows = []
    for path in sorted(
        (run / "folds").glob("*/result.json"), key=lambda p: (len(p.parent.name), p.parent.name)
    ):
        data = json.loads(path.read_text())
        flat: dict[str, Any] = {"fold": path.parent.name}
        for k, v in data.items() if isinstance(data, dict) else []:
            if isinstance(v, int | float | str | bool) or v is None:
                flat[k] = v
            elif isinstance(v, dict):  # one level of nesting (e.g. "summary": {...})
                flat.update({f"{k}.{a}": b for a, b in v.items() if isinstance(b, int | float | bool)})
        rows.append(flat)
    if not rows:
        return _missing("no folds/<k>/result.json (walk-forward runs write them)"), rows
    seen = list(dict.fromkeys(k for r in rows for k in r))
    cols = [k for k in FOLD_COLUMNS if k in seen] or seen[:14]
    return table(rows, cols), rows


def _ic(run: Path, folds: list[dict[str, Any]]) -> str:
    gov = load_npz(run / "governance.npz")
    parts = []
    if gov is not None and len(gov["ts"]):
        c = Chart("Rolling IC of expected vs realised return (governance)", width=660)
        c.line(gov["ts"], gov["ic"], "IC", step=True).hline(0.0, "0", "#888")
        parts.append(c.render())
    ic_key = next((k for k in ("ic", "summary.ic", "oos_ic") if folds and any(k in r for r in folds)), None)
    if ic_key:
        vals = [float(r.get(ic_key) or np.nan) for r in folds]
        parts.append(
            Chart("IC per fold", width=660, xkind="num")
            .line(np.arange(len(vals)), vals, ic_key, dots=True)
            .hline(0.0, "0", "#888")
            .render()
        )
    return f'<div class="grid">{"".join(parts)}</div>' if parts else _missing("no governance.npz / fold IC")


def _stress(run: Path) -> str:
    s = load_json(run / "stress.json")
    if not s:
        return _missing("no stress.json — run: hslr stress " + run.name)
    grid, eq = np.asarray(s["grid_ts"], dtype=np.float64), np.asarray(s["equity"], dtype=np.float64)
    fan = Chart(f"Monte Carlo spread stress: equity fan ({s['n']} scenarios)", width=660)
    if eq.size:
        q = np.nanquantile(eq, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        fan.band(grid, q[0], q[4], PALETTE[0], 0.15, "5–95%").band(
            grid, q[1], q[3], PALETTE[0], 0.3, "25–75%"
        )
        fan.line(grid, q[2], "median", PALETTE[0])
    fan.line(grid, s["baseline_equity"], "unshocked", "#222", dash="4,2")
    hist = histogram(
        [np.nan if v is None else v for v in s["scenarios"]["max_drawdown"]],
        "Max drawdown per scenario (breach levels marked)",
        markers=[(float(k), f"{float(k):.0%}") for k in s["breach"]],
        xkind="pct",
        width=660,
    )
    qs = [{"metric": m, **v} for m, v in s["quantiles"].items()]
    br = [{"drawdown level": f"{float(k):.0%}", "P(max drawdown ≥ level)": v} for k, v in s["breach"].items()]
    shock = ", ".join(f"{k}={v}" for k, v in s["shock"].items())
    return (
        f'<div class="grid">{fan.render()}{hist}</div><p>Shock: {escape(shock)}; seed {s["seed"]}.</p>'
        f"{table(br)}{table(qs)}<p>Unshocked replay:</p>{table([s['baseline']])}"
    )


def _latency(run: Path) -> str:
    lat = load_json(run / "latency.json")
    if not lat:
        return _missing("no latency.json — run: hslr latency " + run.name)
    curve = lat["curve"]
    x = np.array([p["latency_ms"] for p in curve], dtype=np.float64) / 1000.0

    def col(k: str) -> np.ndarray:
        return np.array([np.nan if p[k] is None else p[k] for p in curve], dtype=np.float64)

    c1 = Chart("PnL (USD) vs order latency (s)", width=440, xkind="num").line(
        x, col("pnl_usd"), "PnL", dots=True
    )
    c2 = Chart("Sharpe vs latency (s)", width=440, xkind="num").line(
        x, col("sharpe"), "Sharpe", PALETTE[3], dots=True
    )
    c3 = Chart("Fill rate vs latency (s)", width=440, xkind="num", ykind="pct", ylim=(0.0, 1.0))
    c3.line(x, col("fill_rate"), "fill rate", PALETTE[2], dots=True)
    cols = [
        "latency_ms",
        "pnl_usd",
        "sharpe",
        "max_drawdown",
        "fill_rate",
        "mean_fill_delay_min",
        "orders_new",
    ]
    extra = ""
    if lat.get("distribution"):
        d = lat["distribution"]
        extra = (
            f"<p>Distribution {escape(d['spec'])}: strata {d['strata_ms']} ms → expected "
            f"{escape(_fmt(d['expected']))}</p>"
        )
    note = (
        "<p>1-minute bars: an order decided at a bar close can fill from the bar opening L later, so only "
        "ceil(L / 1 min) matters; orders unfilled after execution.replace_after_min are re-posted.</p>"
    )
    return f'<div class="grid">{c1.render()}{c2.render()}{c3.render()}</div>{note}{table(curve, cols)}{extra}'


def _shuffle_parts(sh: dict[str, Any]) -> tuple[str, Any, list[Any], Any, str]:
    """(metric, real, null sample, p-value, extra text) from either shuffle.json layout: the simple
    ``{"metric", "real", "shuffled", "p_value"}`` or ``hslr shuffle``'s ``{"block_shuffle": {"real": {...},
    "shuffled": [{...}], "p_value"}, "signal_permutation": {...}}`` (stitched return is its primary statistic)."""
    extra = ""
    perm = sh.get("signal_permutation")
    if isinstance(perm, dict):
        extra = (
            f"<p>Signal permutation: statistic {escape(_fmt(perm.get('statistic')))}, p-value "
            f"{escape(_fmt(perm.get('p_value')))} ({escape(_fmt(perm.get('n_perm')))} permutations)</p>"
        )
    block = sh.get("block_shuffle")
    if isinstance(block, dict):
        null = [r.get("return") for r in block.get("shuffled", [])]
        return "stitched return", (block.get("real") or {}).get("return"), null, block.get("p_value"), extra
    null = next((sh[k] for k in ("shuffled", "null", "samples", "distribution") if k in sh), [])
    return (
        str(sh.get("metric", "statistic")),
        sh.get("real", sh.get("observed")),
        null,
        sh.get("p_value"),
        extra,
    )


def _shuffle(run: Path) -> str:
    sh = load_json(run / "shuffle.json")
    if not sh:
        return _missing("no shuffle.json (shuffle test results)")
    metric, real, null, p, extra = _shuffle_parts(sh)
    head = f"<p>Real {escape(metric)}: {escape(_fmt(real))}; p-value {escape(_fmt(p))}</p>{extra}"
    if not null:
        return head
    return head + histogram(
        [np.nan if v is None else v for v in null],
        f"Shuffle test: {metric} under the null",
        markers=[] if real is None else [(float(real), "real")],
    )


def _summary_table(summary: dict[str, Any], walk: bool) -> str:
    if walk:
        return ""
    return table([{k: summary.get(k) for k in SUMMARY_KEYS if k in summary}])


def render_report(run_dir: str | Path) -> str:
    """The tearsheet HTML of ``run_dir`` (needs at least summary.json)."""
    run = Path(run_dir)
    summary = load_json(run / "summary.json")
    if summary is None:
        raise FileNotFoundError(f"{run}/summary.json not found: not a run directory")
    config = load_json(run / "config.json") or {}
    summary = {**(load_json(run / "views.json") or {}), **summary}
    _, folds = _folds(run)
    full = load_folds(run)
    levels = _throttle_levels(config)
    gates = summary.get("gates_blocked") or {}
    flow = waterfall(summary, full)
    if not flow:
        flow = (
            hbar_table(gates, "Bars blocked per gate (a bar blocked by several counts for each)")
            if gates
            else _missing("no gate counts in summary.json")
        )
    walk = "stitched" in summary or any((f.get("daily") or {}).get("ret") for f in full)
    equity = stitched_equity(full, levels) if walk else _equity(run, levels)
    body = [
        _section("summary", "Summary", summary_cards(summary, full, run) + _summary_table(summary, walk)),
        _section("equity", "Out-of-sample equity and drawdown" if walk else "Equity and drawdown", equity),
        _section("folds", "Walk-forward folds", fold_table(full)),
        _section("pairs", "Per pair", pair_table(summary, full)),
        _section("gates", "Why signals did not become trades", flow),
        _section("governance", "Governance and kill switch", governance_timeline(run, summary, full)),
        _section("regime", "Regime shares and tradeable share", regime_chart(run, full)),
        _section("fills", "Fill-model calibration", calibration(run, summary)),
        _section(
            "yardstick",
            "Naive yardstick",
            yardstick(run, stitched_figures(summary, full, run) if walk else summary),
        ),
        _section("ic", "Information coefficient over time", _ic(run, folds)),
        _section("stress", "Monte Carlo spread stress", _stress(run)),
        _section("latency", "Latency degradation", _latency(run)),
        _section("shuffle", "Shuffle test", _shuffle(run)),
    ]
    title = f"HSLR tearsheet — {summary.get('run_id', run.name)}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{''.join(body)}</body></html>"
    )


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the tearsheet to ``out`` (default ``<run_dir>/report.html``); return its path."""
    path = Path(out) if out else Path(run_dir) / "report.html"
    path.write_text(render_report(run_dir), encoding="utf-8")
    return path
