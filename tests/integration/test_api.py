"""``hslr api`` against the real PostgreSQL and Redis, through a real HTTP client (httpx) and a real
browser (headless Chromium via Playwright): history pages, auth, limits, CORS, the read-only role, the
SSE stream, the OpenAPI spec (schemathesis) and the live page."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
import redis
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from psycopg.conninfo import make_conninfo
from schemathesis.checks import positive_data_acceptance

from streams.api.app import ApiConfig, create_app
from streams.api.server import checked_reader
from streams.storage.db import default_dsn
from streams.storage.history import ReaderPool
from streams.storage.redis_cache import LatestCache
from tests.integration.api_seed import (
    MINUTE,
    PAIRS,
    Seed,
    Server,
    api_server,
    drop_data,
    free_port,
    seed_data,
)
from tests.kit.records import records

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seed(services: dict[str, str]) -> Iterator[Seed]:
    data = seed_data()
    yield data
    drop_data(data)


@pytest.fixture(scope="module")
def api(seed: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("api") / "api.log"
    with api_server(seed.namespace, log, HSLR_API_RATE_PER_MIN="100000") as server:
        yield server


def _auth(api: Server, k: int = 0) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[k]}"}


def _all_pages(api: Server, resource: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages, cursor = 0, None
    while True:
        res = httpx.get(
            f"{api.url}/api/v1/{resource}",
            headers=_auth(api),
            params={**params, "cursor": cursor} if cursor else params,
        )
        assert res.status_code == 200, res.text
        body = res.json()
        rows += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages


def test_orders_page_through_every_row_once_in_time_then_key_order(api: Server, seed: Seed) -> None:
    o = seed.topics["orders"]
    want = sorted(zip(o["ts"].tolist(), o["client_order_id"].tolist(), strict=True))  # (ts, id) order
    rows, pages = _all_pages(api, "orders", limit=7)
    assert [(r["ts"], r["client_order_id"]) for r in rows] == want
    assert pages == 4  # 25 rows, 7 a page
    newest, _ = _all_pages(api, "orders", limit=4, order="desc")
    assert [(r["ts"], r["client_order_id"]) for r in newest] == want[::-1]
    assert {r["status"] for r in rows} == {"FILLED"}  # the fills' execution reports moved every order on


def test_equity_and_filters_match_what_was_written(api: Server, seed: Seed) -> None:
    p = seed.topics["portfolio"]
    account = p["pair"] == ""
    rows, _ = _all_pages(api, "equity", limit=1000)
    assert [r["ts"] for r in rows] == p["ts"][account].tolist()
    assert [r["equity"] for r in rows] == pytest.approx(p["equity_usd"][account].tolist())
    assert [r["drawdown"] for r in rows] == pytest.approx(p["drawdown"][account].tolist())
    start, end = seed.t0 + 5 * MINUTE, seed.t0 + 9 * MINUTE
    iso = {"start": _iso(start), "end": _iso(end)}
    window, _ = _all_pages(api, "positions", pair="USDJPY", **iso)
    assert [r["ts"] for r in window] == [seed.t0 + k * MINUTE for k in range(5, 9)]  # [start, end)
    assert {r["pair"] for r in window} == {"USDJPY"}
    bars, _ = _all_pages(
        api, "bars", pair="GBPUSD", limit=11, start=_iso(seed.t0), end=_iso(seed.t0 + 30 * MINUTE)
    )
    b = seed.topics["bars"]
    assert [r["close"] for r in bars] == pytest.approx(b["close"][b["pair"] == "GBPUSD"].tolist())


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_auth_bad_requests_and_no_cors(api: Server) -> None:
    url = f"{api.url}/api/v1/equity"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url, headers={"Authorization": "Bearer not-a-token-of-this-service"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Basic {api.tokens[0]}"}).status_code == 401
    assert httpx.get(url, headers=_auth(api, 1)).status_code == 200
    assert httpx.get(url, headers=_auth(api), params={"cursor": "bm90IGEgY3Vyc29y"}).status_code == 400
    assert httpx.get(url, headers=_auth(api), params={"limit": 1001}).status_code == 422
    assert httpx.get(url, headers=_auth(api), params={"limit": 0}).status_code == 422
    page = httpx.get(f"{api.url}/live")  # the page itself needs no token; its data does
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert httpx.get(f"{api.url}/static/app.py").status_code == 404  # only the page's own files
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    pre = httpx.options(url, headers=origin)
    assert "access-control-allow-origin" not in pre.headers
    got = httpx.get(url, headers={**_auth(api), "Origin": "https://evil.example"})
    assert got.status_code == 200
    assert "access-control-allow-origin" not in got.headers


@contextmanager
def _in_thread(
    cfg: ApiConfig, api: Server, cache: LatestCache | None = None, dsn: str | None = None
) -> Iterator[str]:
    """The same application under uvicorn in a thread on a free loopback port (no interpreter start-up)."""
    app = create_app(
        cfg, ReaderPool(dsn or api.reader_dsn), cache or LatestCache.connect(None, cfg.namespace)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_rate_and_stream_limits_answer_429(api: Server, seed: Seed) -> None:
    cfg = ApiConfig(
        tokens=api.tokens, namespace=seed.namespace, rate_per_min=5, streams_per_token=1, poll_s=0.1
    )
    with _in_thread(cfg, api) as base:
        url = f"{base}/api/v1/equity"
        codes = [httpx.get(url, headers=_auth(api)).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2  # a bucket of 5; refills at 5/min, far slower than this
        assert int(httpx.get(url, headers=_auth(api)).headers["retry-after"]) >= 1
        assert httpx.get(url, headers=_auth(api, 1)).status_code == 200  # the other token has its own
        stream = f"{base}/api/v1/stream"
        with httpx.stream("GET", stream, headers=_auth(api, 1), timeout=10) as first:
            assert first.status_code == 200
            second = httpx.get(stream, headers=_auth(api, 1), params={"max_events": 1})
            assert second.status_code == 429  # one open stream per token (the bucket still had room)


def test_history_without_a_database_is_a_503_not_a_traceback(api: Server, seed: Seed) -> None:
    dead = make_conninfo(api.reader_dsn, port=str(free_port()))  # nothing listens there
    with _in_thread(ApiConfig(tokens=api.tokens, namespace=seed.namespace), api, dsn=dead) as base:
        res = httpx.get(f"{base}/api/v1/orders", headers=_auth(api))
    assert res.status_code == 503
    assert res.json() == {"detail": "database unavailable (OperationalError)"}


@contextmanager
def _private_redis(tmp_path: Path) -> Iterator[tuple[int, Callable[[], None], Callable[[], None]]]:
    """A Redis of our own on a free port (the shared one is never stopped): (port, stop, start)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port, procs = free_port(), []

    def start() -> None:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))  # noqa: S603 - fixed argv
        client, deadline = redis.Redis(port=port), time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop() -> None:
        procs[-1].terminate()
        procs[-1].wait(timeout=10)

    start()
    try:
        yield port, stop, start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_stream_stays_open_through_a_redis_outage_and_says_so(
    api: Server, seed: Seed, tmp_path: Path
) -> None:
    p = seed.topics["portfolio"]
    account = p.take(np.flatnonzero(p["pair"] == "")[-1:])
    t = int(account["ts"][0])
    with _private_redis(tmp_path) as (port, stop, start):
        cache = LatestCache(
            redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2), seed.namespace
        )
        cache.update("portfolio", account)
        cfg = ApiConfig(tokens=api.tokens, namespace=seed.namespace, poll_s=0.1)
        with (
            _in_thread(cfg, api, cache) as base,
            httpx.stream(
                "GET", f"{base}/api/v1/stream", headers=_auth(api), params={"topics": "portfolio"}, timeout=20
            ) as res,
        ):
            lines = res.iter_lines()
            assert _next_event(lines) == ("portfolio", t)
            stop()
            name, data = _next_event(lines, raw=True)
            assert (name, data["cache"]) == ("status", "unavailable")
            start()  # an empty Redis: the workers' next records fill it again
            cache.update("portfolio", account.with_columns(ts=np.array([t + MINUTE])))
            assert _next_event(lines, raw=True) == ("status", {"cache": "ok"})
            assert _next_event(lines) == ("portfolio", t + MINUTE)


def _next_event(lines: Iterator[str], raw: bool = False) -> tuple[str, Any]:
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            return (name, data) if raw else (name, data["ts"])
    raise AssertionError("the stream ended")


def test_the_api_role_reads_but_cannot_write(api: Server) -> None:
    with psycopg.connect(api.reader_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM equity").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO equity (namespace, ts, equity, high_water_mark, drawdown) VALUES ('x', now(), 1, 1, 0)"
            )
    with pytest.raises(ValueError, match="may write"):
        checked_reader(default_dsn())  # the owner role is refused


def _events(api: Server, **params: Any) -> list[tuple[str, dict[str, Any]]]:
    out = []
    with httpx.stream(
        "GET", f"{api.url}/api/v1/stream", headers=_auth(api), params=params, timeout=20
    ) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in res.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def _latest(batch: Any, pair: str) -> dict[str, Any]:
    rows = [r for r in batch.to_records() if r.get("pair", "") == pair]
    return max(rows, key=lambda r: r["ts"])


def test_stream_sends_the_latest_record_per_pair_then_each_newer_one(api: Server, seed: Seed) -> None:
    got = _events(api, topics="portfolio,regime.adjusted", pairs="GBPUSD", max_events=3)
    by_key = {(n, d["pair"]): d for n, d in got}
    assert set(by_key) == {("portfolio", ""), ("portfolio", "GBPUSD"), ("regime.adjusted", "GBPUSD")}
    for (topic, pair), d in by_key.items():
        want = _latest(seed.topics[topic], pair)
        assert d["ts"] == want["ts"] == d["record"]["ts"]
        assert d["record"]["prob_stable" if topic == "regime.adjusted" else "equity_usd"] == pytest.approx(
            want["prob_stable" if topic == "regime.adjusted" else "equity_usd"]
        )
    # a newer account record reaches an open stream; an older one (a replay) never does
    last = int(seed.topics["portfolio"]["ts"].max())
    cache = LatestCache.connect(None, seed.namespace)
    with httpx.stream(
        "GET",
        f"{api.url}/api/v1/stream",
        headers=_auth(api),
        params={"topics": "portfolio", "pairs": "NONEXX", "max_events": 2},
        timeout=20,
    ) as res:
        lines = res.iter_lines()
        first = _next_data(lines)
        assert (first["ts"], first["pair"]) == (last, "")
        p = seed.topics["portfolio"]
        account = p.take(np.flatnonzero(p["pair"] == "")[-1:])  # the last account row, moved in time
        older = account.with_columns(ts=np.array([last - MINUTE]), equity_usd=np.array([1.0]))
        newer = account.with_columns(ts=np.array([last + MINUTE]), equity_usd=account["equity_usd"] - 5.0)
        assert cache.update("portfolio", older) == 0
        t = time.monotonic()
        assert cache.update("portfolio", newer) == 1
        second = _next_data(lines)
        assert second["ts"] == last + MINUTE
        assert second["record"]["equity_usd"] == pytest.approx(float(account["equity_usd"][0]) - 5.0)
        assert time.monotonic() - t < 5
    assert (
        cache.update("portfolio", seed.topics["portfolio"].take(seed.topics["portfolio"]["pair"] == "")) == 0
    )


def _next_data(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line[6:])
    raise AssertionError("the stream ended")


def test_api_conforms_to_its_openapi_spec(api: Server) -> None:
    # schemathesis generates requests from the served spec (valid and invalid parameters) and checks every
    # answer against it: documented status codes, content types and response schemas, no 5xx, and that
    # a request without the token is refused; a bounded number of examples per operation
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json").exclude(path="/api/v1/stream")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) == 11  # ten history resources and the liveness probe

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # a cursor is opaque: a string of the right alphabet the service did not issue is a 400, which
            # schemathesis' positive-data check would count as rejecting valid input
            case.call_and_validate(
                base_url=api.url, headers=_auth(api), excluded_checks=[positive_data_acceptance]
            )

        check()


def test_live_page_shows_equity_positions_regimes_and_the_kill_switch(
    api: Server, seed: Seed, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    browser_path = shutil.which("chromium")
    if browser_path is None:
        pytest.skip("chromium is not installed (infra/browser.sh installs it: apt-get install chromium)")
    cache = LatestCache.connect(None, seed.namespace)
    p = seed.topics["portfolio"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{api.url}/live#token={api.tokens[0]}")
        expect = sync_api.expect  # locators, not string predicates: the page's CSP forbids eval
        expect(page.locator("#regimes tbody tr")).to_have_count(2, timeout=15_000)
        expect(page.locator("#kill")).to_have_text("inactive", timeout=15_000)
        account = cache.get("portfolio", "")  # an earlier test may have moved it past the seeded rows
        assert account is not None
        assert page.text_content("#equity") == f"{account['equity_usd']:,.2f} USD"
        assert page.text_content("#gov-state") == "NORMAL"
        assert "token=" not in page.url  # the fragment left the address bar
        for pair in PAIRS:
            want = _latest(seed.topics["regime.adjusted"], pair)
            cells = page.eval_on_selector(
                f"#regimes tr[data-pair='{pair}']", "tr => [...tr.cells].map(c => c.textContent)"
            )
            assert cells[:3] == [pair, want["regime"], f"{want['prob_stable']:.3f}"]
            units = page.eval_on_selector(
                f"#positions tr[data-pair='{pair}']", "tr => tr.cells[1].textContent"
            )
            assert units == f"{_latest(p, pair)['position_units']:.0f}"
        points = page.get_attribute("#equity-line", "points") or ""
        assert len(points.split()) >= int((p["pair"] == "").sum())  # the equity history from REST
        page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
        kill = records(
            "portfolio",
            1,
            seed=11,
            pair=[""],
            ts=[int(account["ts"]) + 5 * MINUTE],
            equity_usd=[99_000.0],
            hwm_usd=[account["hwm_usd"]],
            drawdown=[1 - 99_000.0 / account["hwm_usd"]],
            kill_active=[True],
        )
        cache.update("portfolio", kill)
        expect(page.locator("#kill")).to_have_text("ACTIVE", timeout=10_000)
        assert page.text_content("#equity") == "99,000.00 USD"
        assert page.text_content("#drawdown") == f"{100 * (1 - 99_000.0 / account['hwm_usd']):.2f} %"
        page.screenshot(path=str(tmp_path / "live_killed.png"), full_page=True)
        browser.close()
    assert errors == []
    assert (tmp_path / "live.png").stat().st_size > 20_000
