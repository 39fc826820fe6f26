"""PostgreSQL connections (the DSN comes from the settings module: env ``HSLR_PG_DSN``)."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from streams.settings import Settings, settings, user_secrets_file


def default_dsn(s: Settings | None = None) -> str:
    """Return the configured DSN: ``HSLR_PG_DSN``, else role and database ``hslr`` on 127.0.0.1:5432 with
    the password ``HSLR_PG_PASSWORD`` (no default password exists).

    Raises
    ------
    RuntimeError
        Neither is configured: says how to get one.
    """
    s = s or settings()
    if explicit := s.hslr_pg_dsn.get_secret_value():
        return explicit
    password = s.hslr_pg_password.get_secret_value()
    if not password:
        raise RuntimeError(
            f"no PostgreSQL password configured: run `hslr infra up` once (it generates one in "
            f"{user_secrets_file()}), or set HSLR_PG_PASSWORD or HSLR_PG_DSN (see infra/hslr.env.example)"
        )
    return make_conninfo(host="127.0.0.1", port=5432, dbname="hslr", user="hslr", password=password)


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection to the HSLR database.

    Parameters
    ----------
    dsn
        libpq connection string or URI; ``None``: :func:`default_dsn`.
    autocommit
        Passed to psycopg; leave ``False`` to group writes in explicit transactions.

    Returns
    -------
    psycopg.Connection
        An open connection; use it as a context manager to close it.
    """
    return psycopg.connect(dsn or default_dsn(), autocommit=autocommit, connect_timeout=10)


READER_OPTIONS = "-c default_transaction_read_only=on -c statement_timeout=5000 -c TimeZone=UTC"
"""Session options of the API's connections: read-only transactions, 5 s per statement, UTC times."""


def reader_dsn(s: Settings | None = None) -> str:
    """DSN of the read-only role (``HSLR_API_PG_DSN``, else the main DSN's host, port and database
    with ``HSLR_API_PG_USER`` and ``HSLR_API_PG_PASSWORD``).

    Raises
    ------
    ValueError
        Neither a reader DSN nor a reader password is configured (there is no default password).
    """
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    s = s or settings()
    explicit = s.hslr_api_pg_dsn.get_secret_value()
    if explicit:
        return explicit
    password = s.hslr_api_pg_password.get_secret_value()
    if not password:
        raise ValueError(
            "no read-only database role configured: set HSLR_API_PG_PASSWORD (infra/hslr.env; "
            "`hslr infra up postgres` creates the role with it) or HSLR_API_PG_DSN"
        )
    base = conninfo_to_dict(default_dsn(s))
    base.update(user=s.hslr_api_pg_user, password=password)
    return make_conninfo("", **base)


def connect_reader(dsn: str) -> psycopg.Connection:
    """Open an autocommit connection for reads only (:data:`READER_OPTIONS`)."""
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10, options=READER_OPTIONS)


def writable_tables(conn: psycopg.Connection) -> list[str]:
    """Tables of the public schema the connection's role may INSERT, UPDATE or DELETE (the API's role
    must have none)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        " AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')"
        " OR has_table_privilege(c.oid, 'DELETE')) ORDER BY c.relname"
    ).fetchall()
    return [r[0] for r in rows]


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
