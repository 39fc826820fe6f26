"""``hslr models list | promote VERSION | rollback``: the model registry and what the workers run."""

from __future__ import annotations

import argparse
from typing import Any


def _models(args: argparse.Namespace) -> int:
    from streams.services.models import promote, rollback
    from streams.storage.db import connect
    from streams.storage.registry import list_models

    with connect(args.dsn or None) as conn:
        if args.action == "list":
            rows = list_models(conn, args.kind or None)
            print(f"{'':2}{'kind':<7} {'version':<26} {'trained on':<45} {'sha256':<14} path")
            for r in rows:
                window = f"{r.training_from[:16]} .. {r.training_to[:16]}"
                mark = "* " if r.promoted else "  "
                print(
                    f"{mark}{r.kind:<7} {r.version:<26} {window:<45} {r.model_sha256[:12] or '-':<14} {r.path}"
                )
            print(f"{len(rows)} model(s); * = promoted (what workers load at start)")
            return 0
        if args.action == "promote":
            if not args.version:
                raise ValueError("hslr models promote needs a VERSION (see `hslr models list`)")
            row = promote(conn, args.version, args.kind or None)
        else:
            if not args.kind:
                raise ValueError("hslr models rollback needs --kind regime|edge")
            row = rollback(conn, args.kind)
    print(
        f"promoted {row.kind}:{row.version} (sha256 {row.model_sha256[:12]}…); restart the workers to load it"
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("models", help="model registry: list, promote a version, roll back")
    p.add_argument("action", choices=["list", "promote", "rollback"])
    p.add_argument("version", nargs="?", default="", help="promote: VERSION or KIND:VERSION")
    p.add_argument("--kind", default="", choices=["", "regime", "edge"])
    p.add_argument("--dsn", default="", help="PostgreSQL DSN (default: HSLR_PG_DSN)")
    p.set_defaults(func=_models)
