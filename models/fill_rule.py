"""The one limit-order fill rule shared by the paper broker and the learned execution model.

A passive limit order at price ``L`` fills on a bar only when the bar *trades through* it by at least
``penetration`` (price units): queue position is unknown, so merely touching the limit is not a fill.
Bars carry bid OHLC plus one spread; the ask side is ``bid + spread``. For a buy the sellers' side must
come down through ``L`` (``ask_low = low + spread <= L - penetration``); for a sell the bid high must
rise through it (``high >= L + penetration``). A fill is always at ``L`` (never a better price).

Because the broker (:mod:`streams.stages.trader.execution.broker`) and the fill-probability model
(:mod:`models.execution`) call the same function, what the model learns on the training window is
exactly what the broker will do on the test window.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def penetration(
    side: F64 | float, price: F64 | float, high: F64 | float, low: F64 | float, spread: F64 | float
) -> F64:
    """How far the bar traded through the limit, price units (negative: it did not reach it).

    Parameters
    ----------
    side : +1 (buy) or -1 (sell), scalar or shape (n,)
    price : limit price, quote per base
    high, low : bid high and low of the bar
    spread : ask - bid of the bar
    """
    s = np.asarray(side, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        buy = np.asarray(price, np.float64) - (np.asarray(low, np.float64) + np.asarray(spread, np.float64))
        sell = np.asarray(high, np.float64) - np.asarray(price, np.float64)
    return np.where(s > 0, buy, sell)


def trades_through(
    side: F64 | float,
    price: F64 | float,
    high: F64 | float,
    low: F64 | float,
    spread: F64 | float,
    min_penetration: F64 | float,
) -> npt.NDArray[np.bool_]:
    """True where the bar fills the limit: penetration >= ``min_penetration`` (price units, >= 0)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(penetration(side, price, high, low, spread) >= min_penetration)
