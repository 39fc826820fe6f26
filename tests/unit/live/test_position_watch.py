"""The running position check: a one-off difference (an in-flight fill) is tolerated, a difference in
the same pair on two consecutive checks raises once per episode, an agreeing check ends the episode."""

from __future__ import annotations

from streams.live.reconcile import PositionWatch


def test_only_a_lasting_difference_raises_and_only_once() -> None:
    w = PositionWatch()
    assert w.check({"GBPUSD": 10000.0}, {}) is None  # in flight: the trader has not seen the fill yet
    assert w.check({"GBPUSD": 10000.0}, {"GBPUSD": 10000.0}) is None  # it has now
    assert w.check({"GBPUSD": 10000.0}, {"GBPUSD": 10000.4}) is None  # within the 0.5-unit tolerance
    assert w.check({"GBPUSD": 10000.0, "USDJPY": -2000.0}, {"GBPUSD": 10000.0}) is None
    reason = w.check({"GBPUSD": 10000.0, "USDJPY": -2000.0}, {"GBPUSD": 10000.0})
    assert (
        reason == "positions differ on 2 consecutive checks: position USDJPY: broker -2000 units, system +0"
    )
    assert w.check({"USDJPY": -2000.0, "GBPUSD": 10000.0}, {"GBPUSD": 10000.0}) is None  # raised already
    assert w.check({"USDJPY": -2000.0}, {"USDJPY": -2000.0}) is None  # agreement ends the episode
    assert w.check({"USDJPY": -1000.0}, {"USDJPY": -2000.0}) is None
    assert w.check({"USDJPY": -1000.0}, {"USDJPY": -2000.0}) is not None  # a new episode raises again


def test_differences_in_different_pairs_do_not_add_up() -> None:
    w = PositionWatch(confirm=2)
    assert w.check({"GBPUSD": 1000.0}, {}) is None
    assert w.check({"USDJPY": 1000.0}, {}) is None  # another pair: each is a first sighting
    assert w.check({"USDJPY": 1000.0}, {}) is not None
