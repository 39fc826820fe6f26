"""Run records shared by the commands and research: provenance, models and calendar, ``backtest_runs``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.config import HSLRConfig


def code_version() -> str:
    """``git describe --always --dirty`` of the repository, or ``unknown`` outside git."""
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def default_calendar_path(explicit: str) -> str:
    """``explicit``, else the shared real calendar (``Settings.hslr_shared_data``) when present, else ""."""
    from streams.settings import settings

    if explicit:
        return explicit
    shared = Path(settings().hslr_shared_data or Path(__file__).resolve().parents[3] / "shared" / "data")
    path = shared / "calendar" / "forexfactory_calendar_2019-11_2020-10.csv"
    return str(path) if path.exists() else ""


def _absolute_if_here(path: str) -> str:
    return str(Path(path).resolve()) if path and Path(path).exists() else path


def with_models(config: HSLRConfig, regime: str, edge: str, calendar: str) -> HSLRConfig:
    """``config`` with the model artifacts and the reference calendar set."""
    from streams.config import build_config, dump_config

    data = dump_config(config)
    # a model saved relative to the working directory (a run directory) becomes absolute; other relative
    # paths stay relative to the data directory (streams.settings.data_path)
    data.setdefault("regime", {})["model_path"] = _absolute_if_here(regime)
    data.setdefault("edge", {})["model_path"] = _absolute_if_here(edge)
    if calendar:
        data.setdefault("news", {})["calendar_path"] = calendar
    return build_config(data)


def record_run(run_id: str, kind: str, config: HSLRConfig, summary: dict[str, Any], run_dir: Path) -> None:
    """Write ``config.json`` and ``summary.json`` under ``run_dir`` and upsert the ``backtest_runs`` row."""
    from streams.config import dump_config

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(dump_config(config), indent=1))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    try:
        from streams.storage.db import connect
        from streams.storage.runs import upsert_run

        with connect() as conn:
            upsert_run(conn, run_id, kind, dump_config(config), code_version(), summary)
            conn.commit()
    except Exception as exc:  # noqa: BLE001 - the run's files are the record; the table is a convenience
        print(f"(backtest_runs not written: {exc})")
