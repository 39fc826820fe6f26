from __future__ import annotations

import numpy as np
import pytest

from streams.data.histdata import parse_histdata_text
from streams.data.spread_model import SpreadConfig, describe, model_spread
from streams.data.spreads import fill_spreads, real_spreads, spread_provenance

# 2012-02-06 (a Monday) 09:00 UTC = 04:00 EST: reference hours.
T0 = 1_328_518_800_000
MIN = 60_000

BID = """timestamp,open,high,low,close
2012-02-06 09:00:00+00:00,1.57600,1.57610,1.57590,1.57600
2012-02-06 09:01:00+00:00,1.57600,1.57620,1.57600,1.57610
2012-02-06 09:02:00Z,1.57610,1.57630,1.57600,1.57620
2012-02-06T09:03:00+00:00,1.57620,1.57620,1.57610,1.57610
2012-02-06 09:04:00+01:00,1.57610,1.57620,1.57600,1.57600
"""
# Minute 09:01 ask close 1.57608 < bid close 1.57610 (crossed); no ask bar at 09:03.
ASK = """timestamp,open,high,low,close
2012-02-06 09:00:00+00:00,1.57607,1.57617,1.57597,1.57607
2012-02-06 09:01:00+00:00,1.57607,1.57626,1.57606,1.57608
2012-02-06 09:02:00+00:00,1.57608,1.57640,1.57605,1.57625
"""


def test_comma_layout_is_read_with_its_line_numbers() -> None:
    res = parse_histdata_text(BID, "GBPUSD")
    assert res.header == "timestamp,open,high,low,close"
    assert res.bars["ts"].tolist() == [T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]
    assert res.bars["close"].tolist() == [1.576, 1.5761, 1.5762, 1.5761]
    assert (res.bars["volume"] == 0).all()
    (bad,) = res.rejects
    assert bad.line_no == 6
    assert "unparseable timestamp '2012-02-06 09:04:00+01:00'" in bad.reason
    assert res.lines_read == len(res.bars["ts"]) + len(res.rejects) == 5


def test_real_spreads_by_hand() -> None:
    bid = parse_histdata_text(BID, "GBPUSD").bars
    ask = parse_histdata_text(ASK, "GBPUSD").bars
    spread, crossed = real_spreads(bid, ask)
    # 09:00: 1.57607 - 1.57600 = 0.7 pip. 09:01 crossed (-0.2 pip): differences open 0.7, high 0.6,
    # low 0.6, close -0.2 pip -> median 0.6 pip. 09:02: 0.5 pip. 09:03: no ask bar.
    np.testing.assert_allclose(spread[:3], [0.7e-4, 0.6e-4, 0.5e-4], atol=1e-12)
    assert np.isnan(spread[3])
    assert crossed.tolist() == [False, True, False, False]


def test_fill_spreads_real_where_ask_exists_else_model() -> None:
    bid = parse_histdata_text(BID, "GBPUSD").bars
    ask = parse_histdata_text(ASK, "GBPUSD").bars
    out, fill = fill_spreads(bid, ask)
    cfg = SpreadConfig()
    expected_model = model_spread(bid["pair"], bid["ts"], bid["high"], bid["low"], cfg)[3]
    np.testing.assert_allclose(out["spread"], [0.7e-4, 0.6e-4, 0.5e-4, expected_model], atol=1e-12)
    assert out["spread_modeled"].tolist() == [False, False, False, True]
    model_id = describe(cfg)["id"]
    assert out["source"].tolist() == [*(["histdata;spread=ask"] * 3), f"histdata;spread={model_id}"]
    assert (fill.real, fill.crossed, fill.modeled) == (3, 1, 1)
    assert fill.model is not None
    assert fill.model["params"]["regime_threshold"] == 1.5


def test_fill_spreads_bid_only_names_the_model() -> None:
    bid = parse_histdata_text(BID, "GBPUSD").bars
    cfg = SpreadConfig(regime_threshold=2.0)
    out, fill = fill_spreads(bid, None, cfg)
    assert out["spread_modeled"].all()
    assert (fill.real, fill.modeled) == (0, 4)
    assert fill.model == describe(cfg)
    assert out["spread"] == pytest.approx(model_spread(bid["pair"], bid["ts"], bid["high"], bid["low"], cfg))


def test_spread_provenance_counts() -> None:
    bid = parse_histdata_text(BID, "GBPUSD").bars
    ask = parse_histdata_text(ASK, "GBPUSD").bars
    out, _ = fill_spreads(bid, ask)
    prov = spread_provenance(out)
    model_id = describe(SpreadConfig())["id"]
    assert prov == {
        "real": 3,
        "modeled": 1,
        "by_source": {"histdata;spread=ask": 3, f"histdata;spread={model_id}": 1},
    }
