"""``hslr live`` refuses what it must refuse before touching anything: real money without
``--confirm-live``, a broker without credentials; the token never appears in what it prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.cli.main import main
from streams.settings import oanda_token, settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for k in ("OANDA_ACCOUNT_ID", "OANDA_TOKEN", "OANDA_TOKEN_FILE", "OANDA_ENV"):
        monkeypatch.delenv(k, raising=False)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def test_live_money_needs_confirmation(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "--broker", "oanda", "--env", "live"]) == 2
    assert "--confirm-live" in capsys.readouterr().err


def test_missing_credentials_are_a_clear_error_without_the_token(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("OANDA_TOKEN", "s3cret-token-value")
    settings.cache_clear()
    assert main(["live", "--broker", "oanda", "--env", "practice"]) == 2
    err = capsys.readouterr().err
    assert "account id and token are required" in err
    assert "s3cret" not in err


def test_token_from_a_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("abc-123\n")
    env.setenv("OANDA_TOKEN_FILE", str(f))
    settings.cache_clear()
    assert oanda_token().get_secret_value() == "abc-123"
    assert "abc-123" not in repr(oanda_token())
    env.setenv("OANDA_TOKEN_FILE", str(tmp_path / "missing"))
    settings.cache_clear()
    with pytest.raises(ValueError, match="OANDA_TOKEN_FILE"):
        oanda_token()


def test_broker_mode_worker_config_is_the_users_plus_broker_fills(tmp_path: Path) -> None:
    import json

    from streams.config import build_config, dump_config, load_config, with_fill_source

    user = build_config({"market": {"pairs": ["GBPUSD"]}, "trader": {"execution": {"latency_ms": 250}}})
    assert user.trader.execution.fill_source == "paper"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(dump_config(with_fill_source(user, "broker"))))
    worker = load_config(path)
    assert worker.trader.execution.fill_source == "broker"
    assert (worker.trader.execution.latency_ms, worker.market.pairs) == (250, ("GBPUSD",))
    back = with_fill_source(worker, "paper")
    assert back.digest() == user.digest()  # nothing else changed
    assert "trader" in dump_config(with_fill_source(build_config({}), "broker"))  # written even if unset


def test_resume_after_needs_the_control_key(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for k in ("HSLR_CONTROL_KEY", "HSLR_CONTROL_KEY_FILE"):
        env.delenv(k, raising=False)
    settings.cache_clear()
    assert main(["live", "--resume-after-s", "300"]) == 2
    assert "the feed's RESUME must be signed: set HSLR_CONTROL_KEY" in capsys.readouterr().err
