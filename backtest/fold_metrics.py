"""Out-of-sample metrics of one replayed test window, from the pipeline's own topics.

Only records with ``test_from <= ts < test_to`` are scored (the warm-up prefix is replayed but not
scored). Definitions:

* **Equity / returns**: account rows (``pair == ""``) of ``portfolio``. The window starts at the last
  account equity before ``test_from`` (initial equity when none); a position opened in the warm-up
  prefix is carried in and only its PnL from ``test_from`` on counts, as in a live continuation.
  Daily returns: UTC-day closes over the days that have bars, equity forward-filled (the account
  rows are emitted only while a position is open; flat equity does not move).
* **Sharpe / Sortino**: of the daily returns, annualised with sqrt(260).
* **Max drawdown**: on every account row of the window (intraday). **Time under water**: share of
  days whose close is below the running peak, and the longest such run (days).
* **Hit rate**: share of fills that realised PnL (``realized_pnl_usd != 0``) with a profit.
* **Turnover**: traded USD notional / initial equity, per day.
* **Costs paid** (from the execution reports with ``last_qty > 0``): ``spread_cost_usd`` =
  Σ side × (fill price − arrival mid) × qty × quote→USD, the arrival mid being the mid of the order's
  decision bar (its ``NEW`` report): half-spread crossed plus price drift while working, negative when
  the passive limit inside the spread earned part of the spread. ``fill_bar_cost_usd`` is the same
  against the mid of the filling bar (adds adverse selection: a limit fills when price comes through
  it). Fills are those whose report falls in the window; the paper broker charges no
  commission, so ``commission_usd`` is the edge model's assumed ``commission_bps`` per leg on the
  traded notional (reported, not deducted from equity).
* **Fraction tradeable**: share of the window's governed signals with ``tradeable``.
* **IC**: Spearman rank correlation of ``expected_return`` with the realised mean-reversion trade
  return over ``horizon_min`` (:func:`streams.stages.edge.targets.forward_trade_returns`) on ready rows;
  rows whose exit falls after the replayed data are left out.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from backtest import stats
from backtest.waterfall import add_waterfalls
from streams.core.batch import Batch
from streams.core.units import F64, MINUTE_MS

DAY_MS = 86_400_000
ANNUAL = 260.0


def daily_equity(
    portfolio: Batch, days: npt.NDArray[np.int64], test_from: int, initial: float
) -> tuple[float, F64]:
    """(start equity, equity close of each UTC day index in ``days``) from the account rows."""
    if portfolio.n:
        acct = portfolio["pair"] == ""
        ts, eq = portfolio["ts"][acct], portfolio["equity_usd"][acct]
    else:
        ts, eq = np.zeros(0, np.int64), np.zeros(0)
    order = np.argsort(ts, kind="stable")
    ts, eq = ts[order], eq[order]
    before = np.flatnonzero(ts < test_from)
    start = float(eq[before[-1]]) if len(before) else initial
    j = np.searchsorted(ts, (days + 1) * DAY_MS, side="left") - 1  # last row before each day's end
    jc = np.clip(j, 0, None)
    inside = (j >= 0) & (ts[jc] >= test_from) if len(ts) else np.zeros(len(days), bool)
    closes = np.where(inside, eq[jc] if len(eq) else start, start)
    return start, closes.astype(np.float64)


def _usd_notional(pair: npt.NDArray[Any], qty: F64, price: F64, rate: F64) -> F64:
    base_usd = np.array([str(p)[:3] == "USD" for p in pair], dtype=bool)
    return np.where(base_usd, np.abs(qty), np.abs(qty) * price * rate)


def _mid_lookup(signals: Batch) -> tuple[dict[tuple[str, int], float], dict[str, tuple[F64, F64]]]:
    exact = dict(
        zip(
            zip(signals["pair"].tolist(), signals["ts"].tolist(), strict=True),
            signals["mid"].tolist(),
            strict=True,
        )
    )
    series = {}
    for p in np.unique(signals["pair"]).tolist():
        m = signals["pair"] == p
        series[p] = (signals["ts"][m], signals["mid"][m])
    return exact, series


def _quote_rate(pair: str, ts: int, series: dict[str, tuple[F64, F64]]) -> float:
    quote = pair[3:]
    if quote == "USD":
        return 1.0
    for other, invert in (("USD" + quote, True), (quote + "USD", False)):
        if other in series:
            t, m = series[other]
            i = max(int(np.searchsorted(t, ts, side="right")) - 1, 0)
            return float(1.0 / m[i] if invert else m[i])
    return float("nan")


def fill_costs(
    fills: Batch, signals: Batch, commission_bps: float, start: int = 0, end: int = 2**62
) -> dict[str, Any]:
    """Traded notional, spread cost and assumed commission (USD) of the executed fills reported in
    ``[start, end)`` (see module docs); ``fills`` holds every report (orders decided earlier included)."""
    decided = {
        c: t
        for c, t, s in zip(
            fills["client_order_id"].tolist(), fills["ts"].tolist(), fills["status"].tolist(), strict=True
        )
        if s == "NEW"
    }
    fills = window(fills, start, end)
    if fills.n == 0:
        return {
            "fills": 0,
            "notional_usd": 0.0,
            "spread_cost_usd": 0.0,
            "fill_bar_cost_usd": 0.0,
            "commission_usd": 0.0,
            "hit_rate": None,
        }
    ex = fills.take(fills["last_qty"] > 0)
    exact, series = _mid_lookup(signals)
    pairs, ts = ex["pair"].tolist(), ex["ts"].tolist()
    arrival = np.array(
        [
            exact.get((p, decided.get(c, t) - MINUTE_MS), np.nan)
            for p, t, c in zip(pairs, ts, ex["client_order_id"].tolist(), strict=True)
        ]
    )
    mid = np.array([exact.get((p, t - MINUTE_MS), np.nan) for p, t in zip(pairs, ts, strict=True)])
    rate = np.array([_quote_rate(p, t, series) for p, t in zip(pairs, ts, strict=True)])
    notional = _usd_notional(ex["pair"], ex["last_qty"], ex["last_price"], rate)
    spread = ex["side"] * (ex["last_price"] - arrival) * ex["last_qty"] * rate
    markout = ex["side"] * (ex["last_price"] - mid) * ex["last_qty"] * rate
    realised = fills["realized_pnl_usd"][fills["realized_pnl_usd"] != 0]
    return {
        "fills": int(ex.n),
        "notional_usd": float(np.nansum(notional)),
        "spread_cost_usd": float(np.nansum(spread)),
        "fill_bar_cost_usd": float(np.nansum(markout)),
        "commission_usd": float(np.nansum(notional) * commission_bps * 1e-4),
        "hit_rate": float((realised > 0).mean()) if len(realised) else None,
    }


def window(batch: Batch, start: int, end: int) -> Batch:
    return batch.take((batch["ts"] >= start) & (batch["ts"] < end)) if batch.n else batch


def fold_metrics(
    out: dict[str, Batch],
    test_from: int,
    test_to: int,
    *,
    initial_equity: float,
    horizon_min: int,
    commission_bps: float,
) -> dict[str, Any]:
    """Metrics of one test window (module docstring) plus ``daily`` = {"day": [...], "ret": [...]}."""
    from streams.stages.edge.targets import forward_trade_returns

    sig_all = out["signals.governed"]
    sig = window(sig_all, test_from, test_to)
    days = np.unique(sig["ts"] // DAY_MS) if sig.n else np.zeros(0, np.int64)
    start, closes = daily_equity(out["portfolio"], days, test_from, initial_equity)
    path = np.r_[start, closes]
    rets = np.diff(path) / path[:-1]
    port = window(out["portfolio"], test_from, test_to)
    acct_eq = port["equity_usd"][port["pair"] == ""] if port.n else np.zeros(0)
    realised = (
        forward_trade_returns(
            sig_all["pair"], sig_all["ts"], sig_all["mid"], sig_all["displacement"], horizon_min
        )
        if sig_all.n
        else np.zeros(0)
    )
    in_win = (
        (sig_all["ts"] >= test_from) & (sig_all["ts"] < test_to) & sig_all["ready"] if sig_all.n else None
    )
    tuw, longest = stats.time_under_water(path)
    extra = views(out, sig, test_from, test_to)
    costs = fill_costs(out["fills"], sig_all, commission_bps, test_from, test_to)
    n_days = max(len(days), 1)
    return {
        "equity_start": start,
        "equity_end": float(path[-1]),
        "return": float(path[-1] / start - 1.0),
        "pnl_usd": float(path[-1] - start),
        "sharpe": stats.sharpe(rets, ANNUAL),
        "sortino": stats.sortino(rets, ANNUAL),
        "max_drawdown": stats.max_drawdown(np.r_[start, acct_eq]),
        "time_under_water": tuw,
        "longest_under_water_days": longest,
        "turnover_per_day": costs["notional_usd"] / initial_equity / n_days,
        **costs,
        **extra,  # the tearsheet's views; the blotter's round trips and exposure below take precedence
        **_trips_and_exposure(out, test_from, test_to, initial_equity),
        "regime_tradeable_share": float(sig["tradeable"].mean()) if sig.n else 0.0,
        "signals_passed": int(sig["passed"].sum()) if sig.n else 0,
        "ic": stats.spearman_ic(sig_all["expected_return"][in_win], realised[in_win]) if sig_all.n else None,
        "bars_scored": int(sig.n),
        "days": int(len(days)),
        "daily": {"day": days.tolist(), "ret": rets.tolist()},
    }


def views(out: dict[str, Batch], sig: Batch, start: int, end: int) -> dict[str, Any]:
    """The tearsheet's views of the window: gate waterfall and daily regime shares."""
    from backtest.attribution import round_trips
    from backtest.waterfall import gate_waterfall, regime_daily

    orders, fills = window(out["orders"], start, end), out["fills"]
    trips = round_trips(fills)
    inside = (trips["exit_ts"] >= start) & (trips["exit_ts"] < end)
    return {
        "gate_waterfall": gate_waterfall(
            sig, orders, window(fills, start, end), int(inside.sum()), window(out["risk.targets"], start, end)
        ),
        "regime_daily": regime_daily(sig),
        "per_pair": per_pair({k: v[inside] for k, v in trips.items()}, window(fills, start, end)),
        "time_in_market": _time_in_market(window(out["portfolio"], start, end), sig),
        "governance": governance_events(out.get("governance"), out.get("control"), start, end),
        "minutes": int(len(np.unique(sig["ts"]))) if sig.n else 0,
    }


def governance_events(gov: Batch | None, control: Batch | None, start: int, end: int) -> dict[str, Any]:
    """Governance state at ``start`` and every governance action and non-governance control command
    (KILL, operator HALT/RESUME, watchdog) in ``[start, end)``, in time order."""
    events: list[dict[str, Any]] = []
    first = "NORMAL"
    if gov is not None and gov.n:
        before = gov.take(gov["ts"] < start)
        first = str(before["state"][-1]) if before.n else str(gov["state"][0])
        g = window(gov, start, end)
        g = g.take(~np.isin(g["action"], ["", "NONE"])) if g.n else g
        for r in g.to_records() if g.n else []:
            events.append(
                {
                    "ts": int(r["ts"]),
                    "action": str(r["action"]),
                    "issuer": "governance",
                    "state": str(r["state"]),
                    "pair": "",
                    "reason": str(r["reason"]),
                }
            )
    if control is not None and control.n:
        c = window(control, start, end)
        c = c.take(c["issuer"] != "governance") if c.n else c
        seen: set[str] = set()
        for r in c.to_records() if c.n else []:
            if str(r["command_id"]) not in seen:
                seen.add(str(r["command_id"]))
                events.append(
                    {
                        "ts": int(r["ts"]),
                        "action": str(r["action"]),
                        "issuer": str(r["issuer"]),
                        "state": "",
                        "pair": str(r["pair"]),
                        "reason": str(r["reason"]),
                    }
                )
    return {"start_state": first, "events": sorted(events, key=lambda e: e["ts"])}


def _time_in_market(portfolio: Batch, sig: Batch) -> float | None:
    """Share of the window's bar minutes that end with a position open (account rows, n_positions > 0)."""
    minutes = np.unique(sig["ts"]) if sig.n else np.zeros(0, np.int64)
    if not len(minutes):
        return None
    acct = portfolio.take((portfolio["pair"] == "") & (portfolio["n_positions"] > 0)) if portfolio.n else None
    held = np.unique(acct["ts"]) if acct is not None and acct.n else np.zeros(0, np.int64)
    return float(np.isin(minutes, held).mean())


def per_pair(trips: dict[str, Any], fills: Batch) -> dict[str, dict[str, Any]]:
    """Per pair: round trips closed, won, realised PnL (USD), mean minutes, executed fills."""
    ex = fills.take(fills["last_qty"] > 0) if fills.n else fills
    pairs = sorted(set(trips["pair"].tolist()) | (set(ex["pair"].tolist()) if ex.n else set()))
    out = {}
    for p in pairs:
        m = trips["pair"] == p
        out[p] = {
            "round_trips": int(m.sum()),
            "won": int((trips["pnl_usd"][m] > 0).sum()),
            "pnl_usd": float(trips["pnl_usd"][m].sum()),
            "minutes": float(trips["minutes"][m].sum()),
            "fills": int((ex["pair"] == p).sum()) if ex.n else 0,
        }
    return out


def _weighted(values: list[Any], weights: list[Any]) -> float | None:
    pairs = [(float(v), float(w)) for v, w in zip(values, weights, strict=True) if v is not None and w]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def _trips_and_exposure(out: dict[str, Batch], start: int, end: int, initial_equity: float) -> dict[str, Any]:
    """Round trips closed in ``[start, end)`` and the share of its minutes with a position."""
    from backtest.blotter import positions_per_bar, round_trips, time_in_market

    trips = round_trips(out["fills"], out["orders"], out.get("risk.targets"))
    exit_ts = trips["exit_ts"].astype("float64").to_numpy()
    closed = int(((exit_ts >= start) & (exit_ts < end)).sum())
    clean = window(out["bars.clean"], start, end) if "bars.clean" in out else Batch({"ts": np.zeros(0)})
    minutes = np.unique(clean["ts"]) if clean.n else np.zeros(0, np.int64)
    pairs = sorted({str(p) for p in clean["pair"]}) if clean.n else []
    exposure = positions_per_bar(minutes, out["portfolio"], pairs, initial_equity)
    from backtest.controls import control_events

    events = [e for e in control_events(out.get("control")) if start <= e["ts"] < end]
    return {
        "trades": closed,
        "time_in_market": time_in_market(exposure),
        "minutes": int(len(minutes)),
        "kill_switch": any(e["action"] == "KILL" for e in events),
        "kills_and_halts": events,
    }


def add_per_pair(parts: list[dict[str, dict[str, Any]] | None]) -> dict[str, dict[str, Any]]:
    """Sum per-pair figures over folds."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for p, v in (part or {}).items():
            acc = out.setdefault(p, {k: 0 for k in v})
            for k, x in v.items():
                acc[k] = acc.get(k, 0) + x
    return out


def stitch(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Stitched out-of-sample metrics: the folds' daily returns in order, compounded."""
    rets = np.array([x for f in folds for x in f["daily"]["ret"]], dtype=np.float64)
    eq = cast(F64, np.cumprod(np.r_[1.0, 1.0 + rets]))
    tuw, longest = stats.time_under_water(eq)
    lo, hi = stats.bootstrap_sharpe_ci(rets, np.random.default_rng(0), n_boot=1000, periods_per_year=ANNUAL)
    skew, kurt = stats.moments(rets) if len(rets) > 2 else (0.0, 3.0)
    return {
        "days": int(len(rets)),
        "return": float(eq[-1] - 1.0),
        "sharpe": stats.sharpe(rets, ANNUAL),
        "sharpe_ci95": [lo, hi],
        "sortino": stats.sortino(rets, ANNUAL),
        "max_drawdown_daily": stats.max_drawdown(eq),
        "time_under_water": tuw,
        "longest_under_water_days": longest,
        "skew": skew,
        "kurt": kurt,
        "psr_vs_0": stats.probabilistic_sharpe(stats.sharpe(rets), 0.0, len(rets), skew, kurt),
        "fills": int(sum(f["fills"] for f in folds)),
        "trades": int(sum(f.get("trades", 0) for f in folds)),
        "time_in_market": _weighted(
            [f.get("time_in_market") for f in folds], [f.get("minutes", 0) for f in folds]
        ),
        "spread_cost_usd": float(sum(f["spread_cost_usd"] for f in folds)),
        "commission_usd": float(sum(f["commission_usd"] for f in folds)),
        "gate_waterfall": add_waterfalls([f.get("gate_waterfall") for f in folds]),
        "per_pair": add_per_pair([f.get("per_pair") for f in folds]),
        "mean_ic": float(np.nanmean([f["ic"] if f["ic"] is not None else np.nan for f in folds]))
        if folds
        else None,
    }
