"""Spreads for ingested bid bars: real ones from ask bars of the same minutes, the model for the rest.

A bid file and an ask file of the same pair (HistData layouts or ``timestamp,open,high,low,close``)
give the real spread of a minute as ``ask close - bid close``. The two sides are bars of separate tick
streams, so their closes can come from different ticks: a minute whose ask close is below its bid close
(a crossed close, 1-2 % of minutes in FXCM's files) takes the median of its four ``ask - bid``
differences (open, high, low, close) instead, floored at zero. Minutes without an ask bar keep the
modelled spread and ``spread_modeled`` True.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.data.bars import BarColumns
from streams.data.spread_model import SpreadConfig, describe, model_spread

_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class SpreadFill:
    """How the spreads of a set of bid bars were filled."""

    real: int
    """Bars whose spread came from an ask bar of the same minute."""
    crossed: int
    """Of those, minutes with ask close < bid close, repaired as described in the module."""
    modeled: int
    """Bars whose spread is the model's."""
    model: dict[str, Any] | None
    """:func:`streams.data.spread_model.describe` of the model used, None when no bar was modelled."""


def real_spreads(bid: BarColumns, ask: BarColumns) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Return ``(spread, crossed)`` per bid bar from the ask bars of the same pair and minute.

    Parameters
    ----------
    bid, ask : BarColumns
        Bars of one pair each (``ts`` ms UTC, prices in price units); any row order.

    Returns
    -------
    spread : ndarray of float64, shape (n_bid,)
        ``ask close - bid close`` in price units, NaN where no ask bar has the bid bar's time; crossed
        closes are replaced by ``max(0, median of the four ask - bid differences)``.
    crossed : ndarray of bool, shape (n_bid,)
        True where the close was crossed.
    """
    n = len(bid["ts"])
    spread = np.full(n, np.nan)
    crossed = np.zeros(n, dtype=bool)
    if n == 0 or len(ask["ts"]) == 0:
        return spread, crossed
    order = np.argsort(ask["ts"], kind="stable")
    ask_ts = ask["ts"][order]
    pos = np.clip(np.searchsorted(ask_ts, bid["ts"]), 0, len(ask_ts) - 1)
    hit = ask_ts[pos] == bid["ts"]
    j = order[pos[hit]]
    diffs = np.stack([ask[k][j] - bid[k][hit] for k in _PRICES])
    close = diffs[3]
    bad = close < 0
    repaired = np.maximum(np.median(diffs, axis=0), 0.0)
    spread[hit] = np.where(bad, repaired, close)
    crossed[np.flatnonzero(hit)[bad]] = True
    return spread, crossed


def fill_spreads(
    bars: BarColumns, ask: BarColumns | None = None, config: SpreadConfig | None = None
) -> tuple[BarColumns, SpreadFill]:
    """Return the bid bars with their spreads filled (real where ``ask`` has the minute, else modelled).

    ``bars`` are one pair's bid bars (every file of the pair together, so the model's rolling state
    spans them). ``source`` becomes ``'<source>;spread=ask'`` on real-spread bars and
    ``'<source>;spread=<model id>'`` on modelled ones, so every stored bar names what priced it.
    """
    cfg = config or SpreadConfig()
    out = dict(bars)
    n = len(bars["ts"])
    if ask is None:
        real, crossed = np.full(n, np.nan), np.zeros(n, dtype=bool)
    else:
        real, crossed = real_spreads(bars, ask)
    has_real = np.isfinite(real)
    modeled = ~has_real
    info = describe(cfg) if modeled.any() else None
    spread = np.array(real)
    if modeled.any():
        spread[modeled] = model_spread(bars["pair"], bars["ts"], bars["high"], bars["low"], cfg)[modeled]
    out["spread"] = spread
    out["spread_modeled"] = modeled
    tag = np.where(modeled, f";spread={info['id']}" if info else "", ";spread=ask")
    out["source"] = np.char.add(np.asarray(bars["source"], dtype=str), tag.astype(str))
    return out, SpreadFill(int(has_real.sum()), int(crossed.sum()), int(modeled.sum()), info)


def spread_provenance(bars: BarColumns) -> dict[str, Any]:
    """Return how the spreads of ``bars`` were obtained: ``{'real', 'modeled', 'by_source'}`` counts.

    ``by_source`` counts bars per ``source`` string, which names the spread model (``;spread=<id>``) or
    ``;spread=ask`` for ingested bars, so a run's summary says what priced its spreads.
    """
    modeled = np.asarray(bars["spread_modeled"], dtype=bool)
    sources, counts = np.unique(np.asarray(bars["source"], dtype=str), return_counts=True)
    return {
        "real": int((~modeled).sum()),
        "modeled": int(modeled.sum()),
        "by_source": {str(s): int(c) for s, c in zip(sources, counts, strict=True)},
    }
