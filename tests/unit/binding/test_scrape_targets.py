"""Scrape-target files of dead workers are removed when a worker registers (issue 11 #5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from streams.infra import register_scrape_target, scrape_targets_dir


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )  # noqa: S603
    return int(proc.stdout)


def _write(name: str, host_port: str, pid: int | None) -> None:
    labels = {"worker": name, **({"pid": str(pid)} if pid is not None else {})}
    (scrape_targets_dir() / f"{name}.json").write_text(
        json.dumps([{"targets": [host_port], "labels": labels}])
    )


def test_dead_workers_targets_are_cleaned(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSLR_SCRAPE_TARGETS_DIR", str(tmp_path))
    monkeypatch.delenv("HSLR_SCRAPE_HOST", raising=False)
    _write("hslr-market-dead", "127.0.0.1:8001", _dead_pid())  # killed by SIGKILL: never unregistered
    _write("hslr-old-format", "127.0.0.1:8002", None)  # same port as the new worker: dead
    _write("hslr-alive", "127.0.0.1:8003", os.getpid())
    _write("other-host", "worker2:8001", _dead_pid())  # another container's PID namespace: not ours
    register_scrape_target("hslr-trader-new", 8002, namespace="hslr")
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == ["hslr-alive", "hslr-trader-new", "other-host"]
    (entry,) = json.loads((tmp_path / "hslr-trader-new.json").read_text())
    assert entry["labels"] == {"worker": "hslr-trader-new", "pid": str(os.getpid()), "namespace": "hslr"}
