"""The typed pipeline config: fields are the stage configs, TOML round trip, a stable digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import SECTIONS, ConfigError, HSLRConfig, build_config, dump_config, load_config
from streams.stages.edge import EdgeConfig
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.stage import TraderConfig


def test_sections_are_typed_fields_in_dag_order() -> None:
    config = HSLRConfig()
    assert SECTIONS == ("market", "features", "news", "regime", "edge", "trader", "governance")
    assert isinstance(config.trader, TraderConfig)
    assert isinstance(config.trader.risk, RiskConfig)
    assert isinstance(config.edge, EdgeConfig)


def test_digest_of_the_defaults_is_unchanged_by_the_typed_config() -> None:
    # The digest goes into every backtest run id. Before the renovation (commit 7db5a7f) the untyped
    # ``HSLRConfig(sections={})`` gave 40e5dd4d93b5. New documented defaults change it: issue 11's (market
    # horizon and spike check, risk price collar and order rate), the trader's mechanics
    # (execution.toxicity_legs, risk.exit_on_reversion, risk.resize_band), the feed-gap pause
    # (execution.stale_pause_min) and the execution-priced edge of issue 10 (edge.execution_priced,
    # require_skill, exit_reposts, cv_blocks, cv_candidates; the broker's touch fields replaced by
    # execution.fill_penetration_pips / entry_ttl_min), issue 12's execution.fill_source (paper | broker),
    # and issue 14's regime.train.max_samples (default None: the same forest as before).
    assert HSLRConfig().digest() == "601ed40572f1"


def test_dump_holds_only_the_sections_set_and_round_trips(tmp_path: Path) -> None:
    config = build_config({"edge": {"safety_factor": 2.0}, "market": {"pairs": ["GBPUSD"]}})
    dumped = dump_config(config)
    assert sorted(dumped) == ["edge", "market"]
    assert dumped["edge"] == EdgeConfig(safety_factor=2.0).model_dump(mode="json")
    assert build_config(dumped) == config
    assert config.edge.safety_factor == 2.0
    assert config.regime == HSLRConfig().regime
    path = tmp_path / "c.toml"
    path.write_text('[edge]\nsafety_factor = 2.0\n\n[market]\npairs = ["GBPUSD"]\n')
    assert load_config(path) == config
    assert load_config(path).digest() != HSLRConfig().digest()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nope": {}}, "unknown config section"),
        ({"edge": {"no_such_field": 1}}, "[edge]"),
    ],
)
def test_bad_config_is_a_clear_error(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_config(data)
