"""infra/systemd/: every unit passes `systemd-analyze verify` (with the install prefix /opt/hslr mapped to
this checkout), restarts on failure, and the worker units run every DAG stage exactly once."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "infra/systemd"


def _unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(path.read_text())
    return cp


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_verify(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent) + "/"
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/hslr/.venv/bin/", venv_bin).replace("/opt/hslr", str(ROOT))
        (tmp_path / unit.name).write_text(text.replace("User=hslr", "User=root"))
    names = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(  # noqa: S603
        ["systemd-analyze", "verify", "--man=no", *names],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # warnings (an unknown key, a bad value) fail too


def test_long_running_units_restart_and_workers_cover_the_dag() -> None:
    from streams.dag import STAGE_FACTORIES

    covered: list[str] = []
    services = [
        p for p in UNITS.glob("*.service") if p.name not in ("hslr-kafka.service", "hslr-backup.service")
    ]
    assert {p.stem for p in services} >= {"hslr-watchdog", "hslr-api", "hslr-live", "hslr-worker-signal"}
    for path in services:
        svc = _unit(path)["Service"]
        assert svc["Restart"] in ("on-failure", "always"), path.name
        cmd = svc["ExecStart"].split()
        if "worker" in cmd:
            covered += cmd[cmd.index("--stages") + 1].split(",")
    assert sorted(covered) == sorted(STAGE_FACTORIES)
