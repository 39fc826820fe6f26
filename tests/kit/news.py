"""Test records for the news stage: regime batches and hand-made calendars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch
from streams.settings import settings

ROOT = Path(__file__).resolve().parents[2]
NEWS_FIELDS = ("event_override", "override_reason", "surprise_mode")
_DTYPES = {"double": np.float64, "int": np.int32, "long": np.int64, "boolean": np.bool_, "string": str}


def shared_calendar_csv() -> Path:
    """Path of the real ForexFactory CSV (env HSLR_SHARED_DATA, default <repo>/../shared/data)."""
    base = Path(settings().hslr_shared_data or ROOT.parent / "shared" / "data")
    return base / "calendar" / "forexfactory_calendar_2019-11_2020-10.csv"


def regime_fields() -> list[tuple[str, Any]]:
    """(name, numpy dtype) of the regime record: regime_adjusted fields minus the news fields."""
    raw = json.loads((ROOT / "schemas" / "regime_adjusted.avsc").read_text())
    out = []
    for f in raw["fields"]:
        t = f["type"]["type"] if isinstance(f["type"], dict) else f["type"]
        if f["name"] not in NEWS_FIELDS:
            out.append((f["name"], _DTYPES[t]))
    return out


def regime_batch(pairs: np.ndarray, ts: np.ndarray, rng: np.random.Generator) -> Batch:
    """A regime batch with the given pair/ts rows and random model fields (valid for the schema)."""
    n = len(ts)
    cols: dict[str, Any] = {}
    for name, dt in regime_fields():
        if dt is np.float64:
            cols[name] = rng.normal(size=n)
        elif dt is np.bool_:
            cols[name] = rng.random(n) < 0.7
        elif dt is np.int32:
            cols[name] = rng.integers(0, 5, n).astype(np.int32)
        elif dt is str:
            cols[name] = np.full(n, "v1")
    regimes = np.array(["Stable_Flow", "Directional_Vol", "Event_Risk"])
    cols.update(
        pair=np.asarray(pairs).astype(str),
        ts=np.asarray(ts, dtype=np.int64),
        regime=regimes[rng.integers(0, 3, n)],
    )
    return Batch(cols)


def ms(stamp: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 UTC time."""
    return int(pd.Timestamp(stamp, tz="UTC").value // 1_000_000)


def calendar(rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """Calendar columns from (event_id, iso time, currency, impact, title, actual, forecast) rows."""

    def col(i: int, dt: Any) -> np.ndarray:
        return np.array([r[i] for r in rows], dtype=dt)

    return {
        "event_id": col(0, str),
        "ts": np.array([ms(r[1]) for r in rows], dtype=np.int64),
        "currency": col(2, str),
        "impact": col(3, str),
        "title": col(4, str),
        "actual_value": col(5, np.float64),
        "forecast_value": col(6, np.float64),
    }
