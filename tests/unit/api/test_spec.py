"""The OpenAPI spec the service serves (built without any I/O: no connection is opened to build it)."""

from __future__ import annotations

import redis

from streams.api.app import ApiConfig, create_app
from streams.storage.history import TABLES, ReaderPool
from streams.storage.redis_cache import LatestCache


def _spec() -> dict:
    app = create_app(
        ApiConfig(tokens=("t" * 16,)), ReaderPool("host=unused"), LatestCache(redis.Redis(), "x")
    )
    return app.openapi()


def test_every_resource_and_the_stream_are_documented_behind_the_bearer_token() -> None:
    spec = _spec()
    paths = set(spec["paths"])
    assert paths == {f"/api/v1/{r}" for r in TABLES} | {"/api/v1/stream", "/healthz"}
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "one of HSLR_API_TOKENS",
    }
    for path, ops in spec["paths"].items():
        op = ops["get"]
        if path == "/healthz":
            assert "security" not in op
            continue
        assert op["security"] == [{"HTTPBearer": []}]
        assert {"401", "429", "503"} <= set(op["responses"])


def test_pages_are_bounded_and_cursors_have_an_alphabet() -> None:
    params = {p["name"]: p for p in _spec()["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 1000
    assert params["limit"]["schema"]["minimum"] == 1
    cursor = next(s for s in params["cursor"]["schema"]["anyOf"] if s.get("type") == "string")
    assert cursor["pattern"] == "^[A-Za-z0-9_-]+$"
    assert cursor["maxLength"] == 512
    assert set(params) == {"namespace", "pair", "start", "end", "limit", "order", "cursor"}
