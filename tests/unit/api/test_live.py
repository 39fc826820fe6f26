"""What a stream sends: the filter, the change detection and the event framing."""

from __future__ import annotations

import json

from streams.api.live import StreamFilter, changed, sse


def test_filter_passes_pairless_records_through_any_pair_filter() -> None:
    f = StreamFilter(frozenset({"portfolio", "governance"}), frozenset({"GBPUSD"}))
    assert f.wants("portfolio", "GBPUSD")
    assert f.wants("portfolio", "")  # the account row
    assert f.wants("governance", "")
    assert not f.wants("portfolio", "USDJPY")
    assert not f.wants("orders", "GBPUSD")
    assert StreamFilter(frozenset({"orders"})).wants("orders", "ANYPAIR")


def test_changed_sends_new_and_newer_keys_oldest_first() -> None:
    f = StreamFilter(frozenset({"portfolio", "orders"}))
    versions = {("portfolio", "A"): 30, ("portfolio", "B"): 10, ("orders", "A"): 20, ("fills", "A"): 5}
    assert changed({}, versions, f) == [("portfolio", "B"), ("orders", "A"), ("portfolio", "A")]
    seen = {("portfolio", "B"): 10, ("orders", "A"): 25, ("portfolio", "A"): 20}
    # B unchanged, orders A older than seen (a replay rewound nothing), portfolio A newer
    assert changed(seen, versions, f) == [("portfolio", "A")]


def test_sse_frames_one_json_line_per_event() -> None:
    text = sse("portfolio", {"pair": "A", "x": [1, 2]}, 7)
    assert text == 'id: 7\nevent: portfolio\ndata: {"pair":"A","x":[1,2]}\n\n'
    lines = sse("status", {"cache": "ok"}).split("\n")
    assert lines[0] == "event: status"
    assert json.loads(lines[1].removeprefix("data: ")) == {"cache": "ok"}
