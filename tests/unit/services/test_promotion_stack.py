from __future__ import annotations

from streams.services.models import promotion_stack


def test_rollbacks_walk_back_through_promotions() -> None:
    history = [("v1", "promote"), ("v2", "promote"), ("v3", "promote"), ("v2", "rollback")]
    assert promotion_stack(history) == ["v1", "v2"]
    assert promotion_stack([*history, ("v1", "rollback")]) == ["v1"]
    assert promotion_stack([*history, ("v4", "promote")]) == ["v1", "v2", "v4"]
    assert promotion_stack([]) == []
