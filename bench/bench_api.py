"""``hslr api`` latencies: REST pages (p50/p95/p99 ms) and cache update → SSE event at two poll intervals.

Usage: ``python bench/bench_api.py [--requests 300] [--updates 40]`` with the services running (``hslr
infra up``). The application runs under uvicorn in a thread on loopback (one process, as ``hslr api``),
over rows written by the sink writers into a fresh namespace (``tests/integration/api_seed.py``) and,
for ``bars``, whatever ``price_data`` holds. A keep-alive httpx client sends sequential requests; the
stream is measured from ``LatestCache.update`` of a newer portfolio record to the arrival of its event.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.api.app import ApiConfig, create_app  # noqa: E402
from streams.storage.history import ReaderPool  # noqa: E402
from streams.storage.redis_cache import LatestCache  # noqa: E402
from tests.integration.api_seed import MINUTE, drop_data, free_port, reader_login, seed_data  # noqa: E402


def _pct(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def _serve(cfg: ApiConfig, dsn: str) -> tuple[str, uvicorn.Server]:
    app = create_app(cfg, ReaderPool(dsn), LatestCache.connect(None, cfg.namespace))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _rest(base: str, auth: dict[str, str], n: int) -> dict[str, dict[str, float]]:
    out = {}
    with httpx.Client(base_url=base, headers=auth) as client:
        for name, params in (
            ("orders limit=25", {"limit": 25}),
            ("equity limit=1000", {"limit": 1000}),
            ("bars limit=1000 (whole price_data)", {"limit": 1000, "order": "desc"}),
        ):
            path = "/api/v1/" + name.split()[0]
            ms = []
            for _ in range(n):
                t = time.perf_counter()
                res = client.get(path, params=params)
                ms.append(1000 * (time.perf_counter() - t))
                res.raise_for_status()
            out[name] = _pct(ms)
    return out


def _stream(
    base: str, auth: dict[str, str], cache: LatestCache, seed: object, updates: int
) -> dict[str, float]:
    p = seed.topics["portfolio"]  # type: ignore[attr-defined]
    account = p.take(np.flatnonzero(p["pair"] == "")[-1:])
    last = int(cache.get_ts("portfolio", "") or 0)
    ms = []
    params = {"topics": "portfolio", "pairs": "NONEXX"}
    with httpx.stream("GET", f"{base}/api/v1/stream", headers=auth, params=params, timeout=30) as res:
        lines = res.iter_lines()
        next(line for line in lines if line.startswith("data: "))  # the snapshot
        for k in range(updates):
            last += MINUTE
            time.sleep(0.05 + 0.013 * k % 0.5)  # spread the updates over the poll phase
            t = time.perf_counter()
            cache.update("portfolio", account.with_columns(ts=np.array([last])))
            got = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
            ms.append(1000 * (time.perf_counter() - t))
            assert got["ts"] == last
    return _pct(ms)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--updates", type=int, default=40)
    args = ap.parse_args()
    seed = seed_data()
    user, password = reader_login()
    dsn = f"postgresql://{user}:{password}@127.0.0.1:5432/hslr"
    token = secrets.token_urlsafe(24)
    auth = {"Authorization": f"Bearer {token}"}
    report: dict[str, object] = {}
    try:
        for poll in (0.5, 0.1):
            cfg = ApiConfig(tokens=(token,), namespace=seed.namespace, rate_per_min=10**9, poll_s=poll)
            base, server = _serve(cfg, dsn)
            if poll == 0.5:
                report["rest_ms"] = _rest(base, auth, args.requests)
            report[f"stream_update_ms_poll_{poll}s"] = _stream(
                base, auth, LatestCache.connect(None, seed.namespace), seed, args.updates
            )
            server.should_exit = True
    finally:
        drop_data(seed)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
