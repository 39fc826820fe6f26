"""The columnar bar representation shared by readers, generators and stages.

Bars are a ``dict[str, numpy array]`` with exactly the fields of ``schemas/bar.avsc``:
``pair`` (str), ``ts`` (int64 ms UTC, bar open time), ``open``/``high``/``low``/``close`` (bid,
float64), ``volume`` (float64, 0 when unknown), ``spread`` (float64, ask - bid in price units),
``spread_modeled`` (bool) and ``source`` (str).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

BAR_FIELDS: tuple[str, ...] = (
    "pair",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "spread",
    "spread_modeled",
    "source",
)
"""Column names, in the order of ``schemas/bar.avsc``."""

BarColumns = dict[str, npt.NDArray[Any]]

_DTYPES: dict[str, Any] = {
    "pair": np.str_,
    "ts": np.int64,
    "open": np.float64,
    "high": np.float64,
    "low": np.float64,
    "close": np.float64,
    "volume": np.float64,
    "spread": np.float64,
    "spread_modeled": np.bool_,
    "source": np.str_,
}


def empty_bars() -> BarColumns:
    """Return zero-length bar columns with the schema's dtypes."""
    return {k: np.zeros(0, dtype=_DTYPES[k]) for k in BAR_FIELDS}


def sort_order(ts: npt.NDArray[np.int64], pair: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Return the stable permutation that sorts rows by ``(ts, pair)``, shape (n,)."""
    return np.lexsort((np.asarray(pair, dtype=str), ts)).astype(np.intp)


def take_rows(cols: dict[str, npt.NDArray[Any]], index: npt.NDArray[Any]) -> dict[str, npt.NDArray[Any]]:
    """Return every column indexed by ``index`` (a permutation or boolean mask)."""
    return {k: v[index] for k, v in cols.items()}


def sort_bars(cols: BarColumns) -> BarColumns:
    """Return the bars stably sorted by ``(ts, pair)``; ties keep their input order."""
    return take_rows(cols, sort_order(cols["ts"], cols["pair"]))


def concat_bars(parts: list[BarColumns]) -> BarColumns:
    """Concatenate bar column sets field by field (no sorting)."""
    if not parts:
        return empty_bars()
    return {k: np.concatenate([p[k] for p in parts]) for k in BAR_FIELDS}
