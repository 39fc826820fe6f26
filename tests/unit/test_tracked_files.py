"""What the repository tracks: never a virtual environment, never a link to a path outside the checkout
(a worktree's ``.venv`` symlink was once committed and its merge deleted the checkout's real venv)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tracked() -> list[tuple[str, str]]:
    """(mode, path) of every tracked file; skips outside a git checkout (e.g. an image's copy)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(  # noqa: S603 - fixed argv
        [git, "-C", str(ROOT), "ls-files", "-s"], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        rows.append((meta.split()[0], path))
    return rows


def test_no_virtual_environment_is_tracked() -> None:
    venvs = [p for _, p in _tracked() if p.split("/")[0] in (".venv", "venv") or "/.venv" in p]
    assert venvs == []


def test_no_tracked_link_leaves_the_checkout() -> None:
    bad = []
    for mode, path in _tracked():
        if mode == "120000":  # a symbolic link: its target is the blob
            target = (ROOT / path).parent / Path((ROOT / path).readlink())
            if Path(str((ROOT / path).readlink())).is_absolute() or not target.resolve().is_relative_to(ROOT):
                bad.append(path)
    assert bad == []
