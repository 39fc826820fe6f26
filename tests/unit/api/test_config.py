"""``hslr api`` refuses to start without tokens or a read-only role password; CORS is off unless set."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from streams.api.server import config_from_settings
from streams.settings import Settings
from streams.storage.db import reader_dsn

TOKEN = "t" * 24


def _settings(**kw: str) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def test_no_token_no_service() -> None:
    with pytest.raises(ValueError, match="HSLR_API_TOKENS"):
        config_from_settings(s=_settings(hslr_api_tokens=""))


def test_cors_is_off_by_default_and_listed_origins_only() -> None:
    assert config_from_settings(s=_settings(hslr_api_tokens=TOKEN)).cors_origins == ()
    cfg = config_from_settings(
        s=_settings(hslr_api_tokens=TOKEN, hslr_api_cors_origins=" https://a.example, ,http://b")
    )
    assert cfg.cors_origins == ("https://a.example", "http://b")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="> 0"):
        config_from_settings(s=_settings(hslr_api_tokens=TOKEN, hslr_api_rate_per_min="0"))


def test_reader_dsn_has_no_default_password() -> None:
    with pytest.raises(ValueError, match="HSLR_API_PG_PASSWORD"):
        reader_dsn(_settings(hslr_api_pg_password=""))
    dsn = conninfo_to_dict(
        reader_dsn(
            _settings(hslr_pg_dsn="postgresql://owner:pw@db.example:6543/hslr", hslr_api_pg_password="p" * 20)
        )
    )
    assert (dsn["user"], dsn["password"], dsn["host"], dsn["port"], dsn["dbname"]) == (
        "hslr_api",
        "p" * 20,
        "db.example",
        "6543",
        "hslr",
    )
    explicit = "postgresql://ro:x@h/d"
    assert reader_dsn(_settings(hslr_api_pg_dsn=explicit, hslr_api_pg_password="")) == explicit
