"""How far a running fused worker's trader has got, from its checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def decided(trader: Callable[[], Any]) -> int:
    """The last minute the trader has decided (-1 before its first checkpoint); ``trader`` is a
    :func:`streams.binding.book_check.trader_reader`."""
    state = trader()
    return -1 if state is None else int(state.last_ts)
