"""Summarise a real-data walk-forward run directory (bench/realdata_walkforward.py) as figures only.

Writes ``econ_summary.json`` into the run directory and prints a Markdown report (per pair and pooled
PnL, Sharpe with bootstrap CI, DSR counting every configuration tried, PBO of the research grid, edge
skill vs the constant baseline, fill-model calibration, gate blocks, wall time).

    PYTHONPATH=$PWD python bench/realdata_summary.py RUN_DIR --trials N > results/realdata_walkforward.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from backtest import stats
from backtest.fold_metrics import stitch

ANNUAL = 260.0


def _folds(run: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(run.glob("folds/*/result.json"), key=lambda q: int(q.parent.name)):
        out.append(json.loads(p.read_text()))
    return out


def _fmt(x: Any, f: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return format(x, f)


def pair_table(folds: list[dict[str, Any]], months: float) -> dict[str, dict[str, float]]:
    agg: dict[str, dict[str, float]] = {}
    for f in folds:
        for p, v in f["extra"]["pairs"].items():
            a = agg.setdefault(
                p,
                {
                    "round_trips": 0.0,
                    "gross_usd": 0.0,
                    "commission_usd": 0.0,
                    "net_usd": 0.0,
                    "max_dd_usd": 0.0,
                    "fills": 0.0,
                },
            )
            for k in ("round_trips", "gross_usd", "commission_usd", "net_usd", "fills"):
                a[k] += v[k]
            a["max_dd_usd"] = max(a["max_dd_usd"], v["max_dd_usd"])
    for a in agg.values():
        a["round_trips_per_month"] = a["round_trips"] / months
    return agg


def skill_table(folds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in folds:
        for p, s in f["extra"]["skill"].items():
            a = out.setdefault(
                p,
                {
                    "sse": 0.0,
                    "sse_const": 0.0,
                    "n": 0,
                    "folds": 0,
                    "better": 0,
                    "ics": [],
                    "ic_pos": 0,
                    "ic_neg": 0,
                    "trade_ok_folds": 0,
                    "chosen": {},
                },
            )
            if "sse" not in s:
                continue
            a["sse"] += s["sse"]
            a["sse_const"] += s["sse_const"]
            a["n"] += s["n_filled"]
            a["folds"] += 1
            a["better"] += int(s["brier"] < s["brier_const"])
            a["ics"].append(s.get("ic", float("nan")))
            a["ic_pos"] += int(s.get("ic_lo", -1) > 0)
            a["ic_neg"] += int(s.get("ic_hi", 1) < 0)
            a["trade_ok_folds"] += int(s.get("trade_ok", False))
            a["chosen"][s["chosen"]] = a["chosen"].get(s["chosen"], 0) + 1
    for a in out.values():
        a["brier"] = a["sse"] / a["n"] if a["n"] else float("nan")
        a["brier_const"] = a["sse_const"] / a["n"] if a["n"] else float("nan")
        a["mean_ic"] = float(np.nanmean(a["ics"])) if a["ics"] else float("nan")
    return out


def calibration(
    folds: list[dict[str, Any]], kind: str
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    by_pair: dict[str, dict[str, float]] = {}
    by_bucket: dict[str, dict[str, float]] = {}
    for f in folds:
        for key, s in f["extra"]["fill_calibration"][kind].items():
            pair, bucket = key.split(":")
            for tgt, k in ((by_pair, pair), (by_bucket, bucket)):
                a = tgt.setdefault(
                    k,
                    {"n": 0.0, "pred_fill": 0.0, "fills": 0.0, "pred_mark": 0.0, "mark": 0.0, "n_mark": 0.0},
                )
                for c in a:
                    a[c] += s[c]
    return by_pair, by_bucket


def grid_matrix(folds: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    names = folds[0]["extra"]["grid"]["names"]
    R = np.concatenate(
        [np.asarray(f["extra"]["grid"]["returns"], dtype=np.float64).reshape(-1, len(names)) for f in folds]
    )
    return names, R


def summarise(run: Path, trials: int) -> dict[str, Any]:
    folds = _folds(run)
    months = float(len(folds))
    st = stitch(folds)
    rets = np.array([x for f in folds for x in f["daily"]["ret"]], dtype=np.float64)
    names, R = grid_matrix(folds)
    srs = np.array([stats.sharpe(R[:, j]) for j in range(R.shape[1])])
    fin = np.isfinite(srs)
    var = float(np.var(srs[fin], ddof=1)) if fin.sum() > 1 else 0.0
    sr = stats.sharpe(rets)
    skew, kurt = stats.moments(rets) if len(rets) > 2 else (0.0, 3.0)
    dsr = stats.deflated_sharpe(sr, len(rets), skew, kurt, var, trials) if np.isfinite(sr) else float("nan")
    active = np.abs(R).sum(axis=0) > 0
    try:
        pbo = (
            stats.pbo_cscv(R[:, active], n_splits=8)
            if active.sum() >= 2
            else {"pbo": float("nan"), "note": f"{int(active.sum())} grid configurations traded"}
        )
    except ValueError as exc:
        pbo = {"pbo": float("nan"), "note": str(exc)}
    pooled_dd = st["max_drawdown_daily"]
    gates: dict[str, int] = {}
    for f in folds:
        for g, n in f["extra"]["gate_blocks"].items():
            gates[g] = gates.get(g, 0) + n
    timing = [json.loads(p.read_text()) for p in run.glob("timing-*.json")]
    return {
        "folds": len(folds),
        "fold_windows": [(f["fold"]["test_from_iso"][:10], f["fold"]["test_to_iso"][:10]) for f in folds],
        "stitched": st,
        "pooled": {
            "return": st["return"],
            "sharpe": st["sharpe"],
            "sharpe_ci95": st["sharpe_ci95"],
            "max_drawdown_daily": pooled_dd,
            "max_drawdown_intraday_max_fold": max(f["max_drawdown"] for f in folds),
            "fills": st["fills"],
            "spread_cost_usd": st["spread_cost_usd"],
            "commission_usd": st["commission_usd"],
            "dsr": dsr,
            "dsr_trials": trials,
            "dsr_sr_variance_from_grid": var,
        },
        "pairs": pair_table(folds, months),
        "skill": skill_table(folds),
        "calibration_simulated": calibration(folds, "simulated"),
        "calibration_broker": calibration(folds, "broker"),
        "grid": {
            "names": names,
            "sharpe_annual": [float(s * np.sqrt(ANNUAL)) if np.isfinite(s) else None for s in srs],
            "total_return": R.sum(axis=0).tolist(),
            "days_traded": (np.abs(R) > 0).sum(axis=0).tolist(),
            "pbo": pbo,
        },
        "gate_blocks": gates,
        "train_seconds": sum(f["train_seconds"] for f in folds),
        "replay_seconds": sum(f["replay_seconds"] for f in folds),
        "eval_seconds": sum(f["extra"]["eval_seconds"] for f in folds),
        "process_seconds": [t["seconds"] for t in timing],
    }


def markdown(s: dict[str, Any]) -> str:
    p = s["pooled"]
    lines = [
        f"Folds: {s['folds']} (test months {s['fold_windows'][0][0]} .. {s['fold_windows'][-1][1]}).",
        "",
        "| pooled | value |",
        "|---|---|",
        f"| return (stitched) | {_fmt(p['return'], '+.4%')} |",
        f"| Sharpe (daily, annualised) | {_fmt(p['sharpe'], '.2f')} [95 % CI {_fmt(p['sharpe_ci95'][0], '.2f')}, {_fmt(p['sharpe_ci95'][1], '.2f')}] |",
        f"| DSR ({p['dsr_trials']} configurations) | {_fmt(p['dsr'], '.3f')} |",
        f"| max drawdown (daily closes) / worst fold intraday | {_fmt(p['max_drawdown_daily'], '.4%')} / {_fmt(p['max_drawdown_intraday_max_fold'], '.4%')} |",
        f"| fills | {p['fills']} |",
        f"| spread cost (USD, negative = earned) / commission (USD) | {_fmt(p['spread_cost_usd'], '.2f')} / {_fmt(p['commission_usd'], '.2f')} |",
        f"| PBO of the research grid | {_fmt(s['grid']['pbo'].get('pbo'), '.3f')} {s['grid']['pbo'].get('note', '')} |",
        "",
        "| pair | round trips / month | gross USD | commission USD | net USD | max DD (realised, USD) |",
        "|---|---|---|---|---|---|",
    ]
    for pair, a in sorted(s["pairs"].items()):
        lines.append(
            f"| {pair} | {a['round_trips_per_month']:.2f} | {a['gross_usd']:.2f} | {a['commission_usd']:.2f} | {a['net_usd']:.2f} | {a['max_dd_usd']:.2f} |"
        )
    lines += [
        "",
        "| pair | Brier (model) | Brier (constant) | folds model better | mean IC | folds IC CI > 0 / < 0 | folds passing the in-window skill check | chosen configs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pair, a in sorted(s["skill"].items()):
        lines.append(
            f"| {pair} | {_fmt(a['brier'], '.5f')} | {_fmt(a['brier_const'], '.5f')} | {a['better']}/{a['folds']} | {_fmt(a['mean_ic'], '.4f')} | {a['ic_pos']} / {a['ic_neg']} | {a['trade_ok_folds']}/{a['folds']} | {a['chosen']} |"
        )
    lines.append("")
    for pair, a in sorted(s["skill"].items()):
        worse = a["folds"] - a["better"]
        lines.append(
            f"- {pair}: edge model not better than the constant (Brier) in {worse}/{a['folds']} folds out of "
            f"sample; it failed its own in-window skill check in {a['folds'] - a['trade_ok_folds']}/{a['folds']} "
            "folds (those folds refuse to open positions: gate no_skill)."
        )
    for kind in ("calibration_simulated", "calibration_broker"):
        by_pair, by_bucket = s[kind]
        lines += [
            "",
            f"Fill model calibration ({kind.split('_')[1]}): predicted vs realised",
            "",
            "| pair | attempts | P(fill) predicted | fill rate realised | 5-min markout predicted (bps) | realised (bps) |",
            "|---|---|---|---|---|---|",
        ]
        for pair, a in sorted(by_pair.items()):
            n, nm = a["n"], a["n_mark"]
            lines.append(
                f"| {pair} | {int(n)} | {_fmt(a['pred_fill'] / n if n else float('nan'))} | {_fmt(a['fills'] / n if n else float('nan'))} | {_fmt(a['pred_mark'] / nm if nm else float('nan'), '.2f')} | {_fmt(a['mark'] / nm if nm else float('nan'), '.2f')} |"
            )
        if kind == "calibration_simulated":
            lines += [
                "",
                "| bucket (session, vol level, stress level), all pairs | attempts | P(fill) predicted | realised | markout pred | realised |",
                "|---|---|---|---|---|---|",
            ]
            for b, a in sorted(by_bucket.items(), key=lambda kv: int(kv[0])):
                k = int(b)
                sess, rest = divmod(k, 9)
                n, nm = a["n"], a["n_mark"]
                lines.append(
                    f"| ({sess}, {rest // 3}, {rest % 3}) | {int(n)} | {_fmt(a['pred_fill'] / n)} | {_fmt(a['fills'] / n)} | {_fmt(a['pred_mark'] / nm if nm else float('nan'), '.2f')} | {_fmt(a['mark'] / nm if nm else float('nan'), '.2f')} |"
                )
    g = s["grid"]
    lines += [
        "",
        "Research grid (simulated executions, one unit per pair, OOS test months stitched):",
        "",
        "| configuration | annualised Sharpe | total return (sum) | days traded |",
        "|---|---|---|---|",
    ]
    for name, sr, tr, d in zip(
        g["names"], g["sharpe_annual"], g["total_return"], g["days_traded"], strict=True
    ):
        lines.append(f"| {name} | {_fmt(sr, '.2f')} | {tr:+.5f} | {d} |")
    lines += [
        "",
        "Gate blocks (bar counts, a bar can be blocked by several gates): "
        + ", ".join(f"{k} {v}" for k, v in sorted(s["gate_blocks"].items(), key=lambda kv: -kv[1])),
    ]
    lines += [
        "",
        f"Time: training {s['train_seconds']:.0f} s, replay {s['replay_seconds']:.0f} s, evaluation {s['eval_seconds']:.0f} s (summed over folds); processes' wall {s['process_seconds']} s.",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--trials", type=int, required=True)
    a = ap.parse_args()
    s = summarise(a.run, a.trials)
    (a.run / "econ_summary.json").write_text(json.dumps(s, indent=1, default=float))
    print(markdown(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
