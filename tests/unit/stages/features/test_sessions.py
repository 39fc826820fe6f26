"""Session ids around the 2019 DST switches (hand-checked) and session-normalised volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streams.stages.features.sessions import SessionStats, session_ids, session_vol_norm
from tests.unit.stages.features.helpers import ref_sessions

ASIA, LONDON, OVERLAP, NEW_YORK, ROLL = 0, 1, 2, 3, 4

# (UTC time, expected id, why). US clocks moved on Sunday 2019-03-10 (EST -5 -> EDT -4), UK clocks
# on Sunday 2019-03-31 (GMT -> BST +1); back on 2019-10-27 (UK) and 2019-11-03 (US).
CASES = [
    ("2019-03-04 07:59", ASIA, "Mon, London opens 08:00 GMT"),
    ("2019-03-04 08:00", LONDON, "London 08:00 GMT"),
    ("2019-03-08 12:59", LONDON, "Fri, New York 07:59 EST"),
    ("2019-03-08 13:00", OVERLAP, "New York 08:00 EST"),
    ("2019-03-08 16:29", OVERLAP, "London 16:29"),
    ("2019-03-08 16:30", NEW_YORK, "London closed 16:30 GMT"),
    ("2019-03-08 21:59", NEW_YORK, "New York 16:59 EST"),
    ("2019-03-08 22:00", ROLL, "Fri 17:00 EST: weekend"),
    ("2019-03-10 20:59", ROLL, "Sun 16:59 EDT: still weekend"),
    ("2019-03-10 21:00", ROLL, "Sun 17:00 EDT: rollover hour"),
    ("2019-03-10 22:00", ASIA, "Sun 18:00 EDT"),
    ("2019-03-11 11:59", LONDON, "Mon after the US switch: New York 07:59 EDT"),
    ("2019-03-11 12:00", OVERLAP, "New York 08:00 EDT = 12:00 UTC"),
    ("2019-03-11 16:30", NEW_YORK, "London still GMT"),
    ("2019-03-11 20:59", NEW_YORK, "New York 16:59 EDT"),
    ("2019-03-11 21:00", ROLL, "New York 17:00 EDT rollover"),
    ("2019-03-11 21:59", ROLL, "rollover lasts 60 min"),
    ("2019-03-11 22:00", ASIA, "New York 18:00 EDT"),
    ("2019-03-29 07:59", ASIA, "Fri before the UK switch, 07:59 GMT"),
    ("2019-04-01 06:59", ASIA, "Mon after the UK switch: London 07:59 BST"),
    ("2019-04-01 07:00", LONDON, "London 08:00 BST = 07:00 UTC"),
    ("2019-04-01 15:29", OVERLAP, "London 16:29 BST"),
    ("2019-04-01 15:30", NEW_YORK, "London 16:30 BST closed"),
    ("2019-10-28 07:00", ASIA, "UK back on GMT: London 07:00"),
    ("2019-10-28 08:00", LONDON, "London 08:00 GMT"),
    ("2019-10-28 12:00", OVERLAP, "US still EDT until 2019-11-03"),
    ("2019-11-04 12:00", LONDON, "US back on EST: New York 07:00"),
    ("2019-11-04 13:00", OVERLAP, "New York 08:00 EST"),
]


def _ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


@pytest.mark.parametrize(("when", "expected", "why"), CASES)
def test_session_id_hand_checked(when: str, expected: int, why: str) -> None:
    assert session_ids(np.array([_ms(when)], dtype=np.int64), 60)[0] == expected, why


def test_session_ids_vectorised_match_pandas_tz_conversion_for_a_year() -> None:
    ts = np.arange(_ms("2019-01-01"), _ms("2020-01-01"), 7 * 60_000, dtype=np.int64)
    np.testing.assert_array_equal(session_ids(ts, 60), ref_sessions(pd.Series(ts), 60))


def test_session_norm_uses_only_completed_occurrences() -> None:
    sid = np.array([1, 1, 3, 3, 1, 1, 1], dtype=np.int32)
    gkv = np.array([1.0, 3.0, 5.0, 5.0, 4.0, 4.0, 9.0])
    vol = np.full(7, 2.0)
    new = np.zeros(7, bool)
    stats, out = session_vol_norm(SessionStats(), sid, gkv, vol, new, alpha=0.5, min_days=1, min_bars=2)
    # London's first occurrence (mean 2) completes at row 2; rows 4-6 are normalised by sqrt(2).
    np.testing.assert_allclose(out, [np.nan] * 4 + [2 / np.sqrt(2)] * 3)
    assert stats.cur == 1
    assert stats.cur_cnt == 3
    assert stats.cur_sum == 17.0
    # A New York bar closes London's second occurrence (mean 17/3): EWMA 2 + 0.5 (17/3 - 2).
    stats, out = session_vol_norm(
        stats,
        np.array([3], np.int32),
        np.array([1.0]),
        np.array([3.0]),
        np.zeros(1, bool),
        alpha=0.5,
        min_days=1,
        min_bars=2,
    )
    assert stats.ref[1] == pytest.approx(2 + 0.5 * (17 / 3 - 2))
    assert out[0] == pytest.approx(3 / np.sqrt(5.0))
    assert stats.days.tolist() == [0, 2, 0, 1, 0]
