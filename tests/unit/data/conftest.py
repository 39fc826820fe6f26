"""Shared paths for the data tests: committed fixtures and the optional shared real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import settings

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
HISTDATA = FIXTURES / "histdata"
CALENDAR = FIXTURES / "calendar"


def shared_data_dir() -> Path:
    """``$HSLR_SHARED_DATA``, default ``<repo>/../shared/data``."""
    return Path(settings().hslr_shared_data or REPO.parent / "shared" / "data")


@pytest.fixture
def shared_calendar_dir() -> Path:
    path = shared_data_dir() / "calendar"
    if not (path / "forexfactory_calendar_2019-11_2020-10.csv").is_file():
        pytest.skip(
            f"shared calendar data not found under {path} (set HSLR_SHARED_DATA to the shared data dir)"
        )
    return path
