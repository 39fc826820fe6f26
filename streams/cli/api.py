"""``hslr api``: the HTTP data service (streams/api)."""

from __future__ import annotations

import argparse
from typing import Any


def _api(args: argparse.Namespace) -> int:
    from streams.api.server import serve

    serve(args.host, args.port, args.namespace or None)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "api",
        help="HTTP data service: REST history, SSE streams, live page (tokens: HSLR_API_TOKENS)",
        description="Serve history from PostgreSQL (read-only role), Server-Sent Event streams of the "
        "latest records per pair from Redis, and a live page at /live. Needs HSLR_API_TOKENS and "
        "HSLR_API_PG_PASSWORD (or HSLR_API_PG_DSN) in the environment or infra/hslr.env.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--namespace", default="", help="topic namespace (default HSLR_NAMESPACE, 'hslr')")
    p.set_defaults(func=_api)
