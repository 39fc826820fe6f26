"""Oracle replay on the synthetic market: the trader's mechanics fed with the generator's truth.

The learned pipeline guesses the regime (random forest), the displacement (mid against a rolling
mean) and the edge (KNN over past bars). The synthetic market knows all three
(:class:`streams.data.synth.SynthMarket` ``truth``): the regime of every minute, the OU deviation
``d = ln(mid) - ln(fair)`` and the OU speed ``theta`` per minute. :func:`oracle_signals` replaces the
learned columns of ``signals.governed`` by the truth and :func:`replay_trader` runs the very same
trader stage (utility sizing, vol target, throttle, limit orders inside the spread, paper broker,
OU time exits) over them. What the oracle cannot keep of the planted edge is lost by the mechanics,
not by the models.

Oracle signal of a bar (pair, t), with ``h`` the edge horizon and ``s`` the pair's stationary standard
deviation of ``d`` over its calm minutes (measured on the truth rows given)::

    side            = -sign(d)
    expected_return = |d| (1 - exp(-theta h))           (the OU's expected reversion over h)
    displacement    = d / s                              (true z-score)
    half_life_min   = ln 2 / theta                       (valid)
    tradeable       = regime is Stable_Flow (calm)
    passed          = tradeable and |d| / s > entry_z and expected_return > cost x safety_factor

``cost`` is the learned signal's own round-trip cost column, so both face the same cost gate form.
Governance is neutral for the oracle (``gov_state`` NORMAL, ``alloc_scale`` 1): a drift monitor
guards against a model that stopped working, and the oracle's model is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch

REGIME_NAMES = np.array(["Stable_Flow", "Directional_Vol", "Event_Risk"])
"""Truth regime codes 0, 1, 2 as the regime stage names them."""
CALM = 0


@dataclass(frozen=True)
class OracleSpec:
    """How the oracle turns the truth into signals (see the module docstring)."""

    entry_z: float = 1.5
    """Enter when |true deviation| exceeds this many calm standard deviations."""
    horizon_min: int = 30
    """Horizon of the expected reversion, minutes (the edge engine's default)."""
    safety_factor: float = 1.5
    """Expected reversion must exceed cost times this (the edge engine's default)."""


def align(signals: Batch, truth: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.int64]:
    """Row of ``truth`` for each signal row (same pair and ts), shape (n,).

    Raises
    ------
    ValueError
        When a signal has no truth row (the signals do not come from this synthetic market).
    """
    index = {
        (p, t): i for i, (p, t) in enumerate(zip(truth["pair"].tolist(), truth["ts"].tolist(), strict=True))
    }
    rows = [index.get(k, -1) for k in zip(signals["pair"].tolist(), signals["ts"].tolist(), strict=True)]
    out = np.asarray(rows, dtype=np.int64)
    if (out < 0).any():
        raise ValueError(f"{int((out < 0).sum())} signal rows have no truth row: not this synthetic market")
    return out


def calm_sd(
    pair: npt.NDArray[Any], deviation: npt.NDArray[np.float64], regime: npt.NDArray[Any]
) -> dict[str, float]:
    """Standard deviation of the true deviation over each pair's calm rows."""
    out = {}
    for p in np.unique(pair).tolist():
        m = (pair == p) & (regime == CALM)
        out[str(p)] = float(np.std(deviation[m])) if m.any() else float("nan")
    return out


def oracle_columns(
    deviation: npt.NDArray[np.float64],
    theta: npt.NDArray[np.float64],
    regime: npt.NDArray[Any],
    sd: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    spec: OracleSpec,
) -> dict[str, npt.NDArray[Any]]:
    """The oracle's signal columns from the truth (all arrays shape (n,); ``sd`` per row)."""
    d = np.asarray(deviation, dtype=np.float64)
    th = np.asarray(theta, dtype=np.float64)
    calm = np.asarray(regime) == CALM
    with np.errstate(divide="ignore", invalid="ignore"):
        z = d / sd
        half_life = np.where(th > 0, np.log(2.0) / th, np.inf)
    er = np.abs(d) * -np.expm1(-th * spec.horizon_min)
    passed = calm & (np.abs(z) > spec.entry_z) & (er > np.asarray(cost) * spec.safety_factor)
    n = len(d)
    return {
        "regime": REGIME_NAMES[np.asarray(regime, dtype=np.int64)],
        "tradeable": calm,
        "expected_return": er,
        "side": (-np.sign(d)).astype(np.int32),
        "displacement": z,
        "passed": passed & (d != 0),
        "half_life_min": half_life,
        "ou_valid": np.isfinite(half_life),
        "horizon_min": np.full(n, spec.horizon_min, dtype=np.int32),
        "gov_state": np.full(n, "NORMAL"),
        "alloc_scale": np.ones(n),
    }


def oracle_signals(
    signals: Batch, truth: Mapping[str, npt.NDArray[Any]], spec: OracleSpec | None = None
) -> Batch:
    """``signals`` (the learned ``signals.governed``) with the oracle's columns in place of the learned."""
    spec = spec or OracleSpec()
    rows = align(signals, truth)
    regime = np.asarray(truth["regime"])[rows]
    dev = np.asarray(truth["deviation"], dtype=np.float64)[rows]
    sd_by_pair = calm_sd(signals["pair"], dev, regime)
    sd = np.array([sd_by_pair[str(p)] for p in signals["pair"].tolist()])
    cols = oracle_columns(dev, np.asarray(truth["ou_theta"])[rows], regime, sd, signals["cost"], spec)
    return signals.with_columns(**cols)


def replay_trader(signals: Batch, config: Any) -> dict[str, Batch]:
    """Run only the trader stage of ``config`` over ``signals`` (a ``signals.governed`` batch).

    The trader is the DAG's last stage and reads governance in-band, so for given signals this equals
    the full pipeline's trader outputs."""
    from streams.dag import build_stages
    from streams.runner.inprocess import run_inprocess

    return run_inprocess(build_stages(config, only=["trader"]), {"signals.governed": signals}, chunk=50_000)


def with_trader(config: Any, **sections: dict[str, Any]) -> Any:
    """``config`` with fields of ``[trader.<section>]`` replaced (e.g. ``risk={"resize_band": 0.5}``)."""
    from streams.config import build_config, dump_config

    data = dump_config(config)
    for name, values in sections.items():
        data.setdefault("trader", {}).setdefault(name, {}).update(values)
    return build_config(data)
