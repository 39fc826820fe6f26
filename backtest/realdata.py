"""Loaders for the optional real development data (HistData M1 zips, bid/ask M1 CSVs); no data ships.

The folder layout is the one ``infra/fetch_realdata.sh`` leaves: ``histdata/HISTDATA_COM_ASCII_<PAIR>_M1
<YEAR>.zip`` and ``nautilus/<pair>-m1-{bid,ask}-<year>.csv``.
"""

from __future__ import annotations

from pathlib import Path

from streams.data.bars import BarColumns, concat_bars, sort_bars
from streams.data.histdata import read_histdata

DEV_PAIRS: tuple[str, ...] = ("GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD")
"""Development pairs (EURUSD is held out: never load it here)."""
DEV_YEARS: tuple[int, ...] = (2018, 2019)


def histdata_path(folder: Path, pair: str, year: int) -> Path:
    """Return ``folder/HISTDATA_COM_ASCII_<PAIR>_M1<YEAR>.zip``."""
    return folder / f"HISTDATA_COM_ASCII_{pair}_M1{year}.zip"


def load_histdata_pair(folder: Path, pair: str, years: tuple[int, ...] = DEV_YEARS) -> BarColumns:
    """Return the bid bars of ``pair`` from its yearly HistData zips, sorted by time."""
    parts = [read_histdata(histdata_path(folder, pair, y), pair).bars for y in years]
    return sort_bars(concat_bars(parts))
