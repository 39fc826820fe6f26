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
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.core.config import ConfigError, StageConfig

__all__ = ["ConfigError", "HSLRConfig", "StageConfig", "build_config", "dump_config", "load_config"]


def _sections() -> dict[str, type[StageConfig]]:
    from streams.stages.edge import EdgeConfig
    from streams.stages.features import FeaturesConfig
    from streams.stages.governance import GovernanceConfig
    from streams.stages.market import MarketConfig
    from streams.stages.news import NewsConfig
    from streams.stages.regime import RegimeConfig
    from streams.stages.trader.stage import TraderConfig

    return {
        "market": MarketConfig,
        "features": FeaturesConfig,
        "news": NewsConfig,
        "regime": RegimeConfig,
        "edge": EdgeConfig,
        "trader": TraderConfig,
        "governance": GovernanceConfig,
    }


class HSLRConfig(BaseModel):
    """All stage configs. Build with :func:`load_config` or ``HSLRConfig()`` for the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sections: dict[str, Any] = {}

    def section(self, name: str) -> Any:
        cls = _sections()[name]
        return self.sections.get(name) or cls()

    def digest(self) -> str:
        """sha256 (first 12 hex) of the effective config, all defaults expanded."""
        full = {k: self.section(k).model_dump(mode="json") for k in sorted(_sections())}
        return hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:12]


def build_config(data: dict[str, Any]) -> HSLRConfig:
    known = _sections()
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; known: {sorted(known)}")
    sections = {}
    for name, values in data.items():
        try:
            sections[name] = known[name].model_validate(values)
        except ValidationError as exc:
            raise ConfigError(f"[{name}] {exc}") from exc
    return HSLRConfig(sections=sections)


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
    return {k: v.model_dump(mode="json") for k, v in config.sections.items()}
