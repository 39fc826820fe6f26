"""Search grid expansion, config application and model reuse keys."""

from __future__ import annotations

import pytest

from backtest.search import DEFAULT_GRID, TRAINING_KEYS, apply, expand
from streams.config import ConfigError, HSLRConfig


def test_default_grid_size_and_order() -> None:
    combos = expand(DEFAULT_GRID)
    assert len(combos) == 2 * 2 * 2 * 3 * 3
    assert combos == expand(dict(reversed(list(DEFAULT_GRID.items()))))  # order independent of dict order
    assert len({tuple(sorted(c.items())) for c in combos}) == len(combos)


def test_apply_sets_nested_fields_and_validates() -> None:
    cfg = apply(
        HSLRConfig(), {"regime.p_threshold": 0.7, "trader.risk.risk_aversion": 3.0, "edge.safety_factor": 2.0}
    )
    assert cfg.regime.p_threshold == 0.7
    assert cfg.trader.risk.risk_aversion == 3.0
    assert cfg.edge.safety_factor == 2.0
    assert cfg.edge.horizon_min == 30
    with pytest.raises(ConfigError):
        apply(HSLRConfig(), {"regime.p_threshold": 1.5})
    with pytest.raises(ConfigError):
        apply(HSLRConfig(), {"edge.no_such_field": 1})


def test_models_are_shared_where_training_is_unaffected() -> None:
    combos = expand(DEFAULT_GRID)
    edge_sets = {tuple(sorted((k, v) for k, v in c.items() if k in TRAINING_KEYS)) for c in combos}
    assert len(edge_sets) == 2  # only n_neighbors changes the edge model: 2 fits per fold, not 72
    assert "regime.p_threshold" not in TRAINING_KEYS
    assert "edge.safety_factor" not in TRAINING_KEYS


def test_training_keys_of_the_regime_model_are_refused() -> None:
    with pytest.raises(ValueError, match="training"):
        expand({"regime.train.n_estimators": [10, 20]})
