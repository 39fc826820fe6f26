"""`hslr train` writes into the data directory (never ./models/) and registers its model; a dead Kafka
worker is reported with its log path and last lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.batch import Batch
from streams.settings import settings

pytestmark = pytest.mark.integration


def test_train_edge_uses_the_data_dir_and_registers(
    services: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.cli.main import main
    from streams.storage.db import connect

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HSLR_DATA_DIR", str(tmp_path / "data"))
    settings.cache_clear()
    try:
        argv = [
            "train",
            "edge",
            "--source",
            "synth",
            "--pairs",
            "GBPUSD",
            "--from",
            "2019-03-04",
            "--to",
            "2019-03-23",
        ]
        assert main(argv) == 0
    finally:
        settings.cache_clear()
    assert not (tmp_path / "models").exists()  # regression: ./models/ shadowed the models package
    root = tmp_path / "data" / "models" / "artifacts" / "edge"
    metas = [m for m in root.glob("*/meta.json") if m.parent.name != "latest"]
    assert len(metas) == 1
    version = metas[0].parent.name
    with connect() as conn:
        row = conn.execute(
            "SELECT kind, path FROM model_registry WHERE model_id = %s", (f"edge:{version}",)
        ).fetchone()
    assert row == ("edge", str(metas[0].parent))  # regression: train edge wrote no registry row


def test_a_dead_worker_is_named_with_its_log(services: dict[str, str], tmp_path: Path) -> None:
    from backtest.engine import run_kafka_engine
    from streams.config import build_config
    from tests.kit.bars import bars

    config = build_config({"regime": {"model_path": str(tmp_path / "no-model")}})
    run = tmp_path / "run"
    with pytest.raises(RuntimeError) as info:
        run_kafka_engine(Batch(bars(30)), config, workdir=run, timeout=120)
    msg = str(info.value)
    # both workers fail on the missing model, worker-1 sometimes first: each is named with its own log
    # and last lines (regression, CI stop 16: the report named only the first to exit)
    assert f"log {run / 'worker-0.log'}" in msg
    assert "no regime model at" in msg  # worker-0's own last lines
