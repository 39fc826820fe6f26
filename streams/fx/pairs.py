"""Currency pairs known to HSLR: names, base/quote currencies and pip sizes.

A pair is a six-letter upper-case code ``BASEQUOTE`` (``EURUSD``: price of one euro in dollars).
A pip is 0.01 for pairs quoted in yen and 0.0001 otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

KNOWN_PAIRS: tuple[str, ...] = (
    "EURUSD",
    "GBPUSD",
    "USDJPY",
    "USDCHF",
    "AUDUSD",
    "USDCAD",
    "NZDUSD",
    "EURGBP",
    "EURJPY",
    "GBPJPY",
    "AUDJPY",
    "EURCHF",
)
"""The seven USD majors and the five most traded crosses."""

_KNOWN = frozenset(KNOWN_PAIRS)


def validate_pair(pair: str) -> str:
    """Return ``pair`` if it is in :data:`KNOWN_PAIRS`.

    Raises
    ------
    ValueError
        ``unknown pair ...`` naming the pair and the known ones.
    """
    if pair not in _KNOWN:
        raise ValueError(f"unknown pair {pair!r}; known pairs: {', '.join(KNOWN_PAIRS)}")
    return pair


def currencies(pair: str) -> tuple[str, str]:
    """Return ``(base, quote)`` of a known pair, e.g. ``('EUR', 'USD')`` for EURUSD."""
    validate_pair(pair)
    return pair[:3], pair[3:]


def pip_size(pair: str) -> float:
    """Return the pip of a known pair in price units: 0.01 when quoted in JPY, else 0.0001."""
    return 0.01 if currencies(pair)[1] == "JPY" else 0.0001


def pip_sizes(pairs: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Vectorised :func:`pip_size` over an array of pair codes, shape (n,), price units."""
    uniq, inv = np.unique(np.asarray(pairs, dtype=str), return_inverse=True)
    table = np.array([pip_size(str(p)) for p in uniq], dtype=np.float64)
    return table[inv.reshape(-1)] if len(uniq) else np.zeros(0, dtype=np.float64)
