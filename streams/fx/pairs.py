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


_SEPARATORS = str.maketrans("", "", "/_-. ")


def normalize_pair(name: str) -> str:
    """The one spelling of a pair: ``'EUR/USD'``, ``'eur_usd'``, ``' eurusd '`` -> ``'EURUSD'``.

    Raises
    ------
    ValueError
        Empty, or not a known pair after normalisation (the message lists the known pairs).
    """
    if "," in str(name):
        raise ValueError(f"{name!r} names several pairs; give exactly one")
    code = str(name).translate(_SEPARATORS).upper()
    if not code:
        raise ValueError(f"empty pair name {name!r}; known pairs: {', '.join(KNOWN_PAIRS)}")
    if code not in _KNOWN:
        raise ValueError(f"unknown pair {name!r}; known pairs: {', '.join(KNOWN_PAIRS)}")
    return code


def normalize_pairs(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """:func:`normalize_pair` over a config's pair list (duplicates refused: a typo, not a wish)."""
    out = tuple(normalize_pair(n) for n in names)
    if len(set(out)) != len(out):
        raise ValueError(f"pairs {list(names)} name a pair twice")
    return out


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
