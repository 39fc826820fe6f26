"""Domain metrics read off output batches: values derived by hand from the records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest

from streams.binding.metrics import PrometheusMetrics
from streams.core.batch import Batch
from streams.runner.readings import CONTROL_ACTIONS, SPECS, Reading, readings

ROOT = Path(__file__).resolve().parents[3]


def _b(**cols: object) -> Batch:
    return Batch({k: np.asarray(v) for k, v in cols.items()})


def test_portfolio_gauges_take_the_last_minute_and_each_pairs_last_row() -> None:
    b = _b(
        pair=["GBPUSD", "USDJPY", "GBPUSD", "USDJPY"],
        ts=[60_000, 60_000, 120_000, 120_000],
        position_units=[1000.0, 0.0, 2000.0, -500.0],
        unrealized_pnl_usd=[1.0, 0.0, 2.0, -3.0],
        realized_pnl_usd=[0.0, 0.0, 0.5, 0.0],
        equity_usd=[100_000.0, 100_000.0, 99_000.0, 99_000.0],
        drawdown=[0.0, 0.0, 0.01, 0.01],
        throttle=[1.0, 1.0, 1.0, 1.0],
        gross_usd=[1300.0, 1300.0, 3100.0, 3100.0],
        n_positions=[1, 1, 2, 2],
        kill_active=[False, False, False, True],
        toxicity_bps=[np.nan, np.nan, 2.5, 2.5],
    )
    got = {(r.name, r.labels): r.value for r in readings("portfolio", b)}
    assert got[("hslr_equity_usd", ())] == 99_000.0
    assert got[("hslr_drawdown_ratio", ())] == 0.01
    assert got[("hslr_kill_switch_active", ())] == 1.0
    assert got[("hslr_markout_ratio", ())] == 2.5e-4
    assert got[("hslr_position_units", ("GBPUSD",))] == 2000.0
    assert got[("hslr_position_units", ("USDJPY",))] == -500.0
    assert got[("hslr_unrealized_pnl_usd", ("USDJPY",))] == -3.0


def test_counters_count_records_per_label_values() -> None:
    orders = _b(pair=["GBPUSD", "GBPUSD", "USDJPY"], action=["NEW", "CANCEL", "NEW"])
    assert readings("orders", orders) == [
        Reading("hslr_orders_total", ("GBPUSD", "CANCEL"), 1),
        Reading("hslr_orders_total", ("GBPUSD", "NEW"), 1),
        Reading("hslr_orders_total", ("USDJPY", "NEW"), 1),
    ]
    signals = _b(
        pair=["GBPUSD", "GBPUSD", "GBPUSD"],
        passed=[False, False, True],
        blocked_by=["regime,cost", "cost", ""],
    )
    got = {(r.name, r.labels): r.value for r in readings("signals", signals)}
    assert got[("hslr_gate_blocks_total", ("GBPUSD", "cost"))] == 2
    assert got[("hslr_gate_blocks_total", ("GBPUSD", "regime"))] == 1
    assert got[("hslr_signals_total", ("GBPUSD", "false"))] == 2
    assert got[("hslr_signals_total", ("GBPUSD", "true"))] == 1


def test_governance_state_is_the_severity_index_and_nan_is_not_exported() -> None:
    b = _b(
        ts=[1, 2],
        ic=[0.1, np.nan],
        kl_divergence=[0.2, 0.3],
        entropy_avg=[0.4, 0.5],
        state=["NORMAL", "HALTED"],
        action=["NONE", "HALT"],
        alloc_scale=[1.0, 0.0],
    )
    got = {(r.name, r.labels): r.value for r in readings("governance", b)}
    assert got[("hslr_governance_state", ())] == 3.0
    assert ("hslr_ic_30d", ()) not in got
    assert got[("hslr_kl_divergence", ())] == 0.3
    assert got[("hslr_governance_triggers_total", ("HALT",))] == 1


def test_control_actions_are_the_schemas_enum() -> None:
    schema = json.loads((ROOT / "schemas/control.avsc").read_text())
    enum = next(f["type"]["symbols"] for f in schema["fields"] if f["name"] == "action")
    assert set(CONTROL_ACTIONS) == set(enum) - {"NONE"}


def test_prometheus_exposition_of_a_regime_batch() -> None:
    reg = CollectorRegistry()
    m = PrometheusMetrics(reg)
    m.records(
        "regime",
        "regime",
        _b(
            pair=["GBPUSD", "GBPUSD"],
            prob_stable=[0.7, 0.6],
            prob_directional=[0.2, 0.3],
            prob_event=[0.1, 0.1],
            entropy=[0.8, 0.9],
            regime=["Stable_Flow", "Stable_Flow"],
            tradeable=[True, False],
        ),
    )
    m.model_info("regime", "20200203T000000Z-abcdef12")
    text = generate_latest(reg).decode()
    assert 'hslr_regime_probability{pair="GBPUSD",regime="Stable_Flow"} 0.6' in text
    assert 'hslr_regime_bars_total{pair="GBPUSD",tradeable="true"} 1.0' in text
    assert 'hslr_model_info{kind="regime",version="20200203T000000Z-abcdef12"} 1.0' in text
    assert 'hslr_governance_triggers_total{action="KILL"} 0.0' in text  # known label values start at 0


def test_dashboards_are_built_from_their_declaration_and_query_only_exported_metrics() -> None:
    import runpy

    build = runpy.run_path(str(ROOT / "infra/grafana/build.py"))
    assert build["main"](["--check"]) == 0, "run python infra/grafana/build.py"
    exported = {s.name for s in SPECS} | {
        "hslr_events_in_total",
        "hslr_events_out_total",
        "hslr_dead_letters_total",
        "hslr_errors_total",
        "hslr_processing_seconds_bucket",
        "hslr_input_to_output_seconds_bucket",
        "hslr_last_event_ts_seconds",
        "hslr_consumer_lag",
    }
    for path in (ROOT / "infra/grafana/dashboards").glob("*.json"):
        for name in set(re.findall(r"\bhslr_[a-z0-9_]+", path.read_text())):
            assert name in exported, (path.name, name)
