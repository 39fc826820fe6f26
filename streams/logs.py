"""Structured logs: one stdlib ``logging`` set-up, one JSON format, for every command and worker.

A line holds ``time`` (UTC ISO-8601), ``level``, ``logger``, ``message`` and, when the call passes them
in ``extra``, ``stage``, ``pair``, ``event`` and ``message_ids`` (``topic:partition:offset``), plus the
process's ``run_id``. Example::

    log.warning("dead-lettered", extra={"stage": "market", "event": "dead_letter", "message_ids": ids})

On an interactive terminal (``HSLR_LOG_FORMAT=auto``) the same records print as readable text. Faust's
worker takes the same dictConfig (``faust.App(logging_config=...)``), so its own lines are JSON too.
The stdlib needs no extra library: a formatter of 40 lines is all structlog would add here.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FIELDS = ("stage", "pair", "event", "message_ids", "run_id")


class RunId(logging.Filter):
    """Stamps the process's run id on records that do not carry one."""

    def __init__(self, run_id: str = "") -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        if self.run_id and getattr(record, "run_id", None) is None:
            record.run_id = self.run_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS.mmm LEVEL logger [stage pair event] message`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        tags = " ".join(str(getattr(record, f)) for f in FIELDS[:3] if getattr(record, f, None) is not None)
        line = (
            f"{when} {record.levelname:<7} {record.name}{f' [{tags}]' if tags else ''} {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def choose_format(fmt: str, stream: TextIO) -> str:
    """``json`` or ``text``; ``auto`` is text on an interactive terminal."""
    if fmt not in ("auto", "json", "text"):
        raise ValueError(f"log format {fmt!r}: use auto, json or text")
    if fmt != "auto":
        return fmt
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def dict_config(
    level: str = "INFO", fmt: str = "auto", run_id: str = "", stream: TextIO | None = None
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of the whole process (also handed to Faust)."""
    level = {"WARN": "WARNING", "CRIT": "CRITICAL"}.get(level.upper(), level.upper())
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    chosen = choose_format(fmt, stream or sys.stderr)
    formatter = JsonFormatter if chosen == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hslr": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "filters": {"run": {"()": f"{RunId.__module__}.RunId", "run_id": run_id}},
        "handlers": {
            "hslr": {
                "class": "logging.StreamHandler",
                "formatter": "hslr",
                "filters": ["run"],
                "stream": stream,
            }
        },
        "root": {"level": level, "handlers": ["hslr"]},
    }


def configure(
    level: str = "INFO",
    fmt: str = "auto",
    run_id: str = "",
    stream: TextIO | None = None,
    *,
    force: bool = False,
) -> None:
    """Install the one handler and formatter on the root logger. Like :func:`logging.basicConfig`, it
    leaves a root logger that already has other handlers alone (a test runner's capture) unless ``force``."""
    root = logging.getLogger()
    if not force and any(h.get_name() != "hslr" for h in root.handlers):
        return
    logging.config.dictConfig(dict_config(level, fmt, run_id, stream))
    for h in root.handlers:
        h.set_name("hslr")


def short_level(level: str) -> str:
    """Faust's spelling of a level (``-l crit|error|warn|info|debug``)."""
    full = {"WARN": "WARNING", "CRIT": "CRITICAL"}.get(level.upper(), level.upper())
    return {"WARNING": "warn", "CRITICAL": "crit"}.get(full, full.lower())
