"""Child processes start with a safe import path; a dead worker is named with its log's last lines."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from streams.binding.workers import child_env, died_message, log_tail, python_command, settle
from streams.settings import PROJECT_ROOT, data_dir, data_path, settings


def _shadow(tmp_path: Path) -> Path:
    # what `hslr train` used to leave in the working directory: ./models/artifacts/...
    (tmp_path / "models" / "artifacts" / "regime").mkdir(parents=True)
    return tmp_path


def test_a_models_folder_in_the_cwd_does_not_shadow_the_package(tmp_path: Path) -> None:
    cwd = _shadow(tmp_path)
    probe = "import models.artifacts as a; print(a.META_FILE, a.__file__)"
    # the way workers were started: `python -m ...` with the cwd first on sys.path and the project
    # found by the editable install's finder, which runs after the path: ./models (a namespace
    # package) wins and models.artifacts is the folder ./models/artifacts
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    plain = subprocess.run(  # noqa: S603
        [python_command()[0], "-c", probe], cwd=cwd, env=bare, capture_output=True, text=True
    )
    # (with a non-editable install the shadowing does not happen: nothing to show then)
    assert plain.returncode == 0 or "META_FILE" in plain.stderr
    safe = subprocess.run(  # noqa: S603
        [*python_command("-c", probe)], cwd=cwd, env=child_env(), capture_output=True, text=True
    )
    assert safe.returncode == 0, safe.stderr
    assert str(PROJECT_ROOT / "models" / "artifacts.py") in safe.stdout


def test_child_env_puts_the_project_root_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", f"/elsewhere:{PROJECT_ROOT}")
    assert child_env()["PYTHONPATH"].split(":") == [str(PROJECT_ROOT), "/elsewhere"]


def test_died_message_names_the_log_and_its_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "worker-0.log"
    code = "import sys; print('\\n'.join(f'line {i}' for i in range(30))); sys.exit(3)"
    with log.open("wb") as out:
        proc = subprocess.Popen([*python_command("-c", code)], stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        proc.wait(30)
    msg = died_message([(proc, log)], lines=5)
    assert f"exited with status 3 (log {log})" in msg
    assert msg.splitlines()[-5:] == [f"line {i}" for i in range(25, 30)]
    assert log_tail(tmp_path / "missing.log") == ""


def test_settle_lets_a_slower_failing_sibling_be_named_too(tmp_path: Path) -> None:
    # regression (CI, stop 16): two workers failed on the same bad config 0.1 s apart; the report, read at
    # the first exit, named only the faster one
    procs, logs = [], []
    for i, delay in enumerate((0.0, 1.0)):
        logs.append(tmp_path / f"worker-{i}.log")
        code = f"import sys, time; time.sleep({delay}); print('failed {i}'); sys.exit(1)"
        with logs[-1].open("wb") as out:
            cmd = python_command("-c", code)
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT))  # noqa: S603
    procs[0].wait(30)
    settle(procs, seconds=30)
    msg = died_message(list(zip(procs, logs, strict=True)))
    assert all(f"log {log}" in msg for log in logs)
    assert "failed 0" in msg
    assert "failed 1" in msg


def test_settle_gives_up_on_a_live_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([*python_command("-c", "import time; time.sleep(30)")])  # noqa: S603
    try:
        t0 = time.monotonic()
        settle([proc], seconds=0.3)
        assert 0.3 <= time.monotonic() - t0 < 5
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_data_dir_is_configurable_and_never_the_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HSLR_DATA_DIR", raising=False)
    settings.cache_clear()
    try:
        assert data_dir() == PROJECT_ROOT / "var"  # a source checkout: its git-ignored var/
        monkeypatch.setenv("HSLR_DATA_DIR", str(tmp_path / "d"))
        settings.cache_clear()
        assert data_path("models/artifacts/edge/latest") == tmp_path / "d" / "models/artifacts/edge/latest"
        assert data_path("/abs/x") == Path("/abs/x")
    finally:
        settings.cache_clear()
