"""Faust worker subprocesses and fresh topic namespaces: used by the Kafka backtest engine, tests and
benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from streams.infra import bootstrap_servers


def fresh_namespace(prefix: str = "it") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@contextmanager
def worker(
    stages: Sequence[str],
    namespace: str,
    config: Path | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``hslr worker`` for ``stages`` (plus ``args``, e.g. ``--sinks``) in a subprocess; stop it
    (SIGTERM, then SIGKILL) on exit."""
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers(),
        HSLR_FAUST_DATADIR=str(
            Path(tempfile.gettempdir()) / "hslr-faust" / f"{namespace}-{uuid.uuid4().hex[:6]}"
        ),
        **(env or {}),
    )
    cmd = [
        sys.executable,
        "-m",
        "streams.cli",
        "worker",
        "--namespace",
        namespace,
        "--stages",
        ",".join(stages),
    ]
    if config:
        cmd += ["--config", str(config)]
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
