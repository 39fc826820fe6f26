"""A worker with Kafka down ends with one clear line and exit 2, not a traceback (issue 11 #8)."""

from __future__ import annotations

import pytest

from streams.binding.kafka_io import ensure_topics


def test_unreachable_broker_is_a_runtime_error_naming_it() -> None:
    # port 1 on loopback: refused at once, nothing leaves the machine
    with pytest.raises(RuntimeError, match=r"Kafka at 127\.0\.0\.1:1 is unreachable"):
        ensure_topics("127.0.0.1:1", "down", ["market"], timeout_s=2.0)


@pytest.mark.parametrize(
    ("topics", "dsn", "redis_url", "message"),
    [
        (
            ["orders"],
            "postgresql://hslr@127.0.0.1:1/hslr?connect_timeout=2",
            None,
            "PostgreSQL does not answer",
        ),
    ],
)
def test_sinks_preflight_refuses_to_start_when_a_store_is_down(topics, dsn, redis_url, message) -> None:
    # issue 11 #9: a worker with --sinks and Postgres down published its orders, then exited 71 (a
    # crash loop that keeps trading unrecorded under a supervisor)
    from streams.binding.sink_agents import preflight

    with pytest.raises(RuntimeError, match=message):
        preflight(topics, dsn=dsn, redis_url=redis_url)
