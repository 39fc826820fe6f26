"""Optional checks on real market data: run only when ``HSLR_REALDATA_DIR`` names a folder of files.

Layout (what ``infra/fetch_realdata.sh`` leaves): ``histdata/HISTDATA_COM_ASCII_<PAIR>_M1<YEAR>.zip``
and ``nautilus/<pair>-m1-{bid,ask}-<year>.csv``. Either part may be missing; its tests then skip.
No data ships with the repository and CI runs none of this.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import settings

ENV = "HSLR_REALDATA_DIR"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    value = settings().hslr_realdata_dir
    if not value:
        pytest.skip(f"real-data tests: set {ENV} to a folder of real M1 files (see infra/fetch_realdata.sh)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"real-data tests: {ENV}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def histdata_files(realdata_dir: Path) -> list[Path]:
    files = sorted(realdata_dir.rglob("HISTDATA_COM_ASCII_*_M1*.zip"))
    if not files:
        pytest.skip(f"real-data tests: no HISTDATA_COM_ASCII_<PAIR>_M1<YEAR>.zip under {realdata_dir}")
    return files


@pytest.fixture(scope="session")
def bidask_dir(realdata_dir: Path) -> Path:
    for folder in (realdata_dir / "nautilus", realdata_dir):
        if (folder / "gbpusd-m1-bid-2012.csv").is_file() or (folder / "usdjpy-m1-bid-2013.csv").is_file():
            return folder
    pytest.skip(f"real-data tests: no <pair>-m1-bid/ask-<year>.csv files under {realdata_dir}")
