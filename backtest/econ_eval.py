"""Out-of-sample economics of one walk-forward fold: edge skill, fill-model calibration, per-pair PnL.

Pure functions over a replay's topics and the fold's fitted execution-priced edge model
(:class:`models.exec_edge.ExecEdgeModel`); nothing here changes what the pipeline did.

* **Edge skill** (:func:`edge_skill`): on the test window's ready bars, the trade each bar proposes is
  simulated with the broker's rule (:func:`models.execution.simulate_trades`); on the filled ones the
  model's calibrated win probability is scored (Brier, log-loss) against the constant base rate of the
  training window; the IC is the Spearman correlation of ``expected_return`` (``P(fill) E[r | fill]``)
  with the attempt's realised value (the net return if filled, 0 if not), with a stationary-bootstrap
  95 % interval.
* **Fill calibration** (:func:`fill_calibration`): per bucket, predicted P(fill) vs the realised fill
  rate and the predicted vs realised 5-minute markout, (a) of the simulated attempts on the test bars and
  (b) of the paper broker's own entry orders in the replay.
* **Per-pair PnL** (:func:`pair_pnl`): from the execution reports: round trips (returns to flat), gross
  realised PnL, commission at ``commission_bps`` per leg, net, and the drawdown of realised net PnL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from backtest import stats
from models.edge import EDGE_FEATURES
from models.exec_edge import EPS
from models.execution import MARKOUT_MIN, ExecParams
from streams.core.batch import Batch
from streams.core.units import MINUTE_MS
from streams.training.exec_edge import pair_trades

F64 = npt.NDArray[np.float64]
MARK_COL = MARKOUT_MIN.index(5)


def _by_pair(b: Batch) -> dict[str, Batch]:
    if b.n == 0:
        return {}
    pairs = np.asarray(b["pair"]).astype(str)
    out = {}
    for p in np.unique(pairs):
        x = b.take(pairs == p)
        out[str(p)] = x.take(np.argsort(np.asarray(x["ts"], np.int64), kind="stable"))
    return out


def _X(b: Batch) -> F64:
    return np.stack([np.asarray(b[k], dtype=np.float64) for k in EDGE_FEATURES], axis=1)


def ic_with_ci(x: F64, y: F64, rng: np.random.Generator, n_boot: int = 200) -> dict[str, float]:
    """Spearman IC of ``x`` vs ``y`` (time-ordered rows) and a stationary-bootstrap 95 % interval."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 30:
        return {"ic": float("nan"), "ic_lo": float("nan"), "ic_hi": float("nan"), "n": float(len(x))}
    rx = np.argsort(np.argsort(x)).astype(np.float64)
    ry = np.argsort(np.argsort(y)).astype(np.float64)
    ic = float(np.corrcoef(rx, ry)[0, 1])
    boots = []
    for _ in range(n_boot):
        idx = stats.stationary_bootstrap_indices(len(x), 60.0, rng)
        a, b = rx[idx], ry[idx]
        if a.std() > 0 and b.std() > 0:
            boots.append(float(np.corrcoef(a, b)[0, 1]))
    lo, hi = np.quantile(boots, [0.025, 0.975]) if boots else (np.nan, np.nan)
    return {"ic": ic, "ic_lo": float(lo), "ic_hi": float(hi), "n": float(len(x))}


def edge_skill(
    signals: Batch, model: Any, params: ExecParams, test_from: int, test_to: int, rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    """Per-pair out-of-sample skill of the win probability and the expected return (module docstring)."""
    out: dict[str, dict[str, Any]] = {}
    for p, b in _by_pair(signals).items():
        pe = model.pairs_.get(p)
        if pe is None or pe.edge is None:
            out[p] = {"n_filled": 0, "reason": "no edge model for the pair"}
            continue
        t = pair_trades(b, params)
        pred = model.predict_execution(_X(b), b["pair"])
        ts = np.asarray(b["ts"], np.int64)
        win = (ts >= test_from) & (ts < test_to) & np.asarray(b["ready"], bool)
        scored = win & t.filled & np.isfinite(t.net) & np.isfinite(pred["win_prob"])
        y = (t.net[scored] > 0).astype(np.float64)
        wp = pred["win_prob"][scored]
        c = np.full(len(y), pe.base_rate)
        attempt = np.where(t.filled, np.nan_to_num(t.net, nan=np.nan), 0.0)
        exitable = win & (~t.filled | np.isfinite(t.net))
        res: dict[str, Any] = {
            "n_filled": int(scored.sum()),
            "trade_ok": bool(pe.trade_ok),
            "chosen": pe.chosen,
        }
        if len(y) >= 30:
            res.update(
                brier=float(np.mean((wp - y) ** 2)),
                brier_const=float(np.mean((c - y) ** 2)),
                log_loss=_ll(wp, y),
                log_loss_const=_ll(c, y),
                base_rate_train=pe.base_rate,
                win_rate_test=float(y.mean()),
                mean_net_bps_filled=float(t.net[scored].mean() * 1e4),
                sse=float(np.sum((wp - y) ** 2)),
                sse_const=float(np.sum((c - y) ** 2)),
            )
            res.update(ic_with_ci(pred["expected_return"][exitable], attempt[exitable], rng))
        out[p] = res
    return out


def _ll(p: F64, y: F64) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _empty_cal() -> dict[str, float]:
    return {"n": 0.0, "pred_fill": 0.0, "fills": 0.0, "pred_mark": 0.0, "mark": 0.0, "n_mark": 0.0}


def fill_calibration(
    signals: Batch, fills: Batch, orders: Batch, model: Any, params: ExecParams, test_from: int, test_to: int
) -> dict[str, Any]:
    """Sums per (pair, bucket) of predicted vs realised fills and 5-min markouts (module docstring).

    Returns ``{"simulated": {key: sums}, "broker": {key: sums}}`` with ``key = "PAIR:bucket"``; sums
    (``n``, ``pred_fill``, ``fills``, ``pred_mark``, ``mark``, ``n_mark``) pool across folds by addition.
    """
    sim: dict[str, dict[str, float]] = {}
    brk: dict[str, dict[str, float]] = {}
    sig = _by_pair(signals)
    fil = _by_pair(fills)
    ords = _by_pair(orders)
    for p, b in sig.items():
        pe = model.pairs_.get(p)
        if pe is None:
            continue
        X = _X(b)
        bucket = pe.fill.buckets(X[:, 3], X[:, 1], X[:, 2])
        pf, _ = pe.fill.predict(X[:, 3], X[:, 1], X[:, 2])
        t = pair_trades(b, params)
        ts = np.asarray(b["ts"], np.int64)
        win = (
            (ts >= test_from)
            & (ts < test_to)
            & np.asarray(b["ready"], bool)
            & np.isfinite(t.price)
            & (bucket >= 0)
        )
        for k in np.unique(bucket[win]):
            m = win & (bucket == k)
            mk = m & t.filled & np.isfinite(t.markout_bps[:, MARK_COL])
            s = sim.setdefault(f"{p}:{int(k)}", _empty_cal())
            s["n"] += float(m.sum())
            s["pred_fill"] += float(pf[m].sum())
            s["fills"] += float((m & t.filled).sum())
            s["n_mark"] += float(mk.sum())
            s["mark"] += float(t.markout_bps[mk, MARK_COL].sum())
            s["pred_mark"] += float(mk.sum() * pe.fill.markout_bps_[int(k), MARK_COL])
        _broker_rows(p, b, bucket, pf, fil.get(p), ords.get(p), pe, test_from, test_to, brk)
    return {"simulated": sim, "broker": brk}


def _broker_rows(
    p: str,
    b: Batch,
    bucket: npt.NDArray[np.int64],
    pf: F64,
    fills: Batch | None,
    orders: Batch | None,
    pe: Any,
    test_from: int,
    test_to: int,
    acc: dict[str, dict[str, float]],
) -> None:
    if orders is None or orders.n == 0:
        return
    ts = np.asarray(b["ts"], np.int64)
    mid = np.asarray(b["mid"], np.float64)
    new = (np.asarray(orders["action"]).astype(str) == "NEW") & (
        np.asarray(orders["leg"]).astype(str) == "entry"
    )
    ots = np.asarray(orders["ts"], np.int64)
    sel = new & (ots >= test_from) & (ots < test_to) & (np.asarray(orders["reason"]).astype(str) == "")
    filled_ids: dict[str, tuple[int, float, int]] = {}
    if fills is not None and fills.n:
        q = np.asarray(fills["last_qty"], np.float64) > 0
        for cid, fts, px, sd in zip(
            np.asarray(fills["client_order_id"])[q].astype(str),
            np.asarray(fills["ts"], np.int64)[q],
            np.asarray(fills["last_price"], np.float64)[q],
            np.asarray(fills["side"])[q].astype(np.int64),
            strict=True,
        ):
            filled_ids.setdefault(cid, (int(fts), float(px), int(sd)))
    for cid, o_ts in zip(np.asarray(orders["client_order_id"])[sel].astype(str), ots[sel], strict=True):
        j = int(np.searchsorted(ts, o_ts - MINUTE_MS))
        if j >= len(ts) or ts[j] != o_ts - MINUTE_MS or bucket[j] < 0:
            continue
        s = acc.setdefault(f"{p}:{int(bucket[j])}", _empty_cal())
        s["n"] += 1.0
        s["pred_fill"] += float(pf[j])
        if cid in filled_ids:
            s["fills"] += 1.0
            fts, px, sd = filled_ids[cid]
            k = int(np.searchsorted(ts, fts - MINUTE_MS + 5 * MINUTE_MS, side="right")) - 1
            if 0 <= k < len(ts) and ts[k] > fts - MINUTE_MS:
                s["n_mark"] += 1.0
                s["mark"] += sd * (mid[k] - px) / px * 1e4
                s["pred_mark"] += float(pe.fill.markout_bps_[int(bucket[j]), MARK_COL])


def pair_pnl(
    fills: Batch, test_from: int, test_to: int, commission_bps: float
) -> dict[str, dict[str, float]]:
    """Per pair: round trips, gross realised USD, commission USD, net USD, max drawdown of realised net USD.

    USD notional per fill: ``qty * price`` for XXXUSD, ``qty`` for USDXXX (the development pairs).
    A round trip is a return of the pair's position (summed over the window's fills) to flat.
    """
    out: dict[str, dict[str, float]] = {}
    for p, f in _by_pair(fills).items():
        q = np.asarray(f["last_qty"], np.float64)
        ts = np.asarray(f["ts"], np.int64)
        m = (q > 0) & (ts >= test_from) & (ts < test_to)
        if not m.any():
            out[p] = {
                "round_trips": 0.0,
                "gross_usd": 0.0,
                "commission_usd": 0.0,
                "net_usd": 0.0,
                "max_dd_usd": 0.0,
                "fills": 0.0,
            }
            continue
        side = np.asarray(f["side"], np.float64)[m]
        px = np.asarray(f["last_price"], np.float64)[m]
        qty = q[m]
        pnl = np.asarray(f["realized_pnl_usd"], np.float64)[m]
        usd = qty * px if p.endswith("USD") else qty
        comm = usd * commission_bps * 1e-4
        pos = np.cumsum(side * qty)
        flat = np.abs(pos) < 1e-6
        rt = float(np.sum(flat & (np.abs(np.r_[0.0, pos[:-1]]) > 1e-6)))
        net_path = np.cumsum(pnl - comm)
        dd = float(np.max(np.maximum.accumulate(np.r_[0.0, net_path]) - np.r_[0.0, net_path]))
        out[p] = {
            "round_trips": rt,
            "gross_usd": float(pnl.sum()),
            "commission_usd": float(comm.sum()),
            "net_usd": float(pnl.sum() - comm.sum()),
            "max_dd_usd": dd,
            "fills": float(m.sum()),
        }
    return out


def grid_names(candidates: Any, safety: tuple[float, ...], win_probs: tuple[float, ...]) -> list[str]:
    """Names of the research grid's configurations, in column order."""
    return [f"{c.name}|sf{sf}|wp{wp}" for c in candidates for sf in safety for wp in win_probs]


def grid_daily_returns(
    train: Batch,
    test: Batch,
    model: Any,
    params: ExecParams,
    test_from: int,
    test_to: int,
    candidates: Any,
    safety: tuple[float, ...],
    win_probs: tuple[float, ...],
) -> tuple[npt.NDArray[np.int64], F64]:
    """Daily returns (days, configs) of the research grid on the test window (simulated executions).

    Every configuration (edge candidate x safety factor x win-probability threshold) is fitted on the
    pair's filled training trades (exact neighbours, raw win probability), and trades on the test bars
    where ``win_prob > threshold`` and ``E[net|fill] > (safety - 1) * E[exit cost]`` (the cost gate of
    :mod:`models.exec_edge` with P(fill) cancelled), with the simulated fills and exits, at most one
    trade per pair per ``horizon_min``; a day's return is the mean over pairs of its trades' net
    returns (one unit of notional per pair). Days are the UTC days of the test window with bars.
    """
    from models.edge import EdgeModel
    from models.exec_edge import candidate_win_er

    days = np.unique(
        np.asarray(test["ts"], np.int64)[(test["ts"] >= test_from) & (test["ts"] < test_to)] // 86_400_000
    )
    names = grid_names(candidates, safety, win_probs)
    R = np.zeros((len(days), len(names)))
    tr_by, te_by = _by_pair(train), _by_pair(test)
    kmax = max(c.n_neighbors for c in candidates)
    for p, te in te_by.items():
        pe, tr = model.pairs_.get(p), tr_by.get(p)
        if pe is None or tr is None:
            continue
        ttr = pair_trades(tr, params)
        Xtr = _X(tr)
        ok = ttr.filled & np.isfinite(ttr.net) & np.isfinite(Xtr).all(axis=1) & np.asarray(tr["ready"], bool)
        if ok.sum() < 1000:
            continue
        em = EdgeModel(
            n_neighbors=kmax, inference="exact", **model.base_params, horizon_min=params.horizon_min
        )
        em.fit(Xtr[ok], ttr.net[ok])
        tte = pair_trades(te, params)
        Xte = _X(te)
        ts = np.asarray(te["ts"], np.int64)
        rows = (
            (ts >= test_from) & (ts < test_to) & np.asarray(te["ready"], bool) & np.isfinite(Xte).all(axis=1)
        )
        idx = np.flatnonzero(rows)
        if not len(idx):
            continue
        dist, ys = em.neighbour_outcomes(Xte[idx], kmax)
        _, ec = pe.fill.predict(Xte[idx, 3], Xte[idx, 1], Xte[idx, 2])
        col = 0
        for c in candidates:
            wp, er = candidate_win_er(c, dist, ys)
            for sf in safety:
                for wmin in win_probs:
                    gate = (wp > wmin) & (er > (sf - 1.0) * ec)
                    R[:, col] += _daily(idx[gate], ts, tte, days, params.horizon_min) / len(te_by)
                    col += 1
    return days, R


def _daily(
    rows: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    t: Any,
    days: npt.NDArray[np.int64],
    horizon_min: int,
) -> F64:
    out = np.zeros(len(days))
    busy_until = np.iinfo(np.int64).min
    for i in rows.tolist():
        if ts[i] < busy_until:
            continue
        if t.filled[i] and np.isfinite(t.net[i]):
            busy_until = ts[i] + horizon_min * MINUTE_MS
            d = np.searchsorted(days, ts[i] // 86_400_000)
            if d < len(days):
                out[d] += t.net[i]
    return out


def edge_skill_verdict(model_meta: dict[str, Any]) -> dict[str, Any]:
    """Plain per-pair verdicts of an execution-priced edge artifact's in-window skill check.

    ``model_meta`` is the artifact's ``params['model']`` (:meth:`models.exec_edge.ExecEdgeModel.metadata`);
    a mid-to-mid model (no per-pair skill check) gives ``{'checked': False}``.
    """
    pairs = model_meta.get("pairs") if model_meta.get("kind") == "execution_priced" else None
    if not pairs:
        return {"checked": False, "summary": "edge model without a skill check (mid-to-mid model)"}
    lines, ok = [], []
    for pair, p in sorted(pairs.items()):
        cv = (p.get("skill") or {}).get("cv", {})
        chosen, const = cv.get("chosen_calibrated", {}), cv.get("constant", {})
        brier = f" (CV Brier {chosen.get('brier', float('nan')):.5f} vs constant {const.get('brier', float('nan')):.5f})"
        if p.get("trade_ok"):
            ok.append(pair)
            lines.append(f"{pair}: edge model better than a constant in training CV{brier}: may trade")
        else:
            lines.append(
                f"{pair}: edge model not better than a constant{brier}: no positions (gate no_skill)"
            )
    head = (
        f"edge model not better than a constant for {len(pairs) - len(ok)}/{len(pairs)} pairs"
        if len(ok) < len(pairs)
        else f"edge model better than a constant for all {len(pairs)} pairs"
    )
    return {"checked": True, "summary": head, "pairs_with_skill": ok, "per_pair": lines}
