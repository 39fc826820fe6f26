"""Write the provisioned Grafana dashboards (infra/grafana/dashboards/*.json) from one declaration.

    python infra/grafana/build.py           # rewrite the JSON files
    python infra/grafana/build.py --check   # exit 1 when a file differs from this declaration

Every query is scoped by the ``namespace`` target label (``hslr`` live, one per backtest run), so a
dashboard shows one deployment. The datasource is referenced by uid (``hslr-prometheus``, see
provisioning/datasources/prometheus.yml) through the ``datasource`` variable, so the JSON also imports
into a Grafana whose Prometheus has another uid. ``tests/integration/test_dashboard_data.py`` runs a
replay and asserts every query below returns at least one series from the workers' real metrics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
NS = 'namespace=~"$namespace"'
ST = f'{NS}, stage=~"$stage"'
PR = f'{NS}, pair=~"$pair"'
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39

# (title, unit, [(expr, legend)], kind, extra field config)
Panel = tuple[str, str, list[tuple[str, str]], str, dict[str, Any]]


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return expr, legend


def ts(title: str, unit: str, *targets: tuple[str, str], **extra: Any) -> Panel:
    return title, unit, list(targets), "timeseries", extra


def stat(title: str, unit: str, *targets: tuple[str, str], **extra: Any) -> Panel:
    return title, unit, list(targets), "stat", extra


def _hq(quantile: str, metric: str) -> str:
    return f"histogram_quantile({quantile}, sum by (stage, le) (rate({metric}_bucket{{{ST}}}[5m])))"


DRAWDOWN_LINES = {
    "thresholds": {
        "mode": "absolute",
        "steps": [
            {"color": "green", "value": None},
            {"color": "orange", "value": 0.03},
            {"color": "red", "value": 0.05},
        ],
    },
    "custom": {"thresholdsStyle": {"mode": "line+area"}},
}
GOV_STATES = {
    "mappings": [
        {
            "type": "value",
            "options": {
                str(i): {"text": s, "index": i}
                for i, s in enumerate(("normal", "reduced", "suspended", "halted", "decommissioned"))
            },
        }
    ],
    "thresholds": {
        "mode": "absolute",
        "steps": [
            {"color": "green", "value": None},
            {"color": "orange", "value": 1},
            {"color": "red", "value": 2},
        ],
    },
}
KILL = {
    "mappings": [
        {"type": "value", "options": {"0": {"text": "off", "index": 0}, "1": {"text": "ACTIVE", "index": 1}}}
    ],
    "thresholds": {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
    },
}

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "hslr_pipeline": (
        "HSLR pipeline health",
        [
            ts("Workers up", "none", q(f'up{{job="hslr-workers", {NS}}}', "{{worker}}")),
            ts(
                "Throughput in (records/s)",
                "reqps",
                q(f"sum by (stage) (rate(hslr_events_in_total{{{ST}}}[5m]))", "{{stage}}"),
            ),
            ts(
                "Throughput out (records/s)",
                "reqps",
                q(
                    f"sum by (stage, topic) (rate(hslr_events_out_total{{{ST}}}[5m]))",
                    "{{stage}} → {{topic}}",
                ),
            ),
            ts(
                "Processing time per batch p50 / p99",
                "s",
                q(_hq("0.5", "hslr_processing_seconds"), "p50 {{stage}}"),
                q(_hq("0.99", "hslr_processing_seconds"), "p99 {{stage}}"),
            ),
            ts(
                "Input to output (live: bar publish → decision) p50 / p99, target 20 ms",
                "s",
                q(_hq("0.5", "hslr_input_to_output_seconds"), "p50 {{stage}}"),
                q(_hq("0.99", "hslr_input_to_output_seconds"), "p99 {{stage}}"),
            ),
            ts(
                "Consumer lag (records)",
                "short",
                q(f"sum by (stage, topic) (hslr_consumer_lag{{{ST}}})", "{{stage}} {{topic}}"),
            ),
            ts(
                "Dead letters (per 5 min)",
                "short",
                q(
                    f"sum by (stage, reason) (increase(hslr_dead_letters_total{{{ST}}}[5m]))",
                    "{{stage}} {{reason}}",
                ),
            ),
            ts(
                "Dead letters since start",
                "short",
                q(f"sum by (stage, reason) (hslr_dead_letters_total{{{ST}}})", "{{stage}} {{reason}}"),
            ),
            ts(
                "Stage errors (per 5 min)",
                "short",
                q(f"sum by (stage) (increase(hslr_errors_total{{{ST}}}[5m]))", "{{stage}}"),
            ),
            ts(
                "Time since the last event",
                "s",
                q(f"time() - hslr_last_event_ts_seconds{{{ST}}}", "{{stage}}"),
            ),
        ],
    ),
    "hslr_trading": (
        "HSLR trading",
        [
            stat("Equity", "currencyUSD", q(f"max(hslr_equity_usd{{{NS}}})")),
            stat("Kill switch", "none", q(f"max(hslr_kill_switch_active{{{NS}}})"), **KILL),
            stat("Open positions", "none", q(f"max(hslr_open_positions{{{NS}}})")),
            stat(
                "Fill rate since start",
                "percentunit",
                q(
                    f'sum(hslr_execution_reports_total{{{NS}, status="FILLED"}}) / sum(hslr_orders_total{{{NS}, action="NEW"}})'
                ),
            ),
            ts("Equity (USD)", "currencyUSD", q(f"hslr_equity_usd{{{NS}}}", "equity")),
            ts(
                "Drawdown (size throttled at 3 % and 5 %)",
                "percentunit",
                q(f"hslr_drawdown_ratio{{{NS}}}", "drawdown"),
                **DRAWDOWN_LINES,
            ),
            ts("Throttle (size multiplier)", "percentunit", q(f"hslr_throttle_ratio{{{NS}}}", "throttle")),
            ts("Gross exposure (USD)", "currencyUSD", q(f"hslr_gross_exposure_usd{{{NS}}}", "gross")),
            ts("Position per pair (units)", "short", q(f"hslr_position_units{{{PR}}}", "{{pair}}")),
            ts(
                "PnL per pair (realised + unrealised, USD)",
                "currencyUSD",
                q(
                    f"sum by (pair) (hslr_realized_pnl_usd{{{PR}}}) + sum by (pair) (hslr_unrealized_pnl_usd{{{PR}}})",
                    "{{pair}}",
                ),
            ),
            ts(
                "Orders (per 5 min)",
                "short",
                q(f"sum by (pair, action) (increase(hslr_orders_total{{{PR}}}[5m]))", "{{pair}} {{action}}"),
            ),
            ts(
                "Execution reports (per 5 min)",
                "short",
                q(
                    f"sum by (pair, status) (increase(hslr_execution_reports_total{{{PR}}}[5m]))",
                    "{{pair}} {{status}}",
                ),
            ),
            ts(
                "Orders and fills since start",
                "short",
                q(f"sum by (action) (hslr_orders_total{{{PR}}})", "orders {{action}}"),
                q(f"sum by (status) (hslr_execution_reports_total{{{PR}}})", "reports {{status}}"),
            ),
            ts(
                "Gate blocks since start",
                "short",
                q(f"sum by (gate) (hslr_gate_blocks_total{{{PR}}})", "{{gate}}"),
            ),
            ts(
                "Gate blocks (per 5 min)",
                "short",
                q(f"sum by (gate) (increase(hslr_gate_blocks_total{{{PR}}}[5m]))", "{{gate}}"),
            ),
            ts(
                "Fill mark-out (toxicity horizon, bps)",
                "none",
                q(f"hslr_markout_ratio{{{NS}}} * 1e4", "mark-out bps"),
            ),
        ],
    ),
    "hslr_regime": (
        "HSLR regime",
        [
            ts(
                "Regime probabilities",
                "percentunit",
                q(f"hslr_regime_probability{{{PR}}}", "{{pair}} {{regime}}"),
            ),
            ts("Regime entropy (nats)", "none", q(f"hslr_regime_entropy_nats{{{PR}}}", "{{pair}}")),
            ts(
                "Tradeable share since start",
                "percentunit",
                q(
                    f'sum by (pair) (hslr_regime_bars_total{{{PR}, tradeable="true"}})'
                    f" / sum by (pair) (hslr_regime_bars_total{{{PR}}})",
                    "{{pair}}",
                ),
            ),
            ts(
                "News overrides since start (bars)",
                "short",
                q(f"sum by (pair) (hslr_news_overrides_total{{{PR}}})", "{{pair}}"),
            ),
            ts(
                "News overrides (per 5 min)",
                "short",
                q(f"sum by (pair) (increase(hslr_news_overrides_total{{{PR}}}[5m]))", "{{pair}}"),
            ),
            ts(
                "Signals passed / blocked since start",
                "short",
                q(f"sum by (pair, passed) (hslr_signals_total{{{PR}}})", "{{pair}} passed={{passed}}"),
            ),
        ],
    ),
    "hslr_governance": (
        "HSLR governance",
        [
            stat("Governance state", "none", q(f"max(hslr_governance_state{{{NS}}})"), **GOV_STATES),
            stat("Kill switch", "none", q(f"max(hslr_kill_switch_active{{{NS}}})"), **KILL),
            stat("Firing alerts", "none", q('count(ALERTS{alertstate="firing"}) or vector(0)')),
            ts(
                "Rolling 30-day IC (reduce < 0.02, decommission < 0)", "none", q(f"hslr_ic_30d{{{NS}}}", "IC")
            ),
            ts("KL divergence from training", "none", q(f"hslr_kl_divergence{{{NS}}}", "KL")),
            ts("Average regime entropy (nats)", "none", q(f"hslr_regime_entropy_avg{{{NS}}}", "entropy")),
            ts("Governance state", "none", q(f"hslr_governance_state{{{NS}}}", "state"), **GOV_STATES),
            ts("Allocation scale", "percentunit", q(f"hslr_allocation_scale_ratio{{{NS}}}", "scale")),
            ts(
                "Triggers since start",
                "short",
                q(f"sum by (action) (hslr_governance_triggers_total{{{NS}}})", "{{action}}"),
            ),
            ts(
                "Control commands since start",
                "short",
                q(f"sum by (action, issuer) (hslr_control_commands_total{{{NS}}})", "{{issuer}} {{action}}"),
            ),
            ts("Kill switch", "none", q(f"max(hslr_kill_switch_active{{{NS}}})", "kill switch"), **KILL),
            {
                "table": True,
                "title": "Model version in use",
                "expr": f"max by (kind, version) (hslr_model_info{{{NS}}})",
            },
        ],
    ),
    "hslr_overview": (
        "HSLR overview",
        [
            stat("Equity", "currencyUSD", q(f"max(hslr_equity_usd{{{NS}}})")),
            stat("Drawdown", "percentunit", q(f"max(hslr_drawdown_ratio{{{NS}}})"), **DRAWDOWN_LINES),
            stat("Kill switch", "none", q(f"max(hslr_kill_switch_active{{{NS}}})"), **KILL),
            stat("Governance state", "none", q(f"max(hslr_governance_state{{{NS}}})"), **GOV_STATES),
            ts(
                "Throughput in (records/s)",
                "reqps",
                q(f"sum by (stage) (rate(hslr_events_in_total{{{ST}}}[5m]))", "{{stage}}"),
            ),
            ts(
                "Time since the last event",
                "s",
                q(f"time() - hslr_last_event_ts_seconds{{{ST}}}", "{{stage}}"),
            ),
        ],
    ),
}


def _variables() -> list[dict[str, Any]]:
    def query_var(name: str, label: str, query: str, *, multi: bool, default: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DS,
            "query": {"query": query, "refId": name},
            "definition": query,
            "refresh": 2,
            "includeAll": multi,
            "multi": multi,
            **({"allValue": ".*"} if multi else {}),
            "current": {"text": default, "value": default},
            "hide": 0,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"text": "Prometheus", "value": "hslr-prometheus"},
            "hide": 0,
        },
        query_var(
            "namespace",
            "Namespace",
            "label_values(hslr_events_in_total, namespace)",
            multi=False,
            default="hslr",
        ),
        query_var(
            "stage",
            "Stage",
            f"label_values(hslr_events_in_total{{{NS}}}, stage)",
            multi=True,
            default="$__all",
        ),
        query_var(
            "pair",
            "Pair",
            f"label_values(hslr_regime_probability{{{NS}}}, pair)",
            multi=True,
            default="$__all",
        ),
    ]


def _panel(pid: int, spec: Any, x: int, y: int) -> dict[str, Any]:
    if isinstance(spec, dict):  # a table of label values (instant query)
        return {
            "type": "table",
            "title": spec["title"],
            "id": pid,
            "datasource": DS,
            "gridPos": {"h": 6, "w": 12, "x": x, "y": y},
            "targets": [
                {"datasource": DS, "refId": "A", "expr": spec["expr"], "instant": True, "format": "table"}
            ],
            "options": {"showHeader": True},
            "fieldConfig": {"defaults": {}, "overrides": []},
        }
    title, unit, targets, kind, extra = spec
    custom = extra.get("custom", {})
    defaults = {
        "unit": unit,
        **{k: v for k, v in extra.items() if k != "custom"},
        **({"custom": custom} if custom else {}),
    }
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "id": pid,
        "datasource": DS,
        "gridPos": {"h": 4 if kind == "stat" else 8, "w": 6 if kind == "stat" else 12, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {
                "datasource": DS,
                "refId": chr(65 + i),
                "expr": e,
                "legendFormat": leg,
                **({"instant": True} if kind == "stat" else {}),
            }
            for i, (e, leg) in enumerate(targets)
        ],
    }
    if kind == "stat":
        panel["options"] = {
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"]},
        }
    else:
        panel["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi"},
        }
    return panel


def _layout(specs: list[Any]) -> list[dict[str, Any]]:
    panels, x, y, row_h = [], 0, 0, 0
    for i, spec in enumerate(specs, start=1):
        p = _panel(i, spec, x, y)
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
            p["gridPos"].update(x=x, y=y)
        panels.append(p)
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(uid: str) -> dict[str, Any]:
    title, specs = DASHBOARDS[uid]
    return {
        "uid": uid.replace("_", "-"),
        "title": title,
        "tags": ["hslr"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "10s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "links": [{"title": "HSLR", "type": "dashboards", "tags": ["hslr"], "asDropdown": True}],
        "panels": _layout(specs),
    }


def render(uid: str) -> str:
    return json.dumps(dashboard(uid), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for uid in DASHBOARDS:
        path = OUT / f"{uid}.json"
        text = render(uid)
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run python infra/grafana/build.py): {stale}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
