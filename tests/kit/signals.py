"""Seeded synthetic ``signals`` streams with a known edge, for the governance tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streams.core.batch import Batch

MIN = 60_000
DAY = 1440 * MIN
T0 = 1_577_836_800_000  # 2020-01-01T00:00Z
_SIGNAL = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "signal.avsc").read_text())
_DEFAULTS = {"double": 0.0, "int": 0, "long": 0, "boolean": False, "string": ""}


def _type(f: dict) -> str:
    return f["type"] if isinstance(f["type"], str) else f["type"]["type"]


def signals(
    days: float,
    *,
    pairs: tuple[str, ...] = ("EURUSD", "GBPUSD"),
    step_min: int = 5,
    rho: tuple[float, float] = (0.3, 0.3),
    break_day: float = 1e9,
    shuffle_after: bool = False,
    seed: int = 0,
) -> Batch:
    """Signals every ``step_min`` minutes per pair, sorted by (ts, pair), resolving at the next bar.

    ``expected_return`` is Gaussian; the realized return in the trade direction has correlation
    ``rho[0]`` with it before ``break_day`` and ``rho[1]`` after (``shuffle_after``: the realized returns
    after the break are a random permutation of those, i.e. independent of the prediction).
    """
    rng = np.random.default_rng(seed)
    n_t = int(days * DAY / (step_min * MIN))
    ts = T0 + np.arange(n_t, dtype=np.int64) * step_min * MIN
    cols: dict[str, list] = {}
    for p in pairs:
        x = rng.normal(1e-4, 5e-5, n_t)
        z, eps = (x - 1e-4) / 5e-5, rng.normal(size=n_t)
        after = ts >= T0 + break_day * DAY
        r = np.where(after, rho[1], rho[0])
        y = 3e-4 * (r * z + np.sqrt(1 - r**2) * eps)
        if shuffle_after:
            y[after] = rng.permutation(y[after])
        side = rng.choice([-1, 1], n_t)
        mid = 1.1 * np.exp(np.concatenate([[0.0], np.cumsum(side * y)[:-1]]))
        part = {
            "pair": np.full(n_t, p),
            "ts": ts,
            "mid": mid,
            "expected_return": x,
            "side": side,
            "displacement": -side * 1.5,
            "horizon_min": np.full(n_t, step_min),
            "ready": np.ones(n_t, bool),
            "entropy": np.full(n_t, 0.4),
            "realized": y,
        }
        for k, v in part.items():
            cols.setdefault(k, []).append(v)
    out = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((out["pair"], out["ts"]))
    out = {k: v[order] for k, v in out.items()}
    return Batch(_complete(out, order.size, rng))


def _complete(cols: dict, n: int, rng: np.random.Generator) -> dict:
    """Fill every other signal.avsc field with a plausible value."""
    dtypes = {"double": np.float64, "int": np.int32, "long": np.int64, "boolean": bool, "string": str}
    for f in _SIGNAL["fields"]:
        name, t = f["name"], _type(f)
        if name not in cols:
            cols[name] = np.full(n, _DEFAULTS[t], dtype=dtypes[t])
        else:
            cols[name] = cols[name].astype(dtypes[t])
    for k in ("gk_vol", "spread_widening", "tick_velocity", "session_vol_norm"):
        cols[k] = rng.normal(size=n)
    for k in ("open", "high", "low", "close"):
        cols[k] = cols["mid"]
    cols["passed"] = np.ones(n, dtype=bool)
    return cols
