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
