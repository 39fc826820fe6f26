"""Regime inference speed: compiled forest per row (p50/p99 µs) and per batch (rows/s), vs scikit-learn.

Usage: ``python bench/bench_regime.py [--model models/artifacts/regime/latest] [--rows 2000]``. Without an
artifact it trains a default-sized forest (RegimeConfig().train) on a synthetic market first.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _model(path: str) -> tuple[object, np.ndarray]:
    from models.regime import MODEL_FEATURES, model_features

    if Path(path, "meta.json").is_file():
        from models.artifacts import load_artifact

        model, _ = load_artifact(path, expected_features=MODEL_FEATURES, kind="regime")
    else:
        model = None
    from streams.config import HSLRConfig
    from streams.core.batch import Batch
    from streams.data.synth import generate_market
    from streams.services.features import compute_features

    market = generate_market(["EURUSD", "GBPUSD"], "2019-01-07", "2019-02-02", 3)
    feats = compute_features(Batch(market.bars), HSLRConfig())
    if model is None:
        from streams.stages.regime import RegimeConfig
        from streams.training.regime import train_regime

        model, _ = train_regime(feats, RegimeConfig())
    ready = np.asarray(feats["ready"], dtype=bool)
    return model, model_features(feats.take(ready))


def _per_row(fn, X: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        x = X[i % len(X) : i % len(X) + 1]
        t0 = time.perf_counter_ns()
        fn(x)
        out[i] = time.perf_counter_ns() - t0
    return out / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/artifacts/regime/latest")
    ap.add_argument("--rows", type=int, default=2000)
    args = ap.parse_args()
    model, X = _model(args.model)
    cf = model.compiled_
    print(
        f"forest: {cf.n_trees} trees, depth {cf.depth}, {len(cf.value)} nodes; {X.shape[0]} rows of features"
    )
    P = model.predict_proba(X[:5000])
    print(f"max |compiled - sklearn| = {np.abs(P - model.forest_.predict_proba(X[:5000])).max():.2e}")
    model.predict_proba(X[:10])  # warm
    us = _per_row(model.predict_proba, X, args.rows)
    print(f"compiled single row: p50 {np.percentile(us, 50):.1f} µs, p99 {np.percentile(us, 99):.1f} µs")
    sk = _per_row(model.forest_.predict_proba, X, 200)
    print(f"sklearn  single row: p50 {np.percentile(sk, 50):.1f} µs, p99 {np.percentile(sk, 99):.1f} µs")
    for n in (100, 1000, min(len(X), 50_000)):
        t0 = time.perf_counter()
        model.predict_proba(X[:n])
        dt = time.perf_counter() - t0
        print(f"compiled batch of {n}: {n / dt:,.0f} rows/s")
    t0 = time.perf_counter()
    model.forest_.predict_proba(X[: min(len(X), 50_000)])
    print(
        f"sklearn  batch of {min(len(X), 50_000)}: {min(len(X), 50_000) / (time.perf_counter() - t0):,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
