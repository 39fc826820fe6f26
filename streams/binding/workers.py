"""Faust worker subprocesses and fresh topic namespaces: used by the Kafka backtest engine, tests and
benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from streams.infra import bootstrap_servers
from streams.settings import PROJECT_ROOT


def fresh_namespace(prefix: str = "it") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child Python process: the project root first on ``PYTHONPATH``."""
    env = dict(os.environ, **(extra or {}))
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != PROJECT_ROOT]
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *rest])
    return env


def python_command(*args: str) -> list[str]:
    """``python -P ...``: the child does not put its working directory on ``sys.path``, so a folder
    named like a project package there (a stray ``./models/``) cannot shadow it; the project root comes
    from :func:`child_env`."""
    return [sys.executable, "-P", *args]


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def settle(procs: Sequence[subprocess.Popen[bytes]], seconds: float = 5.0) -> None:
    """Once one of ``procs`` has exited, give the others up to ``seconds`` to exit too: workers started with
    the same bad config fail one after the other, and a report read at the first exit names only the fastest."""
    deadline = time.monotonic() + seconds
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)


def died_message(logs: Sequence[tuple[subprocess.Popen[bytes], Path | None]], lines: int = 20) -> str:
    """Say which worker processes exited, with their exit status, log path and last log lines."""
    parts = []
    for proc, log in logs:
        if proc.poll() is None:
            continue
        where = f"log {log}" if log else "no log"
        tail = log_tail(log, lines) if log else ""
        parts.append(
            f"worker pid {proc.pid} exited with status {proc.returncode} ({where})"
            + (f"; last lines:\n{tail}" if tail else "")
        )
    return "\n".join(parts)


@contextmanager
def worker(
    stages: Sequence[str],
    namespace: str,
    config: Path | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``hslr worker`` for ``stages`` (plus ``args``, e.g. ``--sinks``) in a subprocess with a safe
    import path (:func:`python_command`); stop it (SIGTERM, then SIGKILL) on exit."""
    env = child_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
            "HSLR_FAUST_DATADIR": str(
                Path(tempfile.gettempdir()) / "hslr-faust" / f"{namespace}-{uuid.uuid4().hex[:6]}"
            ),
            **(env or {}),
        }
    )
    cmd = python_command(
        "-m", "streams.cli", "worker", "--namespace", namespace, "--stages", ",".join(stages)
    )
    if config:
        cmd += ["--config", str(Path(config).resolve())]
    cmd += list(args)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603 - fixed argv, no user input
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if not isinstance(out, int):  # a log file, not DEVNULL
            out.close()
