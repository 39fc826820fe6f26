from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from streams.data.bars import BAR_FIELDS
from streams.data.histdata import parse_histdata_text, read_histdata
from streams.fx.hours import open_minutes_between
from streams.fx.sessions import to_ms
from tests.unit.data.conftest import HISTDATA

EURUSD = HISTDATA / "DAT_ASCII_EURUSD_M1_201901_sample.csv"
USDJPY = HISTDATA / "DAT_ASCII_USDJPY_M1_201903_sample.csv"
GBPUSD_OLD = HISTDATA / "DAT_ASCII_GBPUSD_M1_200306_sample.csv"
AUDUSD_UTC = HISTDATA / "AUDUSD_M1_2020-03-16_utc_header.csv"
DIRTY = HISTDATA / "EURUSD_M1_dirty.csv"
MIN = 60_000


def _n_lines(path: Path) -> int:
    lines = path.read_text().split("\n")
    return len(lines) - (lines[-1] == "")


def _decimals_ok(x: np.ndarray, decimals: int) -> bool:
    scaled = x * 10.0**decimals
    return bool(np.allclose(scaled, np.round(scaled), atol=1e-6))


def test_eurusd_est_file() -> None:
    res = read_histdata(EURUSD, "EURUSD")
    bars = res.bars
    assert tuple(bars) == BAR_FIELDS
    assert res.rejects == []
    assert len(bars["ts"]) == _n_lines(EURUSD) == 62
    # 20190104 163100 EST (fixed UTC-5) = 2019-01-04 21:31 UTC; 2019-01-04 is day 17900 of the epoch:
    # 17900 * 86_400_000 + (21 * 3600 + 31 * 60) * 1000 = 1_546_637_460_000.
    assert bars["ts"][0] == 1_546_637_460_000
    assert (bars["open"][0], bars["high"][0], bars["low"][0], bars["close"][0]) == (
        1.13904,
        1.13906,
        1.13896,
        1.13901,
    )
    # Last Friday bar 165900 EST = 21:59 UTC; first Sunday bar 20190106 170000 EST = 2019-01-06 22:00 UTC
    # = 17902 * 86_400_000 + 22 * 3_600_000 = 1_546_812_000_000: the weekend gap.
    ts = bars["ts"]
    assert ts[28] == 1_546_639_140_000
    assert ts[29] == 1_546_812_000_000
    gaps = np.diff(ts)
    # Sunday 17:07 and 17:08 EST missing (one 3-minute step), 17:20 missing (one 2-minute step).
    assert sorted(gaps[gaps != MIN].tolist()) == [2 * MIN, 3 * MIN, ts[29] - ts[28]]
    assert _decimals_ok(np.concatenate([bars[k] for k in ("open", "high", "low", "close")]), 5)
    assert bars["spread_modeled"].all()
    assert set(bars["source"]) == {"histdata"}
    assert set(bars["pair"]) == {"EURUSD"}
    assert (bars["volume"] == 0).all()
    assert (bars["spread"] > 0).all()
    assert ts.dtype == np.int64


def test_usdjpy_three_decimals() -> None:
    res = read_histdata(USDJPY, "USDJPY")
    assert len(res.bars["ts"]) == 15
    assert not res.rejects
    # 20190312 030000 EST = 2019-03-12 08:00 UTC (no DST shift although New York is on EDT by then):
    # day 17967 * 86_400_000 + 8 * 3_600_000 = 1_552_377_600_000.
    assert res.bars["ts"][0] == 1_552_377_600_000
    assert res.bars["ts"][-1] == 1_552_377_600_000 + 14 * MIN
    assert res.bars["close"][-1] == 111.406
    assert _decimals_ok(res.bars["close"], 3)
    # JPY pip is 0.01: the modelled spread is in yen; 03:00 EST is reference hours, base 0.25 pip.
    assert 0.002 < float(np.median(res.bars["spread"])) < 0.05


def test_old_four_decimal_file() -> None:
    res = read_histdata(GBPUSD_OLD, "GBPUSD")
    assert len(res.bars["ts"]) == 12
    assert not res.rejects
    # 20030602 090000 EST = 2003-06-02 14:00 UTC = day 12205 * 86_400_000 + 14 * 3_600_000 (a Monday
    # fragment of a week: no Sunday open or Friday close to anchor it, so the documented UTC-5 holds).
    assert res.bars["ts"][0] == 12205 * 86_400_000 + 14 * 3_600_000 == 1_054_562_400_000
    prices = np.concatenate([res.bars[k] for k in ("open", "high", "low", "close")])
    assert _decimals_ok(prices, 4)
    # 4-decimal data: every 1-minute range is a whole number of pips.
    ranges_pips = (res.bars["high"] - res.bars["low"]) / 0.0001
    np.testing.assert_allclose(ranges_pips, np.round(ranges_pips), atol=1e-6)


def test_header_utc_variant() -> None:
    res = read_histdata(AUDUSD_UTC, "AUDUSD")
    assert res.header == "datetime;open;high;low;close;volume"
    assert len(res.bars["ts"]) == 10
    assert not res.rejects
    assert res.lines_read == _n_lines(AUDUSD_UTC) - 1
    # 2020-03-16 13:30:00 is already UTC: day 18337 * 86_400_000 + 13.5 * 3_600_000.
    assert res.bars["ts"][0] == 18337 * 86_400_000 + 48_600_000 == 1_584_365_400_000
    np.testing.assert_array_equal(np.diff(res.bars["ts"]), MIN)


def test_dirty_file_every_line_accounted_for() -> None:
    res = read_histdata(DIRTY, "EURUSD")
    n_lines = _n_lines(DIRTY)
    assert n_lines == 21
    assert len(res.bars["ts"]) + len(res.rejects) == n_lines == res.lines_read
    assert len(res.bars["ts"]) == 5
    assert len(res.rejects) == 16
    reasons = {r.line_no: r.reason for r in res.rejects}
    expected_start = {
        3: "non-finite open",
        4: "non-positive price",
        5: "high 1.14000 < low 1.14030",
        7: "duplicate bar",
        8: "out of order",
        9: "expected 6 fields separated by ';', got 1",
        10: "empty line",
        11: "unparseable close 'abc'",
        12: "unparseable timestamp '2019010 090700'",
        13: "high 1.14040 < max(open, close)",
        14: "low 1.14035 > min(open, close)",
        15: "negative volume",
        16: "expected 6 fields separated by ';', got 5",
        17: "time not on a minute boundary",
        18: "unparseable timestamp '20190230 091100'",
        20: "non-finite open (inf)",
    }
    assert set(reasons) == set(expected_start)
    for line_no, start in expected_start.items():
        assert reasons[line_no].startswith(start), (line_no, reasons[line_no])
    by_line = {r.line_no: r for r in res.rejects}
    # Line 7 duplicates 20190107 090500 EST = 2019-01-07 14:05 UTC.
    assert by_line[7].ts_ms == 1_546_869_600_000 + 5 * MIN
    assert by_line[7].raw == "20190107 090500;1.14028;1.14035;1.14020;1.14030;0"
    assert by_line[9].ts_ms is None
    assert by_line[9].pair == "EURUSD"
    # Good lines 1, 2, 6, 19, 21 (21 ends with CRLF): 14:00, 14:01, 14:05, 14:11, 14:13 UTC.
    start = 1_546_869_600_000
    assert res.bars["ts"].tolist() == [start + m * MIN for m in (0, 1, 5, 11, 13)]
    assert res.bars["close"][-1] == 1.14045


def test_zip_as_published(tmp_path: Path) -> None:
    archive = tmp_path / "HISTDATA_COM_ASCII_EURUSD_M1201901.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(EURUSD, "DAT_ASCII_EURUSD_M1_201901.csv")
        zf.writestr("DAT_ASCII_EURUSD_M1_201901.txt", "HistData.com status report: gap of 120s ...\n")
    from_zip = read_histdata(archive, "EURUSD")
    plain = read_histdata(EURUSD, "EURUSD")
    for k in plain.bars:
        np.testing.assert_array_equal(from_zip.bars[k], plain.bars[k])
    empty = tmp_path / "no_csv.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(ValueError, match="exactly one .csv"):
        read_histdata(empty, "EURUSD")


def test_unknown_pair_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown pair"):
        read_histdata(tmp_path / "does_not_exist.csv", "EURXYZ")


def test_forced_wrong_layout_rejects_every_line() -> None:
    res = read_histdata(EURUSD, "EURUSD", layout="utc")
    assert len(res.bars["ts"]) == 0
    assert len(res.rejects) == 62
    assert all(r.reason.startswith("unparseable timestamp") for r in res.rejects)


def test_empty_text_and_round_trip() -> None:
    assert parse_histdata_text("", "EURUSD").lines_read == 0
    text = "20191231 170000;1.12000;1.12010;1.11990;1.12005;3\n20191231 170100;1.12005;1.12005;1.12005;1.12005;0\n"
    res = parse_histdata_text(text, "EURUSD")
    # 2019-12-31 17:00 EST = 22:00 UTC = 2020-01-01 -2h: 18262 * 86_400_000 - 7_200_000.
    assert res.bars["ts"].tolist() == [18262 * 86_400_000 - 7_200_000, 18262 * 86_400_000 - 7_140_000]
    assert res.bars["volume"].tolist() == [3.0, 0.0]


def test_histdata_clock_follows_the_new_york_week() -> None:
    # regression: a fixed UTC-5 put summer bars an hour late (weeks are anchored to the 17:00 New York
    # open/close, streams.data.histdata_clock; the July week opens on Sunday 17:00 file time, read as
    # UTC-4). The payrolls release (08:30 New York)
    # lands at 13:30 UTC in January, 12:30 UTC in July and on 2019-11-01 (US still on summer time,
    # Europe not, where HistData shows it at 07:30); the week of 15 March 2019 closes 16:59 New York.
    res = read_histdata(HISTDATA / "DAT_ASCII_GBPUSD_M1_2019_clock.csv", "GBPUSD")
    assert not res.rejects
    expected = [
        "2019-01-04T13:30",
        "2019-03-15T20:59",
        "2019-03-17T21:00",
        "2019-06-30T21:00",
        "2019-07-05T12:30",
        "2019-11-01T12:30",
    ]
    assert res.bars["ts"].tolist() == [to_ms(t) for t in expected]
    # so under New York market hours that weekend leaves no open minute without a bar
    assert open_minutes_between(int(res.bars["ts"][1]), int(res.bars["ts"][2])) == 0


def _est_lines(n: int, start: str = "20190102 170000") -> list[str]:
    t0 = np.datetime64(f"{start[:4]}-{start[4:6]}-{start[6:8]}T{start[9:11]}:{start[11:13]}")
    out = []
    for i in range(n):
        t = str(t0 + np.timedelta64(i, "m"))
        stamp = f"{t[:4]}{t[5:7]}{t[8:10]} {t[11:13]}{t[14:16]}00"
        out.append(f"{stamp};1.1000;1.1002;1.0999;1.1001;0")
    return out


def test_far_future_row_is_quarantined_and_later_rows_stay_in_order() -> None:
    # issue 11 #1: a 2999 row was stored and every later good row was quarantined "out of order".
    lines = _est_lines(10)
    lines.insert(3, "29991231 170000;1.1000;1.1002;1.0999;1.1001;0")
    res = parse_histdata_text("\n".join(lines) + "\n", "GBPUSD")
    assert len(res.bars["ts"]) == 10
    assert [(r.line_no, r.reason) for r in res.rejects] == [
        (4, "time '29991231 170000' far outside the file's range")
    ]
    assert res.lines_read == len(res.bars["ts"]) + len(res.rejects)


def test_row_a_year_outside_a_month_file_is_quarantined_but_the_month_is_not() -> None:
    lines = _est_lines(5, "20200302 000000") + ["20210302 000000;1.1000;1.1002;1.0999;1.1001;0"]
    lines += _est_lines(5, "20200303 000000")
    res = parse_histdata_text("\n".join(lines), "GBPUSD")
    assert len(res.bars["ts"]) == 10
    assert [r.line_no for r in res.rejects] == [6]


def test_a_whole_year_file_keeps_its_first_and_last_minute() -> None:
    lines = _est_lines(3, "20190101 170000") + _est_lines(3, "20190701 000000")
    lines += _est_lines(3, "20191231 160000")
    res = parse_histdata_text("\n".join(lines), "GBPUSD")
    assert res.rejects == []


def test_rows_beyond_the_ingest_clock_are_refused() -> None:
    lines = _est_lines(5, "20190102 170000")
    # clock 2019-01-01 00:00 UTC: 2019-01-02 22:00 UTC is 1.9 days ahead (within 2 days), 20190105 is not
    lines += ["20190105 170000;1.1000;1.1002;1.0999;1.1001;0"]
    clock = 1_546_300_800_000
    res = parse_histdata_text("\n".join(lines), "GBPUSD", not_after_ms=clock)
    assert len(res.bars["ts"]) == 5
    assert [r.reason for r in res.rejects] == [
        "time '20190105 170000' is in the future (beyond the ingest clock)"
    ]


def test_nul_byte_line_is_quarantined_with_a_reason_and_an_escaped_raw() -> None:
    # issue 11 #6: a NUL byte gave a psycopg.DataError traceback after 3 bars had been committed.
    lines = _est_lines(5)
    lines[2] = lines[2][:20] + "\x00" + lines[2][20:]
    res = parse_histdata_text("\n".join(lines), "GBPUSD")
    assert len(res.bars["ts"]) == 4
    (rej,) = res.rejects
    assert rej.line_no == 3
    assert rej.reason.startswith("NUL byte in the line")
    assert "\x00" not in rej.raw
    assert "\\x00" in rej.raw
