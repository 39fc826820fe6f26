"""Portfolio configuration (a nested section of ``[trader]``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from streams.core.config import StageConfig
from streams.fx.pairs import normalize_pairs


class PortfolioConfig(StageConfig):
    """Account currency and starting capital."""

    initial_equity_usd: Annotated[float, Field(gt=0)] = 1_000_000.0
    """Starting equity and first high-water mark (USD)."""
    account_currency: str = "USD"
    """Account currency; only USD is supported (every cross rate is looked up against USD)."""
    pairs: tuple[str, ...] = ()
    """Tradeable universe (and the columns of the book); empty means ``KNOWN_PAIRS``."""

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return normalize_pairs(v)

    @field_validator("account_currency")
    @classmethod
    def _usd(cls, v: str) -> str:
        if v != "USD":
            raise ValueError("only a USD account is supported")
        return v
