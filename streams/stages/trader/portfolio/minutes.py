"""Cross-pair minute matrices: the governed-signal records of complete minutes as (minutes, pairs) arrays.

The trader decides once per minute over all pairs, so records are scattered into dense ``(m, P)``
matrices (NaN / False where a pair has no bar). Mids are forward-filled from the book's last mids,
per-minute log returns are taken between forward-filled mids (0 where a pair has no bar, so a
gap's move lands on the next bar), and quote->USD rates are derived from the forward-filled mids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, B
from streams.stages.trader.portfolio.accounting import quote_to_usd

GOV_OK = ("NORMAL", "REDUCED")
GOV_FLAT = ("HALTED", "DECOMMISSIONED")


@dataclass(frozen=True)
class Minutes:
    """Dense per-minute views of one batch's complete minutes (m minutes, P pairs)."""

    ts: npt.NDArray[np.int64]
    row: npt.NDArray[np.int64]
    """Index of the source record per (minute, pair); -1 where absent."""
    present: B
    high: F64
    low: F64
    close: F64
    spread: F64
    mid: F64
    passed: B
    side: npt.NDArray[np.int64]
    er: F64
    cost: F64
    hl: F64
    disp: F64
    """Displacement (vol units; NaN when absent)."""
    horizon: F64
    alloc: F64
    bad_regime: B
    """Not tradeable, or regime Event_Risk."""
    gov_ok: B
    """gov_state NORMAL or REDUCED."""
    gov_flat: B
    """gov_state HALTED or DECOMMISSIONED: flatten."""
    mid_ff: F64
    rate: F64
    returns: F64


def _scatter(shape: tuple[int, int], flat: Any, values: Any, fill: Any, dtype: Any) -> Any:
    out = np.empty(shape[0] * shape[1], dtype=dtype)
    if len(flat) == len(out):  # every (minute, pair) present, sorted: the records are the matrix
        out[:] = values
    else:
        out[:] = fill
        out[flat] = values
    return out.reshape(shape)


def _among(values: Any, options: tuple[str, ...]) -> B:
    # np.isin's result (it compares element-wise for so few options) without its setup cost per call
    out: B = values == options[0]
    for o in options[1:]:
        out |= values == o
    return out


def _ffill(values: F64, first: F64) -> F64:
    """Forward-fill NaNs down the rows, seeding from ``first`` (P,)."""
    stacked = np.vstack([first[None, :], values])
    idx = np.where(np.isnan(stacked), 0, np.arange(stacked.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    return stacked[idx, np.arange(stacked.shape[1])][1:]


def build(
    cols: dict[str, Any],
    minute_ts: npt.NDArray[np.int64],
    ki: Any,
    pj: Any,
    n_pairs: int,
    last_mids: F64,
    conv: tuple[Any, Any],
) -> Minutes:
    """Scatter the records (``cols`` columns, minute index ``ki``, pair index ``pj``; sorted by minute and
    pair, one per pair and minute) into matrices."""
    shape = (len(minute_ts), n_pairs)
    f = np.float64
    flat = ki * n_pairs + pj  # records are sorted by (minute, pair), one per pair and minute

    def sc(name: str, fill: Any = np.nan, dtype: Any = f) -> Any:
        return _scatter(shape, flat, cols[name], fill, dtype)

    mid = sc("mid")
    gov = np.asarray(cols["gov_state"]).astype(str)
    regime_bad = ~np.asarray(cols["tradeable"], dtype=bool) | (
        np.asarray(cols["regime"]).astype(str) == "Event_Risk"
    )
    mid_ff = _ffill(mid, last_mids)
    prev = np.vstack([last_mids[None, :], mid_ff[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.log(mid_ff / prev)
    return Minutes(
        ts=minute_ts,
        row=_scatter(shape, flat, np.arange(len(ki)), -1, np.int64),
        present=_scatter(shape, flat, True, False, bool),
        high=sc("high"),
        low=sc("low"),
        close=sc("close"),
        spread=sc("spread"),
        mid=mid,
        passed=sc("passed", False, bool),
        side=sc("side", 0, np.int64),
        er=sc("expected_return"),
        cost=sc("cost"),
        hl=sc("half_life_min"),
        disp=sc("displacement") if "displacement" in cols else np.full(shape, np.nan),
        horizon=sc("horizon_min"),
        alloc=sc("alloc_scale"),
        bad_regime=_scatter(shape, flat, regime_bad, False, bool),
        gov_ok=_scatter(shape, flat, _among(gov, GOV_OK), False, bool),
        gov_flat=_scatter(shape, flat, _among(gov, GOV_FLAT), False, bool),
        mid_ff=mid_ff,
        rate=quote_to_usd(mid_ff, *conv),
        returns=np.where(np.isfinite(ret), ret, 0.0),
    )
