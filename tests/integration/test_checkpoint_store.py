"""A checkpoint read right after its state topic was created (``hslr live`` on a fresh namespace) finds
no checkpoint instead of failing with NOT_LEADER_FOR_PARTITION (the old code failed 4 times in 5)."""

from __future__ import annotations

import pytest

from streams.binding.kafka_io import CheckpointStore, Out, ensure_topics
from streams.binding.workers import fresh_namespace
from streams.infra import bootstrap_servers

pytestmark = pytest.mark.integration


def test_fresh_state_topic_reads_as_no_checkpoint(services: dict[str, str]) -> None:
    boot = bootstrap_servers()
    for _ in range(2):
        ns = fresh_namespace("ck")
        ensure_topics(boot, ns, ["s1"])
        assert CheckpointStore(boot, ns, Out(boot)).load("s1", timeout=20) == (None, None)
