"""A topic replay's transport settings: the collector decodes records as they arrive, and the replay's
workers fetch in larger requests than a live worker (a replay-only setting)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import faust
import pytest
from prometheus_client import CollectorRegistry

from backtest.engine import replay_worker_env
from streams.binding import kafka_io
from streams.binding.faust_app import create_app
from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.binding.metrics import PrometheusMetrics
from streams.binding.workers import fresh_namespace
from streams.core.batch import Batch, concat
from streams.infra import bootstrap_servers
from streams.serde.avro import AvroCodec
from streams.settings import Settings
from tests.kit.records import records

pytestmark = pytest.mark.integration


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def test_collect_decodes_while_records_arrive_and_returns_one_decode_of_them(
    services: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two waves of quarantine records, the second with longer reasons (a wider string column), with a
    pause between: the collector decodes the first wave before the second is published, and returns the
    records exactly as one decode of every message would (values and dtypes)."""
    ns, bootstrap = fresh_namespace("col"), bootstrap_servers()
    ensure_topics(bootstrap, ns)
    first = records("quarantine", 40, 1, reason=[f"r{i}" for i in range(40)])
    second = records("quarantine", 30, 2, reason=[f"a much longer reason {i:03d}" * 3 for i in range(30)])
    calls: list[int] = []
    decoded = kafka_io._decoded
    monkeypatch.setattr(kafka_io, "_decoded", lambda k, n, v, i: calls.append(len(v)) or decoded(k, n, v, i))
    out = Out(bootstrap)
    thread, box = _in_thread(lambda: collect(bootstrap, ["quarantine"], "waves", ns, timeout=60))
    publish(out, "quarantine", first, ns, max_records=7)
    out.flush()
    deadline = time.monotonic() + 30
    while not calls and time.monotonic() < deadline:  # the first wave decoded before the second exists
        time.sleep(0.02)
    assert calls, "the first wave was not decoded while the collector waited for the rest"
    publish(out, "quarantine", second, ns, max_records=7)
    publish_marker(out, "quarantine", "waves", ns)
    out.flush()
    thread.join(60)
    assert "error" not in box, box.get("error")
    got: Batch = box["value"]["quarantine"]

    codec = AvroCodec("quarantine")
    messages = [m for b in (first, second) for m in codec.encode_batch_indexed(b, 7)]
    at_once, errors, _ = codec.decode_messages([v for v, _ in messages], [i for _, i in messages])
    assert not errors
    assert len(calls) >= 2
    assert sum(calls) == len(messages)
    assert got.equals(at_once)
    assert {k: got[k].dtype for k in got} == {k: at_once[k].dtype for k in at_once}
    assert got.equals(concat([first, second]).select(got.keys()))


def test_collect_of_a_topic_without_records_gives_its_empty_batch(services: dict[str, str]) -> None:
    ns, bootstrap = fresh_namespace("col"), bootstrap_servers()
    ensure_topics(bootstrap, ns)
    out = Out(bootstrap)
    publish_marker(out, "quarantine", "empty", ns)
    out.flush()
    got = collect(bootstrap, ["quarantine"], "empty", ns, timeout=60)["quarantine"]
    want, _, _ = AvroCodec("quarantine").decode_messages([], [])
    assert got.n == 0
    assert sorted(got.keys()) == sorted(want.keys())


def test_replay_workers_fetch_more_per_request_than_live_workers(
    services: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live worker keeps Faust's own fetch size; a replay worker's environment raises it, and the app
    hands it to Faust's consumer."""
    for name in ("HSLR_CONSUMER_MAX_FETCH_BYTES", "CONSUMER_MAX_FETCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    faust_default = faust.App("probe").conf.consumer_max_fetch_size
    live = Settings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings' init keyword
    for key, value in replay_worker_env(500, "").items():
        monkeypatch.setenv(key, value)
    replay = Settings(_env_file=None)  # type: ignore[call-arg]
    assert live.hslr_consumer_max_fetch_bytes == faust_default
    assert replay.hslr_consumer_max_fetch_bytes > faust_default

    for s in (live, replay):
        app = create_app(
            [],
            bootstrap=bootstrap_servers(),
            namespace=fresh_namespace("fetch"),
            max_fetch_bytes=s.hslr_consumer_max_fetch_bytes,
            datadir=tmp_path / str(s.hslr_consumer_max_fetch_bytes),
            metrics=PrometheusMetrics(CollectorRegistry()),
        )
        assert app.conf.consumer_max_fetch_size == s.hslr_consumer_max_fetch_bytes
