"""Position and PnL accounting in the account currency (USD).

Positions are signed base-currency units with a weighted average entry price (quote per base).
PnL of pair ``BASEQUOTE`` is earned in ``QUOTE`` and converted to USD:

* realised PnL at the quote->USD rate of the minute of the fill (then it is USD cash: the JPY of a
  USDJPY gain is deemed converted at once, so it carries no further FX exposure);
* unrealised PnL at the current quote->USD rate, marked at the current mid.

quote->USD is 1 for ``xxxUSD`` pairs, ``1 / mid(USDQQQ)`` when USDQQQ is in the universe (USDJPY PnL
in JPY divided by the USDJPY mid), else ``mid(QQQUSD)`` (EURGBP PnL in GBP times the GBPUSD mid).
When the needed pair has never been seen the rate is NaN: the router refuses entries in that pair
(reason ``no_usd_rate``), so no position ever needs an unknown rate. Rates are forward-filled: a
pair whose USD leg has no bar this minute is converted at the last known mid of that leg.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from streams.core.units import F64


def conversion_plan(pairs: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return, per pair, the column of the rate pair (-1: none) and the mode (0 one, 1 inverse, 2 direct).

    Mode 0: quote is USD (rate 1). Mode 1: rate = 1 / mid[col] (USDQQQ). Mode 2: rate = mid[col]
    (QQQUSD). A pair with no USD leg in ``pairs`` gets mode 1 with col -1 (rate NaN).
    """
    index = {p: i for i, p in enumerate(pairs)}
    col = np.full(len(pairs), -1, dtype=np.int64)
    mode = np.ones(len(pairs), dtype=np.int64)
    for i, p in enumerate(pairs):
        quote = p[3:]
        if quote == "USD":
            mode[i] = 0
        elif "USD" + quote in index:
            col[i], mode[i] = index["USD" + quote], 1
        elif quote + "USD" in index:
            col[i], mode[i] = index[quote + "USD"], 2
    return col, mode


def quote_to_usd(mids: F64, col: npt.NDArray[np.int64], mode: npt.NDArray[np.int64]) -> F64:
    """Return the quote->USD rate of every pair at every row, shape of ``mids`` (T, P) or (P,).

    ``mids`` are forward-filled mid prices (NaN where never seen).
    """
    m = np.atleast_2d(mids)
    leg = np.where(col >= 0, m[:, np.maximum(col, 0)], np.nan)
    rate = np.where(mode == 0, 1.0, np.where(mode == 1, 1.0 / leg, leg))
    return rate if mids.ndim == 2 else rate[0]


def apply_fill(
    position: float, avg_price: float, signed_qty: float, price: float
) -> tuple[float, float, float]:
    """Apply one fill; return ``(new_position, new_avg_price, realised_pnl_in_quote)``.

    Adding to a position (or opening one) moves the average price to the quantity-weighted mean;
    reducing realises ``closed * (price - avg) * sign(position)`` and keeps the average; crossing
    through zero realises the whole old position and opens the rest at ``price``. A flat book has
    average price 0.
    """
    if position == 0.0 or (position > 0.0) == (signed_qty > 0.0):
        new = position + signed_qty
        avg = (abs(position) * avg_price + abs(signed_qty) * price) / abs(new)
        return new, avg, 0.0
    closed = min(abs(signed_qty), abs(position))
    realised = closed * (price - avg_price) * (1.0 if position > 0.0 else -1.0)
    new = position + signed_qty
    if new == 0.0:
        return 0.0, 0.0, realised
    if (new > 0.0) == (position > 0.0):
        return new, avg_price, realised
    return new, price, realised


def unrealised_usd(position: F64, avg_price: F64, mids: F64, rate: F64) -> F64:
    """Return unrealised PnL in USD per row, summed over pairs: shape (T,) for (T, P) ``mids``.

    Flat pairs contribute exactly 0 even where their mid or rate is NaN.
    """
    m, r = np.atleast_2d(mids), np.atleast_2d(rate)
    out = np.zeros(m.shape[0])
    # Left-to-right over held columns only: the same additions in the same order whether a minute is
    # valued alone or inside a stretch, so replays split anywhere give bit-identical equity.
    for j in np.flatnonzero(position != 0.0):
        out = out + position[j] * (m[:, j] - avg_price[j]) * r[:, j]
    return out


def gross_usd(position: F64, mids: F64, rate: F64) -> float:
    """Return gross exposure in USD: sum |units| x mid x quote->USD over held pairs (P,) inputs."""
    total = 0.0
    for p, m, r in zip(position.tolist(), mids.tolist(), rate.tolist(), strict=True):
        if p != 0.0:
            total += abs(p) * m * r
    return total


def gross_rows(position: F64, mids: F64, rate: F64) -> F64:
    """Return :func:`gross_usd` for every row of ``mids``/``rate`` (T, P), same additions, shape (T,)."""
    out = np.zeros(mids.shape[0])
    for j in np.flatnonzero(position != 0.0):
        out = out + abs(float(position[j])) * mids[:, j] * rate[:, j]
    return out


def equity_curve(equity: F64, hwm0: float) -> tuple[F64, F64]:
    """Return ``(hwm, drawdown)`` per row for an equity series (T,) starting from high-water ``hwm0``.

    The high-water mark never falls; drawdown = 1 - equity / hwm (fraction, >= 0).
    """
    hwm = np.maximum.accumulate(np.concatenate([[hwm0], equity]))[1:]
    return hwm, 1.0 - equity / hwm
