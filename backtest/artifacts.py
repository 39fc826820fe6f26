"""What a run directory holds for ``hslr report``, ``hslr stress`` and ``hslr latency``.

``runs/<run_id>/`` files (all optional except config.json and summary.json, which ``hslr backtest`` /
``hslr demo`` always write):

=================  ======================================================================================
config.json        the effective config (``dump_config``), incl. model paths — ``hslr backtest``
summary.json       the run summary (``backtest.engine.summarize``) — ``hslr backtest``
inputs.json        how to reload the replayed bars: source, pairs, from, to, seed (:func:`save_run_artifacts`)
equity.npz         account rows of the portfolio: ts, equity, drawdown, throttle, kill (:func:`save_run_artifacts`)
timeline.npz       hourly: ts, prob_stable, prob_directional, prob_event, tradeable, passed, n
governance.npz     governance records: ts, ic, n_ic, kl, entropy, state, action
views.json         gate waterfall, per-pair figures, daily regime shares, time in market (:func:`run_views`)
yardstick.json     the naive yardstick's figures on the same data (rendered beside the run's when present)
search.json        ``hslr search`` (its DSR variance, trial count and PBO are used when present)
stress.json        ``backtest.stress.run_stress`` (``hslr stress``)
latency.json       ``backtest.latency.run_latency`` (``hslr latency``)
shuffle.json       shuffle test: ``{"metric", "real", "shuffled": [..], "p_value"}`` (other keys ignored)
folds/<k>/result.json  walk-forward fold results (a dict; scalar entries go into the per-fold table)
=================  ======================================================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from streams.core.batch import Batch

HOUR_MS = 3_600_000
PROBS = ("prob_stable", "prob_directional", "prob_event")


def _hourly(sig: Batch) -> dict[str, Any]:
    """Hourly means of the regime probabilities and tradeable share, passed counts, bar counts."""
    if sig.n == 0:
        return {k: np.zeros(0) for k in ("ts", *PROBS, "tradeable", "passed", "n")}
    hour = sig["ts"] // HOUR_MS
    uniq, inv = np.unique(hour, return_inverse=True)
    inv = inv.reshape(-1)
    n = np.bincount(inv, minlength=len(uniq)).astype(np.float64)

    def mean(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x)
        cnt = np.bincount(inv, weights=ok.astype(np.float64), minlength=len(uniq))
        tot = np.bincount(inv, weights=np.where(ok, x, 0.0), minlength=len(uniq))
        with np.errstate(invalid="ignore", divide="ignore"):
            return tot / cnt

    cols = {p: mean(sig[p]) for p in PROBS if p in sig}
    return {
        "ts": uniq * HOUR_MS,
        **cols,
        "tradeable": mean(sig["tradeable"]),
        "passed": np.bincount(inv, weights=sig["passed"].astype(np.float64), minlength=len(uniq)),
        "n": n,
    }


def save_run_artifacts(
    run_dir: str | Path, outputs: dict[str, Batch], inputs: dict[str, Any] | None = None
) -> list[Path]:
    """Write equity.npz, timeline.npz, governance.npz (and inputs.json) from a replay's ``outputs``.

    Parameters
    ----------
    run_dir : the run directory (created if missing).
    outputs : topic key → records, as returned by ``backtest.engine.run_engine`` (needs ``portfolio``;
        ``signals.governed`` and ``governance`` are used when present).
    inputs : how the bars were obtained — ``{"source": "db"|"synth", "pairs": [...], "from": "YYYY-MM-DD",
        "to": "YYYY-MM-DD", "seed": int}`` — so ``hslr stress|latency RUN`` can replay the same window.

    Returns the paths written.
    """
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    port = outputs["portfolio"]
    acct = port["pair"] == "" if port.n else np.zeros(0, dtype=bool)
    eq: dict[str, Any] = (
        {
            "ts": port["ts"][acct],
            "equity": port["equity_usd"][acct],
            "drawdown": port["drawdown"][acct],
            "throttle": port["throttle"][acct],
            "kill": port["kill_active"][acct],
        }
        if port.n
        else {k: np.zeros(0) for k in ("ts", "equity", "drawdown", "throttle", "kill")}
    )
    np.savez_compressed(d / "equity.npz", **eq)
    written.append(d / "equity.npz")
    sig = outputs.get("signals.governed")
    if sig is not None:
        np.savez_compressed(d / "timeline.npz", **_hourly(sig))
        written.append(d / "timeline.npz")
    gov = outputs.get("governance")
    if gov is not None and gov.n:
        np.savez_compressed(
            d / "governance.npz",
            ts=gov["ts"],
            ic=gov["ic"],
            n_ic=gov["n_ic"],
            kl=gov["kl_divergence"],
            entropy=gov["entropy_avg"],
            state=gov["state"].astype(str),
            action=gov["action"].astype(str),
        )
        written.append(d / "governance.npz")
    if sig is not None and "risk.targets" in outputs:
        (d / "views.json").write_text(json.dumps(run_views(outputs), default=float))
        written.append(d / "views.json")
    if inputs is not None:
        (d / "inputs.json").write_text(json.dumps(inputs, indent=1, default=str))
        written.append(d / "inputs.json")
    return written


def run_views(outputs: dict[str, Batch]) -> dict[str, Any]:
    """The tearsheet's views of a whole replay: gate waterfall, per-pair figures, time in market."""
    from backtest.fold_metrics import views

    sig = outputs["signals.governed"]
    if not sig.n:
        return {}
    return views(outputs, sig, int(sig["ts"].min()), int(sig["ts"].max()) + 60_000)


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of ``path`` or None when it does not exist."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None
