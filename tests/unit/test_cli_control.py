"""``hslr halt`` / ``hslr resume`` refuse what would silently do nothing (issue 11 #3), before any I/O."""

from __future__ import annotations

import pytest

from streams.cli.main import main
from streams.settings import settings


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HSLR_CONTROL_KEY", raising=False)
    monkeypatch.delenv("HSLR_CONTROL_KEY_FILE", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing may be published
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["halt", "--pair", "XXXYYY"], "unknown pair 'XXXYYY'"),
        (["halt", "--pair", "EURUSD,GBPUSD"], "several pairs"),
        (["halt", "--at", "tomorrow"], "expected 'now'"),
        (["resume"], "a RESUME must be signed"),
        (["resume", "--pair", "eur/usd"], "a RESUME must be signed"),
    ],
)
def test_refused_with_exit_2(
    no_key, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_short_key_file_is_refused(no_key, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    key = tmp_path / "key"
    key.write_text("short")
    monkeypatch.setenv("HSLR_CONTROL_KEY_FILE", str(key))
    settings.cache_clear()
    assert main(["resume"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["data", "synth", "--pairs", "GBPUSD", "--from", "2020-01-03", "--to", "2020-01-02"],
            "empty time range",
        ),
        (
            ["data", "synth", "--pairs", "GBPUSD", "--from", "2020-01-02", "--to", "2020-01-02"],
            "empty time range",
        ),
        (
            [
                "backtest",
                "--source",
                "synth",
                "--pairs",
                "GBPUSD",
                "--from",
                "2020-01-03",
                "--to",
                "2020-01-02",
            ],
            "empty time range",
        ),
        (
            ["replay", "--pairs", "GBPUSD", "--from", "2020-01-02", "--to", "2020-01-03", "--speed", "0"],
            "--speed",
        ),
        (
            ["replay", "--pairs", "GBPUSD", "--from", "2020-01-02", "--to", "2020-01-03", "--speed", "-1"],
            "--speed",
        ),
        (
            ["replay", "--pairs", "GBPUSD", "--from", "2020-01-02", "--to", "2020-01-03", "--speed", "nan"],
            "--speed",
        ),
        (
            ["replay", "--pairs", "GBPUSD", "--from", "2020-01-02", "--to", "2020-01-03", "--speed", "fast"],
            "--speed",
        ),
        (["replay", "--pairs", "GBPUSD", "--from", "2020-01-03", "--to", "2020-01-02"], "is not before"),
        (["replay", "--pairs", "", "--from", "2020-01-02", "--to", "2020-01-03"], "no pair given"),
        (["ingest", "histdata", "x.csv", "--pair", ""], "empty pair name"),
        (["ingest", "histdata", "x.csv", "--pair", "EURUSD,GBPUSD"], "several pairs"),
    ],
)
def test_cli_refuses_bad_arguments(
    no_key, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # issue 11 #6/#8: IndexError, ZeroDivisionError tracebacks, a silently used first pair
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_backtest_reads_hslr_config(no_key, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # issue 11 #7: HSLR_CONFIG was honoured by `hslr worker` and ignored by `hslr backtest`
    bad = tmp_path / "bad.toml"
    bad.write_text("[trader.risk]\nlot_units = 0\n")
    monkeypatch.setenv("HSLR_CONFIG", str(bad))
    settings.cache_clear()
    argv = [
        "backtest",
        "--source",
        "synth",
        "--pairs",
        "GBPUSD",
        "--from",
        "2020-01-06",
        "--to",
        "2020-01-07",
    ]
    assert main(argv) == 2
    assert "greater than 0" in capsys.readouterr().err
