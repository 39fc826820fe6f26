"""One typed configuration for the whole pipeline.

Each stage module defines its own frozen config model (documented defaults, unknown fields forbidden);
:class:`HSLRConfig` gathers them. ``load_config(path)`` reads a TOML file whose tables are the stage ids
(``[market]``, ``[features]`` …); anything missing takes the documented default, anything unknown is an
error. A stable hash of the effective config goes into every backtest run id.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.core.config import ConfigError, StageConfig
from streams.stages.edge import EdgeConfig
from streams.stages.features import FeaturesConfig
from streams.stages.governance import GovernanceConfig
from streams.stages.market import MarketConfig
from streams.stages.news import NewsConfig
from streams.stages.regime import RegimeConfig
from streams.stages.trader.stage import TraderConfig

__all__ = [
    "SECTIONS",
    "ConfigError",
    "HSLRConfig",
    "StageConfig",
    "build_config",
    "dump_config",
    "load_config",
]


class HSLRConfig(BaseModel):
    """All stage configs as typed fields (``config.trader.risk.max_position_usd`` type-checks).

    Build with :func:`load_config` or ``HSLRConfig()`` for the documented defaults.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: MarketConfig = MarketConfig()
    features: FeaturesConfig = FeaturesConfig()
    news: NewsConfig = NewsConfig()
    regime: RegimeConfig = RegimeConfig()
    edge: EdgeConfig = EdgeConfig()
    trader: TraderConfig = TraderConfig()
    governance: GovernanceConfig = GovernanceConfig()

    def digest(self) -> str:
        """sha256 (first 12 hex) of the effective config, all defaults expanded."""
        full = {k: getattr(self, k).model_dump(mode="json") for k in sorted(SECTIONS)}
        return hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:12]


SECTIONS: tuple[str, ...] = tuple(HSLRConfig.model_fields)
"""The section names, in DAG order: the tables a TOML config may hold."""


def build_config(data: dict[str, Any]) -> HSLRConfig:
    """Validate ``{section: {field: value}}``; unset sections and fields take the documented defaults."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; known: {sorted(SECTIONS)}")
    sections: dict[str, StageConfig] = {}
    for name, values in data.items():
        cls = cast(type[StageConfig], HSLRConfig.model_fields[name].annotation)
        try:
            sections[name] = cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(f"[{name}] {exc}") from exc
    return HSLRConfig.model_validate(sections)


def load_config(path: str | Path | None) -> HSLRConfig:
    """Read a TOML (or ``.json``) config; ``None`` gives all defaults."""
    if path is None:
        return HSLRConfig()
    p = Path(path)
    try:
        text = p.read_text()
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"config file {p} is not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a table of sections")
    return build_config(data)


def dump_config(config: HSLRConfig) -> dict[str, Any]:
    """The explicitly set sections as plain JSON-able data (what :func:`build_config` reads back)."""
    return {k: getattr(config, k).model_dump(mode="json") for k in SECTIONS if k in config.model_fields_set}


def with_fill_source(config: HSLRConfig, source: str) -> HSLRConfig:
    """``config`` with ``[trader.execution] fill_source = source`` (``hslr live --broker oanda`` runs
    the worker on the broker's fills); every other value as it was, and the section marked as set, so
    :func:`dump_config` writes it."""
    execution = config.trader.execution.model_validate(
        {**config.trader.execution.model_dump(), "fill_source": source}
    )
    trader = config.trader.model_copy(update={"execution": execution})
    return config.model_copy(update={"trader": trader})
