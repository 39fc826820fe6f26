"""The FastAPI application: REST history, SSE streams and the live page, behind bearer tokens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from streams.api.guard import StreamSlots, TokenBuckets, match_token
from streams.api.live import StreamFilter, events
from streams.api.models import ROW_MODELS, Page, Problem
from streams.api.paging import MAX_CURSOR_CHARS, BadCursor, decode_cursor, encode_cursor
from streams.storage.history import TABLES, PageQuery, ReaderPool, StoreUnavailable, read_page
from streams.storage.redis_cache import CACHED_TOPICS, LatestCache

STATIC = Path(__file__).with_name("static")
MAX_LIMIT = 1000
NAME = r"^[A-Za-z0-9_.-]{1,64}$"
PAIR = r"^[A-Z]{6}$"
CURSOR = r"^[A-Za-z0-9_-]+$"
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


@dataclass(frozen=True)
class ApiConfig:
    """What one API process serves: its tokens, limits, namespace and CORS origins (none by default)."""

    tokens: tuple[str, ...]
    namespace: str = "hslr"
    rate_per_min: int = 600
    streams_per_token: int = 4
    poll_s: float = 0.5
    cors_origins: tuple[str, ...] = ()


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "invalid cursor"},
    401: {"model": Problem, "description": "missing or invalid bearer token"},
    422: {"description": "invalid parameters"},
    429: {"model": Problem, "description": "rate limit or stream limit reached (Retry-After)"},
    503: {"model": Problem, "description": "database or cache unavailable"},
}


def _guard(cfg: ApiConfig, buckets: TokenBuckets) -> Callable[..., int]:
    bearer = HTTPBearer(auto_error=False, description="one of HSLR_API_TOKENS")

    def guard(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> int:
        who = match_token(cfg.tokens, creds.credentials if creds else None)
        if who is None:
            raise HTTPException(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
        wait = buckets.take(who, time.monotonic())
        if wait > 0:
            raise HTTPException(429, "rate limit reached", {"Retry-After": str(max(1, round(wait)))})
        return who

    return guard


def _page_query(
    cfg: ApiConfig,
    namespace: str | None,
    pair: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    order: str,
    cursor: str | None,
) -> PageQuery:
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    return PageQuery(
        namespace=namespace or cfg.namespace,
        pair=pair,
        start=start,
        end=end,
        limit=limit,
        newest_first=order == "desc",
        after=after,
    )


def _history_route(app: FastAPI, cfg: ApiConfig, pool: ReaderPool, resource: str, guard: Any) -> None:
    table, model = TABLES[resource], ROW_MODELS[resource]

    async def page(
        _who: int = Depends(guard),  # a closure: Annotated[...] would be resolved too late
        namespace: Annotated[str | None, Query(pattern=NAME, description="topic namespace")] = None,
        pair: Annotated[str | None, Query(pattern=PAIR)] = None,
        start: Annotated[datetime | None, Query(description="from this time (incl.)")] = None,
        end: Annotated[datetime | None, Query(description="before this time")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS, pattern=CURSOR)] = None,
    ) -> dict[str, Any]:
        q = _page_query(cfg, namespace, pair, start, end, limit, order, cursor)

        def read() -> tuple[list[dict[str, Any]], Any]:
            with pool.connection() as conn:
                return read_page(conn, resource, q)

        try:
            rows, after = await anyio.to_thread.run_sync(read)
        except StoreUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        return {"items": rows, "next_cursor": encode_cursor(after) if after else None}

    page.__name__ = f"list_{resource}"
    app.get(
        f"/api/v1/{resource}",
        response_model=Page[model],  # type: ignore[valid-type]
        responses=ERRORS,
        summary=f"history of {resource}",
        description=(
            f"Rows of {resource} in (time, key) order, at most `limit` (≤ {MAX_LIMIT}) per page."
            + ("" if table.namespaced else " `namespace` does not apply.")
            + ("" if table.by_pair else " `pair` does not apply.")
        ),
    )(page)


def _stream_route(app: FastAPI, cfg: ApiConfig, cache: LatestCache, guard: Any) -> None:
    slots = StreamSlots(cfg.streams_per_token)

    @app.get(
        "/api/v1/stream",
        responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "SSE"}},
        response_class=StreamingResponse,
        summary="latest records per pair, as Server-Sent Events",
    )
    async def stream(
        request: Request,
        who: int = Depends(guard),
        topics: Annotated[str | None, Query(description=f"comma-separated, of {list(CACHED_TOPICS)}")] = None,
        pairs: Annotated[str | None, Query(description="comma-separated pairs (default all)")] = None,
        max_events: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> StreamingResponse:
        wanted = frozenset(t for t in (topics or ",".join(CACHED_TOPICS)).split(",") if t)
        unknown = sorted(wanted - set(CACHED_TOPICS))
        if unknown or not wanted:
            raise HTTPException(422, f"unknown topics {unknown}; choose from {list(CACHED_TOPICS)}")
        chosen = frozenset(p.strip().upper() for p in pairs.split(",") if p.strip()) if pairs else None
        if not slots.acquire(who):
            raise HTTPException(429, "too many open streams for this token", {"Retry-After": "5"})
        flt = StreamFilter(wanted, chosen)

        async def body() -> AsyncIterator[str]:
            try:
                async for chunk in events(
                    cache, flt, poll_s=cfg.poll_s, disconnected=request.is_disconnected, max_events=max_events
                ):
                    yield chunk
            finally:
                slots.release(who)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def create_app(cfg: ApiConfig, pool: ReaderPool, cache: LatestCache) -> FastAPI:
    """The application; ``pool`` reads history (read-only role), ``cache`` feeds the streams."""
    app = FastAPI(
        title="HSLR data service",
        version="1",
        description="History from PostgreSQL, live records from the pipeline's Redis cache.",
        docs_url=None,  # Swagger UI would load scripts from a CDN; the spec is at /openapi.json
        redoc_url=None,
    )
    guard = _guard(cfg, TokenBuckets(cfg.rate_per_min))
    for resource in TABLES:
        _history_route(app, cfg, pool, resource, guard)
    _stream_route(app, cfg, cache, guard)

    @app.get("/healthz", summary="liveness (no token)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    @app.get("/live", include_in_schema=False)
    async def live_page() -> FileResponse:
        return FileResponse(STATIC / "live.html", headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in {"live.js", "live.css"}:
            raise HTTPException(404, "not found")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    if cfg.cors_origins:  # off unless origins are configured
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cfg.cors_origins),
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    return app
