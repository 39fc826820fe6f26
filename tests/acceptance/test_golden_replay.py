"""Golden replay: a fixed synthetic market and models trained on it with fixed seeds give exactly the
orders, fills, portfolio path and final equity checked in (``golden_replay.json``).

Parity tests compare engines with each other; this one compares with a fixed record, so a change that
moves every engine equally fails here. A deliberate change of behaviour regenerates the file with
``python -m tests.acceptance.replay`` and shows the difference in review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.acceptance.replay import GOLDEN, run, snapshot


def _first_difference(name: str, fields: list[str], want: list[Any], have: list[Any]) -> str:
    for i, (w, h) in enumerate(zip(want, have, strict=False)):
        if w != h:
            diff = {f: (a, b) for f, a, b in zip(fields, w, h, strict=True) if a != b}
            return f"{name} row {i} differs (golden, now): {diff}"
    return f"{name}: {len(want)} golden rows, {len(have)} now"


def test_golden_replay(tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    test, out, initial = run(tmp_path)
    got = json.loads(json.dumps(snapshot(out, initial)))

    assert test.n > 10_000
    assert len(golden["orders"]) > 100
    assert len(golden["fills"]) > 100
    assert golden["throttle_levels_seen"] == [0.25, 0.5, 1.0], "the golden run must exercise the throttle"
    for name in ("orders", "fills"):
        fields = golden[f"{name[:-1]}_fields"]
        assert got[name] == golden[name], _first_difference(name, fields, golden[name], got[name])
    assert got == golden
