"""Edge engine benchmark and evidence report (``.venv/bin/python bench/bench_edge.py``).

1. Analytic check: KNN and KDE vs the closed-form conditional law of an OU trade.
2. OU governance: theta recovery on simulated OU paths.
3. Synthetic market (streams.data.synth -> market -> features stages): out-of-sample Spearman IC,
   Brier score and CVaR calibration of KNN vs KDE (train on the first weeks, evaluate on the last
   weeks; no tuning on the evaluation window).
4. Throughput of the model (grid vs exact) and of the whole edge stage, rows/s.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.stats import norm

from models.edge import EDGE_FEATURES, EdgeModel
from streams.core.batch import Batch
from streams.stages.edge.ou import empty_history, ou_update
from streams.stages.edge.stage import EdgeConfig, EdgeStage
from streams.training.edge import evaluate, model_from_config, training_arrays


def analytic(n: int = 200_000, h: int = 30, theta: float = 0.05, sigma: float = 1e-4) -> None:
    rng = np.random.default_rng(1)
    sd = sigma / math.sqrt(2 * theta)
    s = math.sqrt(sigma**2 * (1 - math.exp(-2 * theta * h)) / (2 * theta))
    x = rng.normal(0, sd, n)
    xh = x * math.exp(-theta * h) + rng.normal(0, s, n)
    y = -np.sign(x) * (xh - x)
    feats = lambda v: np.column_stack([norm.cdf(v / sd), np.ones_like(v), np.ones_like(v), np.zeros_like(v)])  # noqa: E731
    xq = sd * norm.ppf(np.linspace(0.03, 0.97, 47))
    mu = np.abs(xq) * (1 - math.exp(-theta * h))
    truth = np.column_stack([mu, norm.cdf(mu / s), mu - s * norm.pdf(norm.ppf(0.05)) / 0.05])
    print(f"[analytic] OU theta={theta}/min h={h} min, {n} samples, errors at 47 displacement quantiles:")
    for method, inference in (("knn", "exact"), ("knn", "grid"), ("kde", "exact"), ("kde", "grid")):
        est = EdgeModel(method=method, inference=inference, n_neighbors=400, bandwidth=0.005).fit(feats(x), y)
        e = est.predict_stats(feats(xq))[:, :3] - truth
        rms = np.sqrt((e**2).mean(axis=0))
        print(
            f"  {method}/{inference}: E[r] rms {rms[0] / s:.3f} s (max {np.abs(e[:, 0]).max() / s:.3f} s), "
            f"win rms {rms[1]:.4f} (max {np.abs(e[:, 1]).max():.4f}), CVaR rms {rms[2] / s:.3f} s "
            f"(max {np.abs(e[:, 2]).max() / s:.3f} s); s = {s:.2e}"
        )


def ou_recovery() -> None:
    for theta, n, window, seeds in ((0.1, 5000, 5000, 20), (0.02, 5000, 5000, 20), (0.02, 50_000, 2000, 3)):
        b = math.exp(-theta)
        est = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            e = rng.normal(0, 1, n)
            x = np.empty(n)
            x[0] = e[0] / math.sqrt(1 - b * b)
            for i in range(1, n):
                x[i] = b * x[i - 1] + e[i]
            fit = ou_update(empty_history(), x, np.ones(n, np.int32), window, 30, 2.86)[1]
            est.append(np.median(fit.theta[window:]) if n > window else fit.theta[-1])
        est = np.array(est)
        print(
            f"[ou] theta={theta} N={n} window={window}: mean est {est.mean():.5f} "
            f"(bias {est.mean() / theta - 1:+.2%}), worst {np.abs(est / theta - 1).max():.2%} over {seeds} path(s)"
        )


def synth_features(pairs: list[str], start: str, end: str, seed: int) -> Batch:
    from streams.config import HSLRConfig
    from streams.dag import build_stages
    from streams.data.synth import generate_market
    from streams.runner.inprocess import run_inprocess

    t = time.perf_counter()
    bars = Batch(generate_market(pairs, start, end, seed).bars)
    out = run_inprocess(build_stages(HSLRConfig(), only=["market", "features"]), {"bars": bars})
    print(
        f"[synth] {bars.n} bars {pairs} {start}..{end} seed {seed}: market+features {time.perf_counter() - t:.1f}s"
    )
    return out["features"]


def ic_report(features: Batch, split: str, cfg: EdgeConfig) -> EdgeModel:
    split_ms = int(np.datetime64(split, "ms").astype(np.int64))
    train, test = features.take(features["ts"] < split_ms), features.take(features["ts"] >= split_ms)
    X, y = training_arrays(train, cfg.horizon_min)
    Xt, yt = training_arrays(test, cfg.horizon_min)
    print(
        f"[ic] train rows {np.isfinite(y).sum()}, test rows {np.isfinite(yt).sum()}, split {split}, h={cfg.horizon_min}"
    )
    chosen = None
    for method in ("knn", "kde"):
        model = model_from_config(cfg, method=method).fit(X, y)
        m = evaluate(model.predict_stats(Xt), yt)
        print(
            f"  {method}: IC {m['ic']:+.4f}  Brier {m['brier']:.5f} (const {m['brier_baseline']:.5f})  "
            f"CVaR ratio {m['cvar_ratio']:.3f}  top-decile mean {m['mean_return_top_decile']:+.2e} "
            f"vs all {m['mean_return_all']:+.2e}"
        )
        chosen = model if method == cfg.method else chosen
    assert chosen is not None
    return chosen


def regime_adjusted_from(features: Batch) -> Batch:
    n = features.n
    return features.with_columns(
        prob_stable=np.full(n, 0.9),
        prob_directional=np.full(n, 0.05),
        prob_event=np.full(n, 0.05),
        entropy=np.full(n, 0.4),
        regime=np.full(n, "Stable_Flow"),
        tradeable=features["ready"],
        model_version=np.full(n, "bench"),
        event_override=np.zeros(n, bool),
        override_reason=np.full(n, ""),
        surprise_mode=np.zeros(n, np.int32),
    )


def throughput(model: EdgeModel, features: Batch, cfg: EdgeConfig, chunk: int) -> None:
    X = np.stack([features[k].astype(float) for k in EDGE_FEATURES], axis=1)
    t = time.perf_counter()
    model.predict_stats(X)
    print(f"[speed] model grid: {len(X) / (time.perf_counter() - t):,.0f} rows/s ({len(X)} rows)")
    exact = EdgeModel(**{**model.get_params(), "inference": "exact"})
    exact.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_") and k != "grid_"})
    sub = X[:20_000]
    t = time.perf_counter()
    exact.predict_stats(sub)
    print(
        f"[speed] model exact ({model.method}, k={model.n_neighbors}): {len(sub) / (time.perf_counter() - t):,.0f} rows/s"
    )
    stage, data = EdgeStage(cfg, model), regime_adjusted_from(features)
    state = stage.initial_state()
    t = time.perf_counter()
    parts = []
    for a in range(0, data.n, chunk):
        state, out = stage.process(state, "regime.adjusted", data.take(slice(a, a + chunk)))
        parts.append(out["signals"]["blocked_by"])
    dt = time.perf_counter() - t
    why = np.concatenate(parts)
    print(
        f"[speed] edge stage (chunks of {chunk}): {data.n / dt:,.0f} rows/s; passed {(why == '').sum()}/{data.n}"
    )
    from streams.stages.edge.gates import GATES

    names = [set(w.split(",")) for w in why.tolist()]
    counts = {g: sum(g in s for s in names) for g in GATES}
    print(f"[gates] rows blocked per gate (regime/news/surprise synthetic: tradeable = ready): {counts}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", default="EURUSD,GBPUSD,USDJPY")
    ap.add_argument("--start", default="2020-01-06")
    ap.add_argument("--split", default="2020-02-17")
    ap.add_argument("--end", default="2020-03-02")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--skip-analytic", action="store_true")
    args = ap.parse_args()
    cfg = EdgeConfig()
    if not args.skip_analytic:
        analytic()
        ou_recovery()
    features = synth_features(args.pairs.split(","), args.start, args.end, args.seed)
    model = ic_report(features, args.split, cfg)
    throughput(model, features, cfg, args.chunk)


if __name__ == "__main__":
    main()
