"""Reader for HistData.com 1-minute ASCII bars (plain text or the published ZIP).

Layouts
-------
* ``est`` (the documented one): no header, ``YYYYMMDD HHMMSS;open;high;low;close;volume``, times in
  Eastern Standard Time *without* daylight saving, i.e. a fixed UTC-5: ``20190102 170000`` is
  2019-01-02 22:00 UTC. Real files are an hour off that clock during daylight saving, so by default
  each trading week is anchored to the New York 17:00 open/close (:mod:`streams.data.histdata_clock`,
  ``anchor_weeks=False`` reads the documented clock as is).
* ``utc``: a header ``datetime;open;high;low;close;volume`` and ``YYYY-MM-DD HH:MM:SS`` UTC times.
* comma-separated bars with a header ``timestamp,open,high,low,close[,volume]`` and UTC times
  ``YYYY-MM-DD HH:MM:SS[+00:00|Z]`` (the layout of NautilusTrader's FXCM bid/ask test files): each line
  is rewritten to the ``utc`` layout (volume 0 when absent) and then read as above, so every check and
  line number holds; a time with another offset is rejected as unparseable.

``layout='auto'`` picks from the first data line's time field. Every line is accounted for: it
becomes a bar or a :class:`Reject` with its 1-based line number and a readable reason; only a
recognised header line is neither (it is returned in ``IngestResult.header``).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.data.bars import BarColumns
from streams.data.histdata_clock import ClockReport, anchor_weeks
from streams.data.spread_model import SpreadConfig, model_spread
from streams.fx.pairs import validate_pair

EST_OFFSET_MS = 5 * 3_600_000
"""HistData's documented clock is UTC-5: add this to get UTC (weeks are then anchored, see above)."""
SOURCE = "histdata"
Layout = Literal["auto", "est", "utc"]
_FORMATS = {
    "est": (r"\d{8} \d{6}", "YYYYMMDD HHMMSS, EST"),
    "utc": (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "YYYY-MM-DD HH:MM:SS, UTC"),
}
_HEADER_WORDS = frozenset({"datetime", "date", "time", "timestamp"})
_PRICES = ("open", "high", "low", "close")
# Checks in priority order; the first failing one is the row's reason.
(
    _OK,
    _EMPTY,
    _FIELDS,
    _TIME,
    _NUMBER,
    _NONPOS,
    _HL,
    _HIGH,
    _LOW,
    _VOLUME,
    _MINUTE,
    _DUP,
    _ORDER,
    _FAR,
    _FUTURE,
    _NUL,
) = range(16)
DAY_MS = 86_400_000
RANGE_MARGIN_MS = 31 * DAY_MS
"""A row further than this (plus twice the interquartile span) from the median time of the file's
valid rows is outside the file's dominant range (a typo such as year 2999 in a monthly or yearly file)."""
CLOCK_TOLERANCE_MS = 2 * DAY_MS
"""A row later than the ingest's clock plus this is in the future and refused."""


@dataclass(frozen=True)
class Reject:
    """One input line that did not become a bar."""

    line_no: int
    """1-based line number in the file (the header, if any, is line 1)."""
    raw: str
    """The line as read, without its line ending."""
    reason: str
    """Why the line was rejected, human readable."""
    pair: str
    ts_ms: int | None
    """Bar time (ms UTC) when the time field could be parsed, else None."""


@dataclass(frozen=True)
class IngestResult:
    """Bars read from one file plus every line that was rejected."""

    bars: BarColumns
    rejects: list[Reject]
    lines_read: int
    """Data lines examined (all lines but the header): ``len(bars['ts']) + len(rejects)``."""
    header: str | None = None
    clock: ClockReport | None = None
    """How the weeks of an ``est`` file were anchored (None for UTC layouts or ``anchor_weeks=False``)."""


def _file_text(path: Path) -> str:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            csvs = [n for n in zf.namelist() if n.lower().endswith(".csv")]
            if len(csvs) != 1:
                raise ValueError(f"{path}: expected exactly one .csv in the zip, found {csvs}")
            data = zf.read(csvs[0])
    else:
        data = path.read_bytes()
    return data.decode("utf-8-sig", errors="replace")


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


def _detect_layout(lines: list[str]) -> Literal["est", "utc"]:
    for ln in lines[:1000]:
        first = ln.strip().split(";")[0].strip()
        if re.fullmatch(_FORMATS["est"][0], first):
            return "est"
        if re.fullmatch(_FORMATS["utc"][0], first):
            return "utc"
    return "est"


_LAYOUT_SPEC = {
    # layout: (length, {position: separator}, positions of Y, M, D, h, m, s digits)
    "est": (15, {8: " "}, ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15))),
    "utc": (
        19,
        {4: "-", 7: "-", 10: " ", 13: ":", 16: ":"},
        ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)),
    ),
}


def _number(digits: npt.NDArray[np.int64], lo: int, hi: int) -> npt.NDArray[np.int64]:
    out = np.zeros(len(digits), dtype=np.int64)
    for j in range(lo, hi):
        out = out * 10 + digits[:, j]
    return out


def _parse_times(field: list[str], layout: Literal["est", "utc"]) -> npt.NDArray[np.int64]:
    """Parse fixed-width times with numpy (pandas' strptime is ~10x slower); invalid -> int64 min."""
    length, seps, spans = _LAYOUT_SPEC[layout]
    text = np.array([f.strip() for f in field], dtype=str)
    width = max(length + 1, text.dtype.itemsize // 4)
    chars = text.astype(f"U{width}").view(np.uint32).reshape(len(text), width).astype(np.int64)
    ok = (chars[:, length:] == 0).all(axis=1) & (chars[:, length - 1] != 0)
    digit_pos = [j for j in range(length) if j not in seps]
    ok &= ((chars[:, digit_pos] >= 48) & (chars[:, digit_pos] <= 57)).all(axis=1)
    for j, sep in seps.items():
        ok &= chars[:, j] == ord(sep)
    year, month, day, hour, minute, second = (_number(chars - 48, lo, hi) for lo, hi in spans)
    ok &= (month >= 1) & (month <= 12) & (hour < 24) & (minute < 60) & (second < 60) & (day >= 1)
    month_idx = np.where(ok, (year - 1970) * 12 + month - 1, 0)
    first = month_idx.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_first = (month_idx + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= day <= next_first - first
    ms = (((first + day - 1) * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    if layout == "est":
        ms += EST_OFFSET_MS
    return np.where(ok, ms, np.iinfo(np.int64).min)


def _first_failure(codes: npt.NDArray[np.int8], mask: npt.NDArray[np.bool_], code: int) -> None:
    codes[mask & (codes == _OK)] = code


def _far_outside(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Rows far outside the dominant time range of ``ts`` (robust: median and quartiles)."""
    if ts.size < 3:
        return np.zeros(ts.size, dtype=bool)
    q25, q50, q75 = np.percentile(ts.astype(np.float64), [25, 50, 75])
    limit = RANGE_MARGIN_MS + 2 * (q75 - q25) + max(q75 - q50, q50 - q25)
    return np.asarray(np.abs(ts.astype(np.float64) - q50) > limit)


def _check_rows(
    ts: npt.NDArray[np.int64],
    v: dict[str, npt.NDArray[np.float64]],
    codes: npt.NDArray[np.int8],
    not_after_ms: int | None = None,
) -> None:
    o, h, lo, c = (v[k] for k in _PRICES)
    _first_failure(codes, ts == np.iinfo(np.int64).min, _TIME)
    _first_failure(codes, np.asarray(~np.isfinite(np.stack(list(v.values()))).all(axis=0)), _NUMBER)
    with np.errstate(invalid="ignore"):
        _first_failure(codes, np.asarray((np.stack([o, h, lo, c]) <= 0).any(axis=0)), _NONPOS)
        _first_failure(codes, h < lo, _HL)
        _first_failure(codes, h < np.maximum(o, c), _HIGH)
        _first_failure(codes, lo > np.minimum(o, c), _LOW)
        _first_failure(codes, v["volume"] < 0, _VOLUME)
    _first_failure(codes, ts % 60_000 != 0, _MINUTE)
    if not_after_ms is not None:
        _first_failure(codes, ts > not_after_ms + CLOCK_TOLERANCE_MS, _FUTURE)
    timed = np.flatnonzero(codes == _OK)
    codes[timed[_far_outside(ts[timed])]] = _FAR
    valid = np.flatnonzero(codes == _OK)
    prev = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], ts[valid]]))[:-1]
    codes[valid[ts[valid] == prev]] = _DUP
    codes[valid[ts[valid] < prev]] = _ORDER


def _number_reason(fields: list[str]) -> str:
    for name, raw in zip(("open", "high", "low", "close", "volume"), fields[1:], strict=True):
        try:
            value = float(raw)
        except ValueError:
            return f"unparseable {name} {raw.strip()!r}"
        if not np.isfinite(value):
            return f"non-finite {name} ({raw.strip()})"
    return "unparseable number"


_FIXED_REASONS = {
    _EMPTY: "empty line",
    _NUL: "NUL byte in the line (binary data or a corrupt file)",
    _DUP: "duplicate bar",
    _ORDER: "out of order",
    _MINUTE: "time not on a minute boundary",
}


def _time_reason(code: int, stamp: str, layout: Literal["est", "utc"]) -> str:
    if code == _FAR:
        return f"time {stamp!r} far outside the file's range"
    if code == _FUTURE:
        return f"time {stamp!r} is in the future (beyond the ingest clock)"
    return f"unparseable timestamp {stamp!r} (expected {_FORMATS[layout][1]})"


def _reason(code: int, fields: list[str], layout: Literal["est", "utc"]) -> str:
    if code in _FIXED_REASONS:
        return _FIXED_REASONS[code]
    if code in (_FAR, _FUTURE, _TIME):
        return _time_reason(code, fields[0].strip(), layout)
    if code == _FIELDS:
        return f"expected 6 fields separated by ';', got {len(fields)}"
    if code == _NUMBER:
        return _number_reason(fields)
    o, h, lo, c, vol = (x.strip() for x in fields[1:])
    return {
        _NONPOS: f"non-positive price (open={o}, high={h}, low={lo}, close={c})",
        _HL: f"high {h} < low {lo}",
        _HIGH: f"high {h} < max(open, close) = {max(o, c, key=float)}",
        _LOW: f"low {lo} > min(open, close) = {min(o, c, key=float)}",
        _VOLUME: f"negative volume {vol}",
    }[code]


_UTC_SUFFIXES = ("+00:00", "Z")


def _from_comma_layout(lines: list[str]) -> list[str]:
    """Rewrite ``timestamp,open,high,low,close[,volume]`` lines (header first) to the ``utc`` layout."""
    has_volume = len(lines[0].split(",")) >= 6
    out = ["datetime;open;high;low;close;volume"]
    for ln in lines[1:]:
        fields = ln.strip().split(",")
        if fields and fields[0]:
            t = fields[0].strip().replace("T", " ")
            for suffix in _UTC_SUFFIXES:
                t = t.removesuffix(suffix)
            fields[0] = t
        if not has_volume and len(fields) == 5:
            fields.append("0")
        out.append(";".join(fields) if ln.strip() else ln)
    return out


def _is_comma_layout(lines: list[str]) -> bool:
    if not lines or "," not in lines[0] or ";" in lines[0]:
        return False
    return lines[0].strip().split(",")[0].strip().lower() in _HEADER_WORDS


def parse_histdata_text(
    text: str,
    pair: str,
    spread_config: SpreadConfig | None = None,
    *,
    layout: Layout = "auto",
    anchor: bool = True,
    not_after_ms: int | None = None,
) -> IngestResult:
    """Parse the text of a HistData M1 file; see :func:`read_histdata`."""
    validate_pair(pair)
    lines = _split_lines(text)
    comma_header = lines[0] if _is_comma_layout(lines) else None
    if comma_header is not None:
        lines, layout = _from_comma_layout(lines), "utc"
    header = None
    first_field = lines[0].strip().split(";")[0].strip().lower() if lines else ""
    if first_field in _HEADER_WORDS:
        header, lines = comma_header or lines[0], lines[1:]
    offset = 2 if header is not None else 1
    lay: Literal["est", "utc"] = _detect_layout(lines) if layout == "auto" else layout
    parts = [ln.strip().split(";") for ln in lines]
    codes = np.zeros(len(lines), dtype=np.int8)
    n_fields = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    empty = np.fromiter((not ln.strip() for ln in lines), dtype=bool, count=len(lines))
    codes[empty] = _EMPTY
    nul = np.fromiter(("\x00" in ln for ln in lines), dtype=bool, count=len(lines))
    codes[nul & (codes == _OK)] = _NUL
    codes[(codes == _OK) & (n_fields != 6)] = _FIELDS
    rows = np.flatnonzero(codes == _OK)
    cols = list(zip(*(parts[i] for i in rows), strict=True)) if len(rows) else [()] * 6
    ts = np.full(len(lines), np.iinfo(np.int64).min, dtype=np.int64)
    ts[rows] = _parse_times(list(cols[0]), lay)
    clock = None
    if lay == "est" and anchor:
        ts[rows], clock = anchor_weeks(ts[rows], ts[rows] != np.iinfo(np.int64).min)
    names = ("open", "high", "low", "close", "volume")
    values = {k: np.full(len(lines), np.nan) for k in names}
    for k, col in zip(names, cols[1:], strict=True):
        values[k][rows] = pd.to_numeric(pd.Series(col, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64
        )
    sub = codes[rows]
    _check_rows(ts[rows], {k: v[rows] for k, v in values.items()}, sub, not_after_ms)
    codes[rows] = sub
    res = _assemble(pair, lines, parts, codes, ts, values, offset, lay, header, spread_config)
    return IngestResult(res.bars, res.rejects, res.lines_read, res.header, clock)


def _assemble(
    pair: str,
    lines: list[str],
    parts: list[list[str]],
    codes: npt.NDArray[np.int8],
    ts: npt.NDArray[np.int64],
    values: dict[str, npt.NDArray[np.float64]],
    offset: int,
    layout: Literal["est", "utc"],
    header: str | None,
    spread_config: SpreadConfig | None,
) -> IngestResult:
    nat = np.iinfo(np.int64).min
    rejects = [
        Reject(
            int(i) + offset,
            lines[i].replace("\x00", "\\x00"),
            _reason(int(codes[i]), parts[i], layout),
            pair,
            None if ts[i] == nat else int(ts[i]),
        )
        for i in np.flatnonzero(codes != _OK)
    ]
    keep = codes == _OK
    n = int(keep.sum())
    bars: dict[str, npt.NDArray[Any]] = {"pair": np.full(n, pair), "ts": ts[keep]}
    bars.update({k: values[k][keep] for k in (*_PRICES, "volume")})
    bars["spread"] = model_spread(bars["pair"], bars["ts"], bars["high"], bars["low"], spread_config)
    bars["spread_modeled"] = np.ones(n, dtype=bool)
    bars["source"] = np.full(n, SOURCE)
    return IngestResult(bars=bars, rejects=rejects, lines_read=len(lines), header=header)


def read_histdata(
    path: str | Path,
    pair: str,
    spread_config: SpreadConfig | None = None,
    *,
    layout: Layout = "auto",
    anchor: bool = True,
    not_after_ms: int | None = None,
) -> IngestResult:
    """Read a HistData.com M1 file (``.csv``/``.txt`` or the published ``.zip``) into bars.

    Parameters
    ----------
    path : str or Path
        Text file, or a zip holding exactly one ``.csv`` (other members such as the ``.txt`` status
        report are ignored).
    pair : str
        Pair code of the file, e.g. ``'EURUSD'``; checked before the file is opened.
    spread_config : SpreadConfig, optional
        Spread model for the bid-only bars (``spread_modeled`` is True on every bar).
    layout : {'auto', 'est', 'utc'}
        Time convention; ``auto`` detects it from the first data line.
    anchor : bool
        For ``est`` files, read each week as UTC-5 or UTC-4 so that it opens/closes at 17:00 New
        York (see :mod:`streams.data.histdata_clock`); False keeps the documented fixed UTC-5.
    not_after_ms : int, optional
        The ingest's clock (ms UTC): rows later than it plus ``CLOCK_TOLERANCE_MS`` are rejected as in
        the future. Rows far outside the file's own dominant range (``RANGE_MARGIN_MS`` beyond its
        quartiles) are always rejected, before the order check, so later good rows stay in order.

    Returns
    -------
    IngestResult
        ``bars`` (columns of ``BAR_FIELDS``, ts in ms UTC, prices as in the file, source
        ``'histdata'``), ``rejects`` (one per rejected line, 1-based line numbers) and
        ``lines_read``.

    Raises
    ------
    ValueError
        Unknown pair, or a zip without exactly one ``.csv``.
    """
    validate_pair(pair)
    return parse_histdata_text(
        _file_text(Path(path)), pair, spread_config, layout=layout, anchor=anchor, not_after_ms=not_after_ms
    )
