"""Every query of every provisioned Grafana panel returns data from workers that ran a replay.

A short replay (2 pairs, 3 days, models trained in the test on the 3 weeks before) runs through one
``hslr worker`` over real Kafka; the worker registers itself with the REAL Prometheus; then each
panel's queries, scoped to this run's namespace, must return at least one series. A query over a
metric no worker exports returns nothing and fails here (parsing alone would pass it).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from streams.core.batch import Batch

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ["GBPUSD", "USDJPY"]
SPLIT = int(datetime(2020, 2, 3, tzinfo=UTC).timestamp() * 1000)


def panel_queries() -> list[tuple[str, str, str]]:
    """``(dashboard file, panel title, expr)`` of every target of every dashboard, and of the variables."""
    out = []
    for path in sorted((ROOT / "infra/grafana/dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for p in dash["panels"]:
            out += [(path.name, p["title"], t["expr"]) for t in p.get("targets", [])]
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                out.append((path.name, f"variable {v['name']}", v["query"]["query"]))
    return out


def _scoped(expr: str, namespace: str) -> str:
    """The query Grafana sends with this namespace selected and every stage and pair."""
    expr = expr.replace("$namespace", namespace).replace("$stage", ".*").replace("$pair", ".*")
    if expr.startswith("label_values("):  # a variable: Grafana asks the series API, the query API works too
        inner = expr[len("label_values(") : expr.rindex(",")]
        expr = f"count by (__name__) ({inner})"
    return expr


def _series(prom: str, expr: str) -> list[dict[str, Any]]:
    body = requests.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def _market(tmp: Path) -> tuple[Batch, Path]:
    from streams.config import build_config, dump_config
    from streams.data.calendar import read_calendar_file
    from streams.data.synth import generate_market
    from streams.services.features import compute_features
    from streams.services.runs import default_calendar_path, with_models
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    calendar = default_calendar_path("")
    cal = dict(read_calendar_file(calendar)) if calendar else None
    market = Batch(generate_market(PAIRS, "2020-01-13", "2020-02-06", 5, calendar=cal).bars)
    train, test = market.take(market["ts"] < SPLIT), market.take(market["ts"] >= SPLIT)
    base = build_config({"market": {"pairs": PAIRS}})
    features = compute_features(train, base)
    now = datetime(2020, 2, 3, tzinfo=UTC)
    regime = train_regime_artifact(
        features, base.regime, created_at=now, code_version="test", params={}, root=tmp / "regime"
    )
    # the mid-to-mid model trades on this short window (the execution-priced one finds no skill here)
    ecfg = base.edge.model_copy(update={"execution_priced": False})
    edge = train_edge_artifact(
        features, ecfg, created_at=now, code_version="test", params={}, root=tmp / "edge"
    )
    config = with_models(base, str(regime.path), str(edge.path), calendar)
    path = tmp / "config.json"
    path.write_text(json.dumps(dump_config(config)))
    return test, path


def test_every_panel_query_returns_data(services: dict[str, str], tmp_path: Path) -> None:
    from backtest.engine import RESULT_TOPICS
    from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
    from streams.binding.workers import fresh_namespace, worker
    from streams.core.topics import TOPICS
    from streams.dag import STAGE_FACTORIES
    from streams.infra import bootstrap_servers
    from streams.runner.runtime import Outgoing
    from streams.settings import settings

    prom = settings().prometheus_url
    bars, config = _market(tmp_path)
    ns = fresh_namespace("dash")
    bootstrap = bootstrap_servers()
    ensure_topics(bootstrap, ns)
    log = tmp_path / "worker.log"
    env = {"HSLR_BATCH_WITHIN_S": "0.05", "HSLR_BATCH_MAX": "5000", "HSLR_MESSAGE_RECORDS": "500"}
    with worker(list(STAGE_FACTORIES), ns, config, log, env=env) as proc:
        out = Out(bootstrap)
        out.send([Outgoing(TOPICS["bars"].name(ns), b"GBPUSD", b"not an avro record")])  # one dead letter
        publish(out, "bars", bars, ns, max_records=500)
        publish_marker(out, "bars", "dash", ns)
        out.flush()
        result = collect(bootstrap, RESULT_TOPICS, "dash", ns, timeout=150, alive=lambda: proc.poll() is None)
        assert result["orders"].n > 0, "no orders: the trading panels would be vacuous"
        queries = [(d, t, _scoped(e, ns)) for d, t, e in panel_queries()]
        deadline = time.monotonic() + 60  # rate() over the replay needs two scrapes (5 s apart)
        total = f'sum(hslr_orders_total{{namespace="{ns}"}})'
        while True:  # until a scrape after the replay's last record has landed and every query answers
            orders = _series(prom, total)
            settled = bool(orders) and float(orders[0]["value"][1]) == result["orders"].n
            empty = [(d, t, e) for d, t, e in queries if not _series(prom, e)]
            if (settled and not empty) or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert proc.poll() is None, log.read_text()[-3000:]
        # while the worker lives: a target that goes away marks its series stale at once
        dead = _series(prom, f'hslr_dead_letters_total{{namespace="{ns}", stage="market", reason="DECODE"}}')
        info = _series(prom, f'hslr_model_info{{namespace="{ns}"}}')
    assert not empty, "panels without data:\n" + "\n".join(f"{d} / {t}: {e}" for d, t, e in empty)
    assert len(queries) >= 60
    assert [float(s["value"][1]) for s in dead] == [1.0]
    assert settled, f"hslr_orders_total {orders} never reached the {result['orders'].n} orders of the replay"
    assert {s["metric"]["kind"] for s in info} == {"regime", "edge"}
