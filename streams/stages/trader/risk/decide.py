"""Per-minute targets: exits and risk reductions for held pairs, utility-sized entries for new signals.

Exits (no fixed stops): OU time exit (``exit_half_lives`` x the entry signal's half-life after the
decision; ``max_hold_min`` when the half-life is not valid), reversion (``exit_on_reversion``: the
displacement has crossed its mean), regime invalidation (bar not tradeable or Event_Risk), governance (gov_state HALTED/DECOMMISSIONED, or a DECOMMISSION command) - all set the
target to 0. Risk reduction: when throttle x allocation scale falls below the level a target was
sized at, the target shrinks in proportion (never grows without a new signal).

Entries: pairs whose bar passed every gate, with entries allowed, form the candidates; their weights
maximise the utility (:mod:`sizing`), are scaled so the book hits the vol target (:mod:`vol_target`),
multiplied by throttle x allocation, converted to lots and clipped to ``max_position_usd``; if the
book's gross would exceed ``max_gross_usd`` the candidates are scaled down to fit. A held position
whose new same-side size lies within ``resize_band`` of its target keeps its target (no order).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import F64
from streams.stages.trader.execution.killswitch import ControlState
from streams.stages.trader.portfolio.book import Book
from streams.stages.trader.portfolio.minutes import Minutes
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.risk.sizing import horizon_cov, optimise_weights, sign, window_cov
from streams.stages.trader.risk.vol_target import vol_scale

_BIG = float(np.finfo(np.float64).max)


def nan_to_num(x: F64, nan: float = 0.0) -> F64:
    """``np.nan_to_num(x, nan=nan)`` of a float64 array (infinities to the largest finite float), without
    its per-call overhead."""
    return np.where(np.isnan(x), nan, np.minimum(np.maximum(x, -_BIG), _BIG))


def lots(units: F64 | float, lot: float) -> Any:
    """Round base units toward zero to whole lots."""
    return np.trunc(np.asarray(units) / lot) * lot


def _row(
    book: Book, mn: Minutes, k: int, j: int, reason: str, weight: float = 0.0, scale: float = 0.0
) -> dict[str, Any]:
    upu = float(mn.mid_ff[k, j] * mn.rate[k, j])
    return {
        "_row": int(mn.row[k, j]),
        "target_units": float(book.target[j]),
        "target_usd": float(book.target[j]) * upu,
        "position_units": float(book.pos[j]),
        "weight": weight,
        "vol_scale": scale,
        "throttle": book.throttle,
        "equity_usd": book.equity,
        "reason": reason,
    }


def reverted(target: float, disp: F64 | float) -> Any:
    """True where a position with sign ``target`` sees its displacement crossed to the other side of the
    mean (strictly: a displacement of exactly 0, e.g. a placeholder, does not close anything)."""
    return (target != 0.0) & (np.sign(target) * np.asarray(disp) > 0.0)


def _exit_reason(
    book: Book, mn: Minutes, k: int, j: int, pair: str, cs: ControlState, cfg: RiskConfig
) -> str:
    if 0 <= book.exit_due[j] <= mn.ts[k]:
        return "exit_time"
    tgt = float(book.target[j])
    if cfg.exit_on_reversion and tgt != 0.0 and sign(tgt) * float(mn.disp[k, j]) > 0.0:  # reverted()
        return "exit_reverted"
    if mn.bad_regime[k, j]:
        return "exit_regime"
    if mn.gov_flat[k, j] or cs.in_scope(cs.decommissioned, pair):
        return "exit_gov"
    return ""


def exits(book: Book, mn: Minutes, k: int, pairs: tuple[str, ...], cfg: RiskConfig) -> list[dict[str, Any]]:
    """Apply exits and risk reductions to held pairs with a bar at minute ``k``; return target rows."""
    rows = []
    cs = book.control
    present = mn.present[k].tolist()
    # book.held() & present, on Python values (the loop changes only pair j's own target)
    held = zip(book.pos.tolist(), book.target.tolist(), present, strict=True)
    for j in [j for j, (p, t, here) in enumerate(held) if (p != 0.0 or t != 0.0) and here]:
        reason = _exit_reason(book, mn, k, j, pairs[j], cs, cfg)
        if reason:
            if book.target[j] == 0.0 and book.exit_due[j] < 0:
                continue
            book.target[j], book.exit_due[j] = 0.0, -1
            rows.append(_row(book, mn, k, j, reason))
            continue
        combined = book.throttle * min(float(mn.alloc[k, j]), float(book.control_alloc(pairs)[j]))
        if book.target[j] != 0.0 and combined < book.sized_scale[j] * (1.0 - 1e-9):
            book.target[j] = float(lots(book.target[j] * combined / book.sized_scale[j], cfg.lot_units))
            book.sized_scale[j] = combined
            rows.append(_row(book, mn, k, j, "reduce"))
    return rows


def candidates(book: Book, mn: Minutes, k: int, pairs: tuple[str, ...], skip: set[int]) -> list[int]:
    """Pairs at minute ``k`` whose signal passed and whose entries are allowed."""
    cs = book.control
    # per pair in Python (P is small): a few list conversions cost less than five array operations
    row = (mn.passed[k], mn.side[k], mn.bad_regime[k], mn.gov_ok[k], mn.rate[k])
    ok = zip(*(a.tolist() for a in row), strict=True)
    return [
        j
        for j, (p, s, bad, gov, rate) in enumerate(ok)
        if p and s != 0 and not bad and gov and math.isfinite(rate)
        and j not in skip and not cs.blocks_entries(pairs[j])
    ]  # fmt: skip


def _hold_time(mn: Minutes, k: int, j: int, cfg: RiskConfig) -> int:
    hl = float(mn.hl[k, j])
    minutes = cfg.exit_half_lives * hl if math.isfinite(hl) and hl > 0.0 else float(cfg.max_hold_min)
    return int(round(minutes * 60_000))


def entries(
    book: Book, mn: Minutes, k: int, cand: list[int], window: F64, pairs: tuple[str, ...], cfg: RiskConfig
) -> list[dict[str, Any]]:
    """Size the candidate pairs at minute ``k`` (``window``: recent returns (T, P)); return target rows."""
    if window.shape[0] < cfg.cov_min_obs:
        return [_row(book, mn, k, j, "blocked:cov_warmup") for j in cand]
    upu = mn.mid_ff[k] * mn.rate[k]
    w0 = np.where(book.target != 0.0, book.target * upu, 0.0) / book.equity
    active = np.zeros(len(w0), dtype=bool)
    active[cand] = True
    mu, cost, horizon = _inputs(mn, k, active, cfg.turnover_cost_mult)
    cov_min = window_cov(window)
    w = optimise_weights(mu, horizon_cov(cov_min, horizon), w0, cost, cfg.risk_aversion, active)
    held = np.where(active, 0.0, w0)
    new = np.where(active, w, 0.0)
    scale = vol_scale(held, new, cov_min, cfg.target_vol_annual, cfg.minutes_per_year)
    ca, alloc = book.control_alloc(pairs), mn.alloc[k]
    combined = book.throttle * np.where(ca < alloc, ca, alloc)  # min(alloc, control's), alloc first
    units = lots(
        np.clip(new * scale * combined * book.equity, -cfg.max_position_usd, cfg.max_position_usd) / upu,
        cfg.lot_units,
    )
    units = _fit_gross(units, held * book.equity, upu, active, cfg)
    units = _band(units, book.target, active, cfg.resize_band)
    rows = []
    for j in cand:
        book.target[j] = float(units[j])
        book.sized_scale[j] = combined[j]
        book.exit_due[j] = int(mn.ts[k]) + 60_000 + _hold_time(mn, k, j, cfg) if units[j] else -1
        reason = "entry" if units[j] else ("blocked:vol_budget" if scale == 0.0 else "blocked:utility")
        rows.append(_row(book, mn, k, j, reason, float(new[j]), scale))
    return rows


def _finite(x: float, nan: float) -> float:
    # nan_to_num of one float
    return nan if x != x else min(max(x, -_BIG), _BIG)


def _inputs(mn: Minutes, k: int, active: npt.NDArray[np.bool_], mult: float) -> tuple[F64, F64, F64]:
    # mu, cost, horizon of the active pairs (0, 0, 1 elsewhere): the array form's operations per pair
    cols = zip(active.tolist(), mn.side[k].tolist(), mn.er[k].tolist(), mn.cost[k].tolist(),
               mn.horizon[k].tolist(), strict=True)  # fmt: skip
    mu, cost, horizon = [], [], []
    for on, side, er, c, h in cols:
        mu.append(side * er if on else 0.0)
        cost.append(_finite(c, 0.0) / 2.0 * mult if on else 0.0)
        horizon.append(_finite(h, 1.0) if on else 1.0)
    return np.array(mu), np.array(cost), np.array(horizon)


def _band(units: F64, target: F64, active: npt.NDArray[np.bool_], band: float) -> F64:
    """Keep a held target where the new same-side size is within ``band`` x |target| of it."""
    # per pair on Python floats: the same comparisons as the array form, a few pairs at a time
    pairs = zip(units.tolist(), target.tolist(), active.tolist(), strict=True)
    return np.array(
        [
            t if on and t != 0.0 and sign(u) == sign(t) and abs(u - t) <= band * abs(t) else u
            for u, t, on in pairs
        ],
        dtype=np.float64,
    )


def _fit_gross(units: F64, held_usd: F64, upu: F64, active: npt.NDArray[np.bool_], cfg: RiskConfig) -> F64:
    gross_held = float(np.abs(held_usd).sum())
    gross_new = float(np.where(active, np.abs(nan_to_num(units * upu)), 0.0).sum())
    if gross_held + gross_new <= cfg.max_gross_usd or gross_new == 0.0:
        return units
    f = max(cfg.max_gross_usd - gross_held, 0.0) / gross_new
    return np.where(active, lots(units * f, cfg.lot_units), units)
