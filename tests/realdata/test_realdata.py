"""Real-data checks (``pytest -m realdata`` with ``HSLR_REALDATA_DIR`` set); tolerances are stated per test."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from backtest.spread_study import BIDASK_FILES, load_bidask, quantile_table
from streams.data.histdata import read_histdata
from streams.data.spread_model import SpreadConfig
from streams.data.spreads import fill_spreads

NAME = re.compile(r"HISTDATA_COM_ASCII_([A-Z]{6})_M1(\d{4})\.zip")


def _pair(path: Path) -> str:
    match = NAME.fullmatch(path.name)
    assert match, path
    return match.group(1)


def _data_lines(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        (csv,) = [n for n in zf.namelist() if n.lower().endswith(".csv")]
        text = zf.read(csv).decode("utf-8-sig", errors="replace")
    return sum(1 for ln in text.split("\n") if ln.strip())


def test_ingest_counts_reconcile(histdata_files: list[Path]) -> None:
    # Every non-empty line of the file is a bar or a quarantined reject; rejects stay under 0.1 %.
    for path in histdata_files:
        res = read_histdata(path, _pair(path))
        stored = len(res.bars["ts"])
        assert res.lines_read == stored + len(res.rejects), path.name
        assert _data_lines(path) == res.lines_read + (res.header is not None), path.name
        assert len(res.rejects) <= 0.001 * res.lines_read, (path.name, res.rejects[:3])
        assert all(r.reason for r in res.rejects)


def test_market_hours_gaps(histdata_files: list[Path]) -> None:
    # Gaps over 30 minutes: weekends (about 48 h, Friday close to Sunday open), holidays and a few
    # outages; no bar on a Saturday; at most 10 intraday gaps over 2 hours per file.
    for path in histdata_files:
        ts = read_histdata(path, _pair(path)).bars["ts"]
        weekday = (ts // 86_400_000 + 4) % 7  # 0 = Sunday
        assert not (weekday == 6).any(), f"{path.name}: bars on a Saturday"
        gap_h = np.diff(ts) / 3_600_000
        weekends = gap_h > 40
        assert 45 <= weekends.sum() <= 53, (path.name, int(weekends.sum()))
        assert np.all((gap_h[weekends] > 46) & (gap_h[weekends] < 80)), path.name
        assert int(((gap_h > 2) & ~weekends).sum()) <= 10, path.name


@pytest.mark.parametrize("pair", sorted(BIDASK_FILES))
def test_spread_model_quantiles_vs_real(bidask_dir: Path, pair: str) -> None:
    # Fitted on these files (in sample): session means within 10 %, overall median within 0.1 pip,
    # overall p95 within 0.35 pip, overall p99 within 40 %.
    bars, real = load_bidask(bidask_dir, pair)
    table = quantile_table(bars, real, SpreadConfig()).set_index(["session", "kind"])
    for session in table.index.get_level_values(0).unique():
        r, m = table.loc[(session, "real")], table.loc[(session, "model")]
        assert m["mean"] == pytest.approx(r["mean"], rel=0.10), (session, r["mean"], m["mean"])
    r, m = table.loc[("all", "real")], table.loc[("all", "model")]
    assert abs(m["p50"] - r["p50"]) <= 0.1
    assert abs(m["p95"] - r["p95"]) <= 0.35
    assert m["p99"] == pytest.approx(r["p99"], rel=0.40)


@pytest.mark.parametrize("pair", sorted(BIDASK_FILES))
def test_bid_ask_ingest_gives_real_spreads(bidask_dir: Path, pair: str) -> None:
    # Bid and ask files of the same month align minute by minute; crossed closes stay under 3 %.
    name = BIDASK_FILES[pair]
    bid = read_histdata(bidask_dir / name.format(side="bid"), pair)
    ask = read_histdata(bidask_dir / name.format(side="ask"), pair)
    assert not bid.rejects
    assert not ask.rejects
    out, fill = fill_spreads(bid.bars, ask.bars)
    assert fill.real == len(bid.bars["ts"])
    assert fill.modeled == 0
    assert fill.model is None
    assert fill.crossed <= 0.03 * fill.real
    assert (out["spread"] >= 0).all()
    assert not out["spread_modeled"].any()


# US non-farm payrolls, released at 08:30 New York time (first Fridays; public release calendar).
NFP = [
    "2018-01-05",
    "2018-03-09",
    "2018-04-06",
    "2018-06-01",
    "2018-07-06",
    "2018-08-03",
    "2018-10-05",
    "2018-11-02",
    "2018-12-07",
    "2019-03-08",
    "2019-04-05",
    "2019-06-07",
    "2019-07-05",
    "2019-11-01",
    "2019-12-06",
]


def test_histdata_clock_puts_us_releases_at_0830_new_york(histdata_files: list[Path]) -> None:
    # The bar with the largest range on an NFP day opens at 08:30 New York on at least 80 % of the days
    # (summer and winter), USDCAD; fixed UTC-5 puts the summer ones an hour late.
    import pandas as pd

    files = [f for f in histdata_files if _pair(f) == "USDCAD"]
    if not files:
        pytest.skip("real-data tests: no USDCAD HistData file")
    hits, days = 0, 0
    for path in files:
        bars = pd.DataFrame(read_histdata(path, "USDCAD").bars)
        local = pd.to_datetime(bars["ts"], unit="ms", utc=True).dt.tz_convert("America/New_York")
        bars["day"], bars["hm"] = local.dt.strftime("%Y-%m-%d"), local.dt.strftime("%H:%M")
        bars["range"] = bars["high"] - bars["low"]
        for day in NFP:
            sel = bars[bars["day"] == day]
            if len(sel):
                days += 1
                hits += sel.loc[sel["range"].idxmax(), "hm"] == "08:30"
    assert days, (hits, days)
    assert hits >= 0.8 * days, (hits, days)
