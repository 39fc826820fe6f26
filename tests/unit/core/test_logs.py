"""The one log format: JSON lines with the context fields, text on a terminal."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from streams.logs import choose_format, configure, dict_config, short_level


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _emit(stream: io.StringIO, fmt: str, run_id: str = "") -> str:
    logging.config.dictConfig(dict_config("INFO", fmt, run_id, stream))
    log = logging.getLogger("hslr.test")
    try:
        log.debug("hidden")
        log.warning(
            "%d record(s) dead-lettered",
            2,
            extra={"stage": "market", "pair": "GBPUSD", "event": "dead_letter", "message_ids": ["t:0:5"]},
        )
    finally:
        logging.getLogger().handlers.clear()
    return stream.getvalue()


def test_json_line_carries_time_level_context_and_run_id() -> None:
    (line,) = _emit(io.StringIO(), "auto", run_id="bt123").splitlines()  # not a terminal: JSON
    rec = json.loads(line)
    assert rec["level"] == "WARNING"
    assert rec["message"] == "2 record(s) dead-lettered"
    assert (rec["stage"], rec["pair"], rec["event"], rec["message_ids"]) == (
        "market",
        "GBPUSD",
        "dead_letter",
        ["t:0:5"],
    )
    assert rec["run_id"] == "bt123"
    assert rec["time"].endswith("+00:00")
    assert rec["logger"] == "hslr.test"


def test_text_on_a_terminal() -> None:
    out = _emit(_Tty(), "auto")
    assert "WARNING hslr.test [market GBPUSD dead_letter] 2 record(s) dead-lettered" in out
    assert not out.startswith("{")


def test_bad_level_or_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="log level 'LOUD'"):
        dict_config("loud")
    with pytest.raises(ValueError, match="log format 'xml'"):
        choose_format("xml", io.StringIO())
    assert [short_level(x) for x in ("WARNING", "warn", "CRITICAL", "info")] == [
        "warn",
        "warn",
        "crit",
        "info",
    ]


def test_configure_leaves_a_configured_root_alone() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    configure("INFO", "json", stream=io.StringIO())
    assert root.handlers == before  # pytest's capture handlers stay; nothing added
