"""Operator control records: HMAC over the canonical fields, event time of a command (issue 11 #3/#4)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from streams.core.control_auth import operator_command, parse_at, sign, verify
from streams.fx.pairs import normalize_pair
from tests.kit.control import CONTROL_KEY

REC = {
    "command_id": "operator:RESUME:ALL:0:1",
    "ts": 0,
    "action": "RESUME",
    "scale": 1.0,
    "pair": "",
    "issuer": "operator",
    "reason": "checked",
}


def test_signature_is_hmac_sha256_of_the_canonical_json() -> None:
    body = json.dumps(
        ["hslr-control-v1", REC["command_id"], 0, "RESUME", 1.0, "", "operator", "checked"],
        separators=(",", ":"),
    ).encode()
    assert sign(REC, CONTROL_KEY) == hmac.new(CONTROL_KEY, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "change", [{"action": "KILL"}, {"pair": "GBPUSD"}, {"ts": 1}, {"issuer": "x"}, {"reason": "other"}]
)
def test_any_changed_field_breaks_the_signature(change: dict) -> None:
    rec = {**REC, "signature": sign(REC, CONTROL_KEY)}
    assert verify(rec, CONTROL_KEY)
    assert not verify({**rec, **change}, CONTROL_KEY)
    assert not verify(rec, b"another-key-of-sufficient-length")
    assert not verify(rec, None)
    assert not verify({**REC, "signature": ""}, CONTROL_KEY)


def test_operator_command_is_signed_only_with_a_key() -> None:
    assert verify(operator_command("RESUME", "EURUSD", 5, "r", 9, CONTROL_KEY), CONTROL_KEY)
    assert operator_command("HALT", "", 5, "r", 9, None)["signature"] == ""


def test_parse_at() -> None:
    assert parse_at("now", 123) == 123
    assert parse_at("NEXT", 123) == 0
    assert parse_at("2020-03-02T14:30", 0) == 1_583_159_400_000
    assert parse_at("2020-03-02T15:30+01:00", 0) == 1_583_159_400_000
    with pytest.raises(ValueError, match="expected 'now'"):
        parse_at("tomorrow", 0)


@pytest.mark.parametrize(
    ("name", "code"), [("eurusd", "EURUSD"), ("EUR/USD", "EURUSD"), ("usd_jpy", "USDJPY")]
)
def test_normalize_pair(name: str, code: str) -> None:
    assert normalize_pair(name) == code


@pytest.mark.parametrize(
    ("name", "msg"), [("", "empty"), ("XXXYYY", "unknown"), ("EURUSD,GBPUSD", "several")]
)
def test_normalize_pair_refuses(name: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        normalize_pair(name)


def test_replay_check_takes_the_signing_time_from_the_id_and_keeps_a_high_water() -> None:
    from streams.core.control_auth import ControlRejected, check_replay, signed_at

    hour = 3_600_000
    rec = operator_command("RESUME", "", 10 * hour, "ok", 5_000, CONTROL_KEY)
    assert signed_at(rec) == 5_000  # operator:RESUME:ALL:<ts>:<signed at>
    assert check_replay(rec, -1, -1) == 5_000
    assert check_replay(rec, 4_999, 10 * hour + hour) == 5_000  # an hour behind the stream: still due
    with pytest.raises(ControlRejected, match="replay ignored"):
        check_replay(rec, 5_000, -1)  # the same signing time again
    with pytest.raises(ControlRejected, match="stale or replayed"):
        check_replay(rec, -1, 10 * hour + hour + 1)
    with pytest.raises(ControlRejected, match="without a signing time"):
        check_replay({**rec, "command_id": "operator:RESUME:ALL"}, -1, -1)
    next_event = operator_command("RESUME", "", 0, "ok", 6_000, CONTROL_KEY)  # --at next: no age check
    assert check_replay(next_event, 5_000, 10**13) == 6_000
