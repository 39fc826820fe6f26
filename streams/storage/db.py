"""PostgreSQL connections (the DSN comes from the settings module: env ``HSLR_PG_DSN``)."""

from __future__ import annotations

import psycopg

from streams.settings import settings


def default_dsn() -> str:
    """Return the configured DSN (default ``postgresql://hslr:hslr@127.0.0.1:5432/hslr``)."""
    return settings().hslr_pg_dsn.get_secret_value()


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection to the HSLR database.

    Parameters
    ----------
    dsn
        libpq connection string or URI; ``None`` uses env ``HSLR_PG_DSN`` or the local default.
    autocommit
        Passed to psycopg; leave ``False`` to group writes in explicit transactions.

    Returns
    -------
    psycopg.Connection
        An open connection; use it as a context manager to close it.
    """
    return psycopg.connect(dsn or default_dsn(), autocommit=autocommit, connect_timeout=10)


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Row count of every table of the connection's current schema (exact: ``count(*)``)."""
    from psycopg import sql

    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    out = {}
    for name in names:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()
        out[name] = int(row[0]) if row else 0
    return out
