"""The running check of the broker's book against the trader's: a one-off difference (an in-flight
fill) is tolerated, a difference on two consecutive checks raises once per episode, an agreeing check
ends the episode; working orders in flight (just sent, cancelled or reported, or decided after the
trader's checkpoint) are left out."""

from __future__ import annotations

from streams.live.reconcile import Book, BookWatch, InFlight
from streams.live.v20_orders import WorkingOrder

MINE = WorkingOrder("mine", "GBPUSD", 10000.0, 1.3)
STRANGER = WorkingOrder("stranger", "USDJPY", -2000.0, 110.25)


def pos(p: dict[str, float]) -> Book:
    return Book({}, p)


def test_only_a_lasting_difference_raises_and_only_once() -> None:
    w = BookWatch()
    assert (
        w.check(pos({"GBPUSD": 10000.0}), pos({})) is None
    )  # in flight: the trader has not seen the fill yet
    assert w.check(pos({"GBPUSD": 10000.0}), pos({"GBPUSD": 10000.0})) is None  # it has now
    assert (
        w.check(pos({"GBPUSD": 10000.0}), pos({"GBPUSD": 10000.4})) is None
    )  # within the 0.5-unit tolerance
    assert w.check(pos({"GBPUSD": 10000.0, "USDJPY": -2000.0}), pos({"GBPUSD": 10000.0})) is None
    reason = w.check(pos({"GBPUSD": 10000.0, "USDJPY": -2000.0}), pos({"GBPUSD": 10000.0}))
    assert (
        reason == "positions differ on 2 consecutive checks: position USDJPY: broker -2000 units, system +0"
    )
    assert (
        w.check(pos({"USDJPY": -2000.0, "GBPUSD": 10000.0}), pos({"GBPUSD": 10000.0})) is None
    )  # raised already
    assert w.check(pos({"USDJPY": -2000.0}), pos({"USDJPY": -2000.0})) is None  # agreement ends the episode
    assert w.check(pos({"USDJPY": -1000.0}), pos({"USDJPY": -2000.0})) is None
    assert (
        w.check(pos({"USDJPY": -1000.0}), pos({"USDJPY": -2000.0})) is not None
    )  # a new episode raises again


def test_differences_in_different_pairs_do_not_add_up() -> None:
    w = BookWatch(confirm=2)
    assert w.check(pos({"GBPUSD": 1000.0}), pos({})) is None
    assert w.check(pos({"USDJPY": 1000.0}), pos({})) is None  # another pair: each is a first sighting
    assert w.check(pos({"USDJPY": 1000.0}), pos({})) is not None


def test_an_order_the_trader_does_not_know_raises_on_the_second_check() -> None:
    w = BookWatch()
    broker, system = Book({"stranger": STRANGER}, {}), Book({}, {})
    assert w.check(broker, system) is None
    assert w.check(broker, system) == (
        "working orders differ on 2 consecutive checks: unknown_order USDJPY: broker holds stranger "
        "(-2000 @ 110.25) the system does not know"
    )
    assert w.check(broker, system) is None  # once per episode


def test_an_order_the_broker_no_longer_holds_raises_on_the_second_check() -> None:
    w = BookWatch()
    broker, system = Book({}, {}), Book({"mine": MINE}, {})
    assert w.check(broker, system) is None
    assert w.check(broker, system) == (
        "working orders differ on 2 consecutive checks: missing_order GBPUSD: system's working order mine "
        "(+10000) is not at the broker (filled or cancelled unseen)"
    )


def test_orders_and_positions_together_and_each_order_its_own_streak() -> None:
    w = BookWatch()
    other = WorkingOrder("other", "GBPUSD", 5000.0, 1.29)
    assert w.check(Book({"mine": MINE}, {}), Book({"other": other}, {})) is None  # two first sightings
    # "mine" is now known, "other" missing a second time, a position differs a first time: "other" only
    reason = w.check(Book({"mine": MINE}, {"GBPUSD": 1000.0}), Book({"mine": MINE, "other": other}, {}))
    assert reason is not None
    assert reason.startswith("working orders differ on 2 consecutive checks: missing_order GBPUSD: ")
    assert "mine" not in reason
    w2 = BookWatch()
    for _ in range(2):
        reason = w2.check(Book({"stranger": STRANGER}, {"GBPUSD": 1000.0}), Book({}, {}))
    assert reason is not None
    assert reason.startswith(
        "positions and working orders differ on 2 consecutive checks: unknown_order USDJPY"
    )
    assert reason.endswith("; position GBPUSD: broker +1000 units, system +0")


def test_orders_in_flight_never_raise() -> None:
    w = BookWatch()
    # the trader decided "new" after its checkpoint and the gateway sent it; it cancelled "mine" and
    # the broker has dropped it: neither is in the trader's checkpoint yet
    broker, system = Book({"new": STRANGER}, {}), Book({"mine": MINE}, {})
    for _ in range(5):
        assert w.check(broker, system, frozenset({"new", "mine"})) is None
    assert w.check(broker, system, frozenset({"new"})) is None  # "mine" settled: a first sighting
    assert w.check(broker, system, frozenset({"new"})) is not None


def test_in_flight_by_wall_time_or_by_the_checkpoint() -> None:
    f = InFlight(window_ms=30_000)
    f.touch("a", wall_ms=1_000, event_ms=60_000)  # sent at wall 1 s, decided at minute 60 s
    assert f.ids(now_ms=30_999, as_of=60_000) == {"a"}  # within 30 s of sending
    assert f.ids(now_ms=31_000, as_of=60_000) == frozenset()  # 30 s on, and the checkpoint has it
    f.touch("b", wall_ms=1_000, event_ms=120_000)  # decided after the checkpoint
    assert f.ids(now_ms=100_000, as_of=60_000) == {"b"}
    assert f.ids(now_ms=100_000, as_of=119_999) == {"b"}
    assert f.ids(now_ms=100_000, as_of=120_000) == frozenset()  # the checkpoint reached it
    f.touch("c", wall_ms=1_000, event_ms=180_000)
    f.touch("c", wall_ms=2_000, event_ms=150_000)  # a later touch keeps the latest event
    assert f.ids(now_ms=100_000, as_of=170_000) == {"c"}
    assert f.ids(now_ms=-1, as_of=-1) == {"c"}
    assert f.touched == {"c": (2_000, 180_000)}
