"""A small run built in-process (models trained here) → stress, latency → HTML tearsheet → headless Chromium.

Needs no Kafka or database; it is an integration test because it drives a real browser. The browser
part skips with a clear reason where Chromium is not installed (``infra/browser.sh`` installs it).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtest.artifacts import save_run_artifacts
from backtest.engine import run_inprocess_engine, summarize
from backtest.latency import run_latency
from backtest.report import SECTIONS, write_report
from backtest.stress import SpreadShock, run_stress
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.services.features import compute_features
from streams.training.artifacts import train_edge_artifact, train_regime_artifact

pytestmark = pytest.mark.integration
PAIRS = ["EURUSD", "GBPUSD", "USDJPY"]
SPLIT = int(datetime(2020, 1, 27, tzinfo=UTC).timestamp() * 1000)
SHOCK = SpreadShock(episodes_per_week=3.0)


def _browser() -> str | None:
    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report")
    market = Batch(generate_market(PAIRS, "2020-01-06", "2020-02-01", 3).bars)
    train, test = market.take(market["ts"] < SPLIT), market.take(market["ts"] >= SPLIT)
    # the tearsheet needs trades: the mid-to-mid edge model trades this small synthetic market, the
    # execution-priced default finds no skill in three weeks and trades nothing (a verdict, not a page)
    base = HSLRConfig.model_validate({"edge": {"execution_priced": False}})
    features = compute_features(train, base)
    now = datetime(2020, 1, 27, tzinfo=UTC)
    regime = train_regime_artifact(
        features,
        base.regime,
        created_at=now,
        code_version="test",
        params={},
        root=root / "models" / "regime",
    )
    edge = train_edge_artifact(
        features,
        base.edge,
        created_at=now,
        code_version="test",
        params={},
        root=root / "models" / "edge",
    )
    from streams.services.runs import with_models

    config = with_models(base, str(regime.path), str(edge.path), "")
    out = run_inprocess_engine(test, config)
    run_dir = root / "runs" / "bt-test"
    summary = {
        "run_id": "bt-test",
        **summarize(test, out, config.trader.portfolio.initial_equity_usd),
    }
    run_dir.mkdir(parents=True)
    calibration = [{"session": "London", "predicted_fill_rate": 0.6, "realised_fill_rate": 0.55}]
    (run_dir / "summary.json").write_text(json.dumps({**summary, "fill_calibration": calibration}))
    (run_dir / "config.json").write_text(json.dumps(dump_config(config)))
    save_run_artifacts(
        run_dir, out, {"source": "synth", "pairs": PAIRS, "from": "2020-01-27", "to": "2020-02-01", "seed": 3}
    )
    stress = run_stress(test, config, SHOCK, n=4, seed=11, workers=2)
    (run_dir / "stress.json").write_text(json.dumps(stress))
    latency = run_latency(test, config, [0, 60_000, 240_000], workers=1)
    (run_dir / "latency.json").write_text(json.dumps(latency))
    # the walk-forward and shuffle files are written by other commands: constructed stand-ins here
    for k, ic in enumerate((0.05, -0.01)):
        (run_dir / "folds" / str(k)).mkdir(parents=True)
        (run_dir / "folds" / str(k) / "result.json").write_text(
            json.dumps({"k": k, "ic": ic, "sharpe": 0.4 - k})
        )
    # yardstick and fill calibration come from other commands: constructed stand-ins, rendered as given
    (run_dir / "yardstick.json").write_text(
        json.dumps({"description": "z 2.5 over 120 bars", "return": -0.01, "sharpe": -1.0, "trades": 40})
    )
    null = np.random.default_rng(0).normal(0.0, 1.0, 200).tolist()
    (run_dir / "shuffle.json").write_text(
        json.dumps({"metric": "sharpe", "real": 2.5, "shuffled": null, "p_value": 0.01})
    )
    return {
        "dir": run_dir,
        "wf": _walkforward_dir(root / "runs" / "wf-test", test, out, config),
        "test": test,
        "config": config,
        "stress": stress,
        "summary": summary,
        "latency": latency,
        "root": root,
    }


def _walkforward_dir(run_dir: Path, test: Batch, out: dict[str, Batch], config: HSLRConfig) -> Path:
    """A walk-forward run directory whose two folds score the two halves of the replayed window (real
    fold metrics of a real replay; the models are the same in both folds, which a walk-forward would
    retrain)."""
    from backtest.fold_metrics import fold_metrics, stitch
    from backtest.folds import Fold

    days = np.unique(test["ts"] // 86_400_000)
    edges = [
        int(days[0]) * 86_400_000,
        int(days[len(days) // 2]) * 86_400_000,
        int(days[-1] + 1) * 86_400_000,
    ]
    results = []
    for k in range(2):
        fold = Fold(k, edges[0] - 20 * 86_400_000, edges[0] - 3_600_000, edges[k], edges[k + 1])
        m = fold_metrics(out, edges[k], edges[k + 1], initial_equity=1e6, horizon_min=30, commission_bps=0.2)
        results.append({"fold": fold.as_dict(), **m})
        (run_dir / "folds" / str(k)).mkdir(parents=True)
        (run_dir / "folds" / str(k) / "result.json").write_text(json.dumps(results[-1], default=float))
    summary = {"run_id": "wf-test", "engine": "inprocess", "stitched": stitch(results), "n_trials": 3}
    (run_dir / "summary.json").write_text(json.dumps(summary, default=float))
    (run_dir / "config.json").write_text(json.dumps(dump_config(config)))
    return run_dir


def test_run_trades_and_stress_is_seeded_and_worker_independent(run: dict[str, Any]) -> None:
    assert run["summary"]["orders_new"] > 0, "no trades: stress and latency results would be vacuous"
    s = run["stress"]
    again = run_stress(run["test"], run["config"], SHOCK, n=4, seed=11, workers=1)
    assert again["scenarios"] == s["scenarios"]
    assert again["equity"] == s["equity"]
    assert s["baseline"]["pnl_usd"] == pytest.approx(run["summary"]["pnl_usd"])
    assert all(m > 1.0 for m in s["scenarios"]["mean_multiplier"])  # 3 crises a week: spreads widened
    dd = np.array(s["scenarios"]["max_drawdown"])
    assert s["breach"] == {"0.03": float((dd >= 0.03).mean()), "0.05": float((dd >= 0.05).mean())}
    curve = {p["latency_ms"]: p for p in run["latency"]["curve"]}
    assert curve[240_000]["orders_filled"] == 0 < curve[0]["orders_filled"]


def test_report_html_has_every_section(run: dict[str, Any]) -> None:
    html = write_report(run["dir"]).read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html, sid
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") >= 10
    assert 'class="missing"' not in html


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def _chromium(page: Path, shot: Path, tmp_path: Path, height: int = 3000) -> str:
    """Screenshot ``page`` into ``shot`` and return its DOM, in headless Chromium (skip when absent)."""
    browser = _browser()
    if browser is None:
        pytest.skip("chromium is not installed (infra/browser.sh installs it: apt-get install chromium)")
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size=1400,{height}",
    ]
    url = page.resolve().as_uri()
    subprocess.run([*flags, f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)  # noqa: S603 - fixed argv, no user input
    dom = subprocess.run(  # noqa: S603 - fixed argv, no user input
        [*flags, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    return dom.stdout


def test_report_renders_in_headless_chromium(run: dict[str, Any], tmp_path: Path) -> None:
    page = write_report(run["dir"], tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    dom = _chromium(page, shot, tmp_path)
    width, height, raw = _png_pixels(shot)
    assert (width, height) == (1400, 3000)
    assert shot.stat().st_size > 50_000
    assert len(set(raw)) > 50
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in dom, sid
    # lines (equity, IC, fan, latency) and columns (regime shares, waterfall, histograms)
    assert dom.count("<polyline") > 5
    assert dom.count("<rect") > 50
    assert "Monte Carlo spread stress" in dom
    shutil.copy(shot, run["root"] / "shot.png")  # kept beside the run for a look by hand


def test_walkforward_tearsheet_leads_with_stitched_figures(run: dict[str, Any], tmp_path: Path) -> None:
    wf = run["wf"]
    folds = [json.loads((wf / "folds" / str(k) / "result.json").read_text()) for k in range(2)]
    rets = np.array([r for f in folds for r in f["daily"]["ret"]])
    stitched_return = float(np.prod(1.0 + rets) - 1.0)
    page = write_report(wf, tmp_path / "wf.html")
    html = page.read_text()
    assert "<script" not in html
    for label in (
        "Return (stitched OOS)",
        "Deflated Sharpe",
        "3 configuration(s) counted",
        "PBO",
        "Time in market",
    ):
        assert label in html, label
    assert f"{stitched_return:+.2%}" in html
    for f in folds:  # the fold table carries the test dates
        assert f["fold"]["test_from_iso"][:10] in html
    # waterfall: bars scored = blocks + passed, summed over the folds
    w = [f["gate_waterfall"] for f in folds]
    bars = sum(x["bars"] for x in w)
    assert bars == sum(sum(x["blocked"].values()) + x["passed"] for x in w)
    assert f"{bars:,} (100.0%)" in html
    trips = sum(v["round_trips"] for f in folds for v in f["per_pair"].values())
    assert trips == sum(x["round_trips"] for x in w)
    shot = tmp_path / "wf.png"
    dom = _chromium(page, shot, tmp_path, height=2600)
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in dom, sid
    assert "Regime shares per day" in dom
    assert "Stitched out-of-sample equity" in dom
    _, _, raw = _png_pixels(shot)
    assert len(set(raw)) > 50
    shutil.copy(shot, run["root"] / "wf-shot.png")
