"""Fuzz the HistData reader (hypothesis, bounded): nothing crashes, every line is accounted for, every
reject has a reason and a storable raw text, and every bar that passes is valid (issue 11)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.data.histdata import parse_histdata_text

T0 = np.datetime64("2019-03-04T00:00")


@st.composite
def good_line(draw: st.DrawFn) -> str:
    t = str(T0 + np.timedelta64(draw(st.integers(0, 60 * 24 * 20)), "m"))
    o, c = draw(st.floats(1.0, 2.0)), draw(st.floats(1.0, 2.0))
    h, lo = max(o, c) + draw(st.floats(0, 0.01)), min(o, c) - draw(st.floats(0, 0.01))
    return f"{t[:4]}{t[5:7]}{t[8:10]} {t[11:13]}{t[14:16]}00;{o:.5f};{h:.5f};{lo:.5f};{c:.5f};0"


junk = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.text(alphabet="0123456789;. -:\x00eE+naif", max_size=60),
    st.sampled_from(
        ["", ";;;;;", "29991231 170000;1;1;1;1;0", "20190304 000000;nan;1;1;1;0", "x;1e309;1;1;1;0"]
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    line = draw(good_line())
    i = draw(st.integers(0, len(line)))
    return line[:i] + draw(junk) + line[i + draw(st.integers(0, 3)) :]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(good_line(), good_line(), mutated(), junk), min_size=0, max_size=60))
def test_reader_never_crashes_and_accounts_for_every_line(lines: list[str]) -> None:
    text = "\n".join(lines)
    res = parse_histdata_text(text, "GBPUSD")
    b = res.bars
    assert res.lines_read == len(b["ts"]) + len(res.rejects)
    assert all(r.reason and "\x00" not in r.raw and "\x00" not in r.reason for r in res.rejects)
    assert len({r.line_no for r in res.rejects}) == len(res.rejects)
    if len(b["ts"]):
        assert (np.diff(b["ts"]) > 0).all()
        assert (b["ts"] % 60_000 == 0).all()
        prices = np.stack([b["open"], b["high"], b["low"], b["close"]])
        assert np.isfinite(prices).all()
        assert (prices > 0).all()
        assert (b["high"] >= np.maximum(b["open"], b["close"])).all()
        assert (b["low"] <= np.minimum(b["open"], b["close"])).all()
