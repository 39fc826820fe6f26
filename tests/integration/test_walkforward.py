"""A tiny walk-forward (2 pairs, 2 one-week folds): Kafka + Faust and in-process give identical
per-fold results; a rerun with the same run id skips finished folds; folds run in parallel processes give
the sequential results; folds land in PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backtest.folds import label_horizon_min, make_schedule
from backtest.walkforward import WalkForward, postgres_sink
from streams.config import HSLRConfig
from streams.core.batch import Batch
from streams.data.synth import generate_market

pytestmark = pytest.mark.integration
START, END = "2020-01-06", "2020-02-11"
CREATED = datetime(2020, 2, 10, tzinfo=UTC)  # same artifact versions in every run


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def market() -> tuple[Batch, HSLRConfig, list[Any]]:
    # the engines must agree on fills: the mid-to-mid edge model trades this small synthetic market, the
    # execution-priced default finds no skill in three weeks and would make the comparison vacuous
    config = HSLRConfig.model_validate({"edge": {"execution_priced": False}})
    bars = Batch(generate_market(["EURUSD", "GBPUSD"], START, END, 11).bars)
    folds = make_schedule(_ms(START), _ms(END), "3W", "1W", horizon_min=label_horizon_min(config))
    assert len(folds) == 2
    return bars, config, folds


def _scored(result: dict[str, Any]) -> dict[str, Any]:
    # everything but timings and the run-specific artifact paths
    drop = {"replay_seconds", "train_seconds"}
    models = {k: v for k, v in result["models"].items() if not k.endswith("_path")}
    return {**{k: v for k, v in result.items() if k not in drop}, "models": models}


def test_kafka_and_inprocess_walkforwards_agree(
    services: dict[str, str], tmp_path: Path, market: tuple[Batch, HSLRConfig, list[Any]]
) -> None:
    bars, config, folds = market
    runs = {}
    for engine in ("inprocess", "kafka"):
        run_id = f"wf-test-{engine}-{tmp_path.name}"[:60]
        wf = WalkForward(run_id, bars, config, folds, tmp_path / engine, engine=engine, db=postgres_sink)
        runs[engine] = wf.run(created_at=CREATED)
    a, b = runs["inprocess"], runs["kafka"]
    assert sum(f["fills"] for f in a["folds"]) > 0, "no fills: the comparison would be vacuous"
    for fa, fb in zip(a["folds"], b["folds"], strict=True):
        assert _scored(fa) == _scored(fb)
    assert a["stitched"] == b["stitched"]
    daily = [
        json.loads((tmp_path / "kafka" / "folds" / str(k) / "result.json").read_text())["daily"]
        for k in (0, 1)
    ]
    assert all(5 <= len(d["ret"]) <= 7 for d in daily)  # one return per UTC day with bars in the test week

    from streams.storage.db import connect

    with connect() as conn:
        rows = conn.execute(
            "SELECT fold, model_id, metrics->>'sharpe' FROM walkforward_folds WHERE run_id = %s"
            " ORDER BY fold",
            (f"wf-test-kafka-{tmp_path.name}"[:60],),
        ).fetchall()
    assert [r[0] for r in rows] == [0, 1]
    assert all(r[1].startswith("regime:") for r in rows)


@pytest.fixture(scope="module")
def sequential(
    tmp_path_factory: pytest.TempPathFactory, market: tuple[Batch, HSLRConfig, list[Any]]
) -> tuple[Path, dict[str, Any]]:
    """One sequential in-process walk-forward (its run directory and summary), shared by the tests below."""
    bars, config, folds = market
    root = tmp_path_factory.mktemp("wf-sequential")
    return root, WalkForward("seq", bars, config, folds, root, log=lambda _m: None).run(created_at=CREATED)


def test_rerun_skips_finished_folds(
    tmp_path: Path, market: tuple[Batch, HSLRConfig, list[Any]], sequential: tuple[Path, dict[str, Any]]
) -> None:
    bars, config, folds = market
    run_dir = tmp_path / "seq"
    shutil.copytree(sequential[0], run_dir)
    (run_dir / "folds" / "1" / "result.json").unlink()  # as if killed while fold 1 ran
    lines: list[str] = []
    second = WalkForward("seq", bars, config, folds, run_dir, log=lines.append).run(created_at=CREATED)
    assert any("fold 1/2 already finished: skipped" in m for m in lines)
    assert any("fold 2/2: training" in m for m in lines)
    assert not any("fold 1/2: training" in m for m in lines)
    assert [_scored(f) for f in second["folds"]] == [_scored(f) for f in sequential[1]["folds"]]
    with pytest.raises(ValueError, match="another spec"):
        WalkForward("seq", bars, config, folds[:1], run_dir).run(created_at=CREATED)


def test_parallel_folds_equal_sequential(
    tmp_path: Path, market: tuple[Batch, HSLRConfig, list[Any]], sequential: tuple[Path, dict[str, Any]]
) -> None:
    bars, config, folds = market
    (seq_dir, seq), par_dir = sequential, tmp_path / "par"
    par = WalkForward("seq", bars, config, folds, par_dir, log=lambda _m: None, workers=2).run(
        created_at=CREATED
    )
    assert sum(f["fills"] for f in seq["folds"]) > 0, "no fills: the comparison would be vacuous"
    assert [_scored(f) for f in par["folds"]] == [_scored(f) for f in seq["folds"]]
    assert par["stitched"] == seq["stitched"]
    for k in (0, 1):  # daily returns, the blotter and the models' bytes, fold by fold
        a, b = seq_dir / "folds" / str(k), par_dir / "folds" / str(k)
        assert (
            json.loads((a / "result.json").read_text())["daily"]
            == json.loads((b / "result.json").read_text())["daily"]
        )
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "result.json")
        assert files
        assert files == sorted(
            p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "result.json"
        )
        for rel in files:
            if rel.suffix != ".json":  # JSON metadata holds the run-specific paths and times
                assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    with pytest.raises(ValueError, match="inprocess engine"):
        WalkForward("k", bars, config, folds, tmp_path / "k", engine="kafka", workers=2).run(
            created_at=CREATED
        )
