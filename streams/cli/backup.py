"""``hslr backup`` and ``hslr restore ARCHIVE`` (see :mod:`streams.services.backup`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARTIFACTS = "models/artifacts"


def _backup(args: argparse.Namespace) -> int:
    from streams.config import dump_config, load_config
    from streams.services.backup import backup
    from streams.settings import data_path, settings
    from streams.storage.db import connect, default_dsn, table_counts

    dsn = args.dsn or default_dsn()
    s = settings()
    config = dump_config(load_config(args.config or s.hslr_config or None))
    with connect(dsn) as conn:
        counts = table_counts(conn)
    dest = Path(args.dest) if args.dest else data_path("backups")
    path, pruned = backup(
        dest,
        dsn=dsn,
        artifacts=Path(args.artifacts) if args.artifacts else data_path(ARTIFACTS),
        config=config,
        counts=counts,
        now=datetime.now(UTC),
        keep=args.keep,
    )
    print(
        f"backup {path} ({path.stat().st_size / 1e6:.1f} MB, {sum(counts.values())} rows in {len(counts)} tables)"
    )
    for name in pruned:
        print(f"pruned {dest / name} (keeping the newest {args.keep})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from streams.services.backup import count_mismatches, restore
    from streams.settings import data_path
    from streams.storage.db import connect, default_dsn, table_counts

    dsn = args.dsn or default_dsn()
    with connect(dsn) as conn:
        before = len(table_counts(conn))
    artifacts = Path(args.artifacts) if args.artifacts else data_path(ARTIFACTS)
    manifest = restore(Path(args.archive), dsn=dsn, artifacts=artifacts, table_count=before)
    with connect(dsn) as conn:
        bad = count_mismatches(manifest["tables"], table_counts(conn))
    if bad:
        raise RuntimeError(f"restored row counts differ from the backup's: {bad}")
    print(
        f"restored {args.archive}: {len(manifest['tables'])} tables with the backup's row counts, "
        f"{len(manifest['artifacts'])} artifact files (checksums verified) into {artifacts}"
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("backup", help="dated archive of model artifacts, effective config and a pg_dump")
    p.add_argument("--dest", default="", help="folder of the archives (default <data dir>/backups)")
    p.add_argument("--keep", type=int, default=7, help="archives kept in --dest, newest first (default 7)")
    p.add_argument("--config", default="", help="pipeline config TOML (default HSLR_CONFIG or built-in)")
    p.add_argument(
        "--artifacts", default="", help="model artifact folder (default <data dir>/models/artifacts)"
    )
    p.add_argument("--dsn", default="", help="PostgreSQL DSN (default HSLR_PG_DSN)")
    p.set_defaults(func=_backup)

    p = sub.add_parser(
        "restore", help="restore a backup archive into an empty database and the artifact folder"
    )
    p.add_argument("archive")
    p.add_argument(
        "--artifacts", default="", help="model artifact folder (default <data dir>/models/artifacts)"
    )
    p.add_argument("--dsn", default="", help="the EMPTY target database (default HSLR_PG_DSN)")
    p.set_defaults(func=_restore)
