"""The base of every stage's config and the error a bad config raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StageConfig(BaseModel):
    """Base for every stage's config: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ConfigError(ValueError):
    """A configuration file or value that cannot be used, with the reason."""
