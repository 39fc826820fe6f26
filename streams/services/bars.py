"""Loading bars for commands and research: the seeded generator or PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.core.batch import Batch


def get_bars(source: str, pairs: list[str], start: datetime, end: datetime, seed: int) -> tuple[Batch, Any]:
    """Return (bars, truth or None) from ``synth`` (seeded generator) or ``db`` (price_data)."""
    if source == "synth":
        try:
            from streams.data.synth import generate_market
        except ImportError as exc:
            raise RuntimeError(f"--source synth needs streams.data.synth ({exc}); use --source db") from exc
        market = generate_market(pairs, start, end, seed)
        return Batch(market.bars), market.truth
    from streams.storage.bars import load_bars
    from streams.storage.db import connect

    with connect() as conn:
        bars = load_bars(conn, pairs, start, end)
    if bars.n == 0:
        raise ValueError(f"no bars for {pairs} in [{start:%Y-%m-%d}, {end:%Y-%m-%d}) in price_data")
    return bars, None


def read_files(paths: list[str], pair: str, not_after_ms: int | None = None) -> tuple[list[Any], Any, int]:
    """Read one side's bar files of ``pair``; return (per-file results, the bars in time order, repeats).

    Bars of a minute that an earlier file already holds are dropped (``repeats`` counts them), so a
    pair's files can be stored in one upsert and modelled together. ``not_after_ms`` is the ingest's
    clock: rows beyond it (plus a tolerance) are quarantined as in the future.
    """
    import numpy as np

    from streams.data.bars import concat_bars, sort_bars, take_rows
    from streams.data.histdata import read_histdata

    results = [read_histdata(p, pair, not_after_ms=not_after_ms) for p in paths]
    bars = sort_bars(concat_bars([r.bars for r in results]))
    _, first = np.unique(bars["ts"], return_index=True)
    repeats = len(bars["ts"]) - len(first)
    if repeats:
        bars = take_rows(bars, np.sort(first))
    return results, bars, repeats
