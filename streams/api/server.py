"""Start the API: settings → checked configuration → uvicorn on one process."""

from __future__ import annotations

from streams.api.app import ApiConfig, create_app
from streams.api.guard import parse_tokens
from streams.settings import Settings, settings
from streams.storage.db import connect_reader, reader_dsn, writable_tables
from streams.storage.history import ReaderPool
from streams.storage.redis_cache import LatestCache


def config_from_settings(namespace: str | None = None, s: Settings | None = None) -> ApiConfig:
    """The API configuration from the environment / infra/hslr.env (``HSLR_API_*``).

    Raises
    ------
    ValueError
        No token (or a short one), or a non-positive limit.
    """
    s = s or settings()
    if s.hslr_api_rate_per_min < 1 or s.hslr_api_streams_per_token < 1 or s.hslr_api_poll_s <= 0:
        raise ValueError("HSLR_API_RATE_PER_MIN, HSLR_API_STREAMS_PER_TOKEN and HSLR_API_POLL_S must be > 0")
    return ApiConfig(
        tokens=parse_tokens(s.hslr_api_tokens.get_secret_value()),
        namespace=namespace or s.hslr_namespace,
        rate_per_min=s.hslr_api_rate_per_min,
        streams_per_token=s.hslr_api_streams_per_token,
        poll_s=s.hslr_api_poll_s,
        cors_origins=tuple(o.strip() for o in s.hslr_api_cors_origins.split(",") if o.strip()),
    )


def checked_reader(dsn: str) -> ReaderPool:
    """A pool on ``dsn`` after checking that its role can write no table.

    Raises
    ------
    ValueError
        The role may write (the API must run on the read-only role), or the database does not answer.
    """
    try:
        with connect_reader(dsn) as conn:
            writable = writable_tables(conn)
    except Exception as exc:  # psycopg's errors: not importable outside storage
        raise ValueError(f"the API's database role cannot connect: {type(exc).__name__}: {exc}") from None
    if writable:
        raise ValueError(
            f"the API's database role may write {len(writable)} table(s) ({', '.join(writable[:3])}, ...);"
            " run it on the read-only role (HSLR_API_PG_PASSWORD / HSLR_API_PG_DSN)"
        )
    return ReaderPool(dsn)


def serve(host: str, port: int, namespace: str | None = None, redis_url: str | None = None) -> None:
    """Check the configuration, then serve until interrupted."""
    import uvicorn

    cfg = config_from_settings(namespace)
    pool = checked_reader(reader_dsn())
    cache = LatestCache.connect(redis_url, cfg.namespace)
    app = create_app(cfg, pool, cache)
    print(f"hslr api: http://{host}:{port}/live  (namespace {cfg.namespace}; spec /openapi.json)", flush=True)
    try:
        uvicorn.run(
            app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=3
        )
    finally:
        pool.close()
