"""No password is built into the code or the compose file (issue 11): PostgreSQL's comes from the
environment or a secrets file that ``hslr infra up`` generates on first setup."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LITERAL_DSN = re.compile(r"postgres(?:ql)?://[^:/@\s'\"]+:(?!\$?\{)[^@\s'\"]+@")  # ${VAR}, {f-string} pass
LITERAL_SETTING = re.compile(
    r"^\s*(POSTGRES_PASSWORD|GF_SECURITY_ADMIN_PASSWORD|PGPASSWORD)\s*[:=]\s*(?!\$\{)\S+", re.M
)


def _tracked() -> list[Path]:
    out = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "ls-files"],  # noqa: S607 - git on PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # the code, scripts, compose and docs; tests may hold throwaway credentials they parse or forward
    return [ROOT / p for p in out.splitlines() if (ROOT / p).is_file() and not p.startswith("tests/")]


def test_no_literal_password_in_any_tracked_file() -> None:
    hits = []
    for path in _tracked():
        if path.suffix in {".joblib", ".pkl", ".zip", ".png", ".gz"}:
            continue
        text = path.read_text(errors="ignore")
        hits += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in LITERAL_DSN.finditer(text)]
        hits += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}" for m in LITERAL_SETTING.finditer(text)]
    assert hits == []


def test_without_a_password_the_dsn_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.storage.db import default_dsn

    monkeypatch.setenv("HSLR_PG_DSN", "")
    monkeypatch.setenv("HSLR_PG_PASSWORD", "")
    with pytest.raises(RuntimeError, match=r"no PostgreSQL password configured: run `hslr infra up` once"):
        default_dsn()


def test_the_dsn_is_built_from_the_password_or_taken_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from streams.settings import settings
    from streams.storage.db import default_dsn

    monkeypatch.setenv("HSLR_PG_DSN", "")
    monkeypatch.setenv("HSLR_PG_PASSWORD", "s3cret with space")
    parts = conninfo_to_dict(default_dsn())
    assert parts == {
        "host": "127.0.0.1",
        "port": "5432",
        "dbname": "hslr",
        "user": "hslr",
        "password": "s3cret with space",
    }
    monkeypatch.setenv("HSLR_PG_DSN", "postgresql://other@db.example:6543/x")
    settings.cache_clear()
    assert default_dsn() == "postgresql://other@db.example:6543/x"
