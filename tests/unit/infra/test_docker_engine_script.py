"""infra/docker/engine.sh on a machine that refuses a Docker engine: a fake dockerd that writes its pidfile,
logs a fatal error and exits, as a real one does in a sandbox without the privileges it needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FATAL = (
    'level=fatal msg="failed to start daemon: Error initializing network controller: operation not permitted"'
)


def _engine_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(  # noqa: S603 - fixed argv
        [bash, str(ROOT / "infra" / "docker" / "engine.sh"), "up"],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
        check=False,
    )


def _fake(bin_dir: Path, name: str, body: str) -> None:
    p = bin_dir / name
    p.write_text("#!/usr/bin/env bash\n" + body + "\n")
    p.chmod(0o755)


@pytest.fixture
def refusing_machine(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "dockerd-calls"
    _fake(bin_dir, "docker", "exit 1")  # `docker info`: no engine answers
    _fake(bin_dir, "docker-compose", "exit 0")
    _fake(bin_dir, "debootstrap", "exit 0")
    _fake(bin_dir, "sudo", 'exec "$@"')
    _fake(
        bin_dir,
        "dockerd",
        f'for a in "$@"; do case "$a" in --pidfile=*) echo $$ > "${{a#--pidfile=}}";; '
        f'--storage-driver=*) echo "${{a#--storage-driver=}}" >> "{calls}";; esac; done\n'
        f"echo 'level=info msg=\"Starting up\"'\necho '{FATAL}'\nexit 1",
    )
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HSLR_DOCKER_STATE": str(tmp_path / "state"),
        "HSLR_DOCKER_FOREIGN_PIDFILE": str(tmp_path / "no-foreign.pid"),
        "HSLR_DOCKER_UP_TIMEOUT_S": "10",
        "CALLS": str(calls),
    }


def test_a_refused_engine_exits_3_with_the_daemons_own_reason_after_trying_vfs(
    refusing_machine: dict[str, str],
) -> None:
    p = _engine_up(refusing_machine)
    assert p.returncode == 3, p.stderr
    # the daemon's fatal line reaches the caller (and so the CI log); its info lines do not
    assert p.stderr.count("operation not permitted") >= 1
    assert "Starting up" not in p.stderr
    assert "did not start" in p.stderr
    tried = Path(refusing_machine["CALLS"]).read_text().split()
    assert tried[-1] == "vfs"
    assert len(tried) in (1, 2)  # overlay2 first where the kernel has it, then vfs


def test_a_foreign_daemon_still_starting_is_waited_for_not_doubled(
    refusing_machine: dict[str, str], tmp_path: Path
) -> None:
    """A dockerd started by someone else (its pid alive in /var/run/docker.pid) that answers after a moment:
    engine.sh waits for it and starts no second daemon."""
    flag = tmp_path / "answers"
    _fake(
        Path(refusing_machine["PATH"].split(":")[0]), "docker", f'[[ -f "{flag}" ]] || exit 1\necho overlay2'
    )
    sleeper = subprocess.Popen(["bash", "-c", f"sleep 1; touch {flag}; sleep 30"])  # noqa: S603, S607
    try:
        Path(refusing_machine["HSLR_DOCKER_FOREIGN_PIDFILE"]).write_text(str(sleeper.pid))
        p = _engine_up(refusing_machine)
    finally:
        sleeper.kill()
    assert p.returncode == 0, p.stderr
    assert "engine answers" in p.stdout
    assert not Path(refusing_machine["CALLS"]).exists()  # no dockerd of ours was started
