"""Publishing stored bars to the ``bars`` topic in event-time order (``hslr replay``, live tests)."""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np


def replay(
    pairs: list[str], start: datetime, end: datetime, *, namespace: str, run: str, speed: float | None = None
) -> int:
    """Publish stored bars in event-time order, then an end-of-replay marker; return the bar count.

    ``speed`` N paces the replay at N× real time (event-time gaps between minutes / N), the way a live
    feed gateway publishes: each minute's bars (every pair) as one message, then a watermark closing that
    minute, so a minute with a missing pair is decided at its close, not a minute later. ``None`` is as
    fast as possible (no watermarks: a replay needs none).
    """
    from streams.binding.kafka_io import Out, ensure_topics, publish, publish_marker, publish_watermark
    from streams.settings import settings
    from streams.storage.bars import load_bars
    from streams.storage.db import connect

    s = settings()
    with connect() as conn:
        bars = load_bars(conn, pairs, start, end)
    ensure_topics(s.kafka_bootstrap_servers, namespace)
    out = Out(s.kafka_bootstrap_servers)
    if speed is None:
        publish(out, "bars", bars, namespace)
    else:
        minutes, starts = np.unique(bars["ts"], return_index=True)
        bounds = [*starts[1:], bars.n]
        t_wall, t_event = time.monotonic(), int(minutes[0]) if len(minutes) else 0
        for m, a, b in zip(minutes, starts, bounds, strict=True):
            delay = (int(m) - t_event) / 1000.0 / speed - (time.monotonic() - t_wall)
            if delay > 0:
                time.sleep(delay)
            publish(out, "bars", bars.take(slice(a, b)), namespace, max_records=int(b - a))
            publish_watermark(out, "bars", int(m), namespace)
            out.flush()
    publish_marker(out, "bars", run, namespace)
    out.flush()
    return bars.n
