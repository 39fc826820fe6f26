"""Portfolio configuration (a nested section of ``[trader]``)."""

from __future__ import annotations

from pydantic import field_validator

from streams.core.config import StageConfig


class PortfolioConfig(StageConfig):
    """Account currency and starting capital."""

    initial_equity_usd: float = 1_000_000.0
    """Starting equity and first high-water mark (USD)."""
    account_currency: str = "USD"
    """Account currency; only USD is supported (every cross rate is looked up against USD)."""
    pairs: tuple[str, ...] = ()
    """Tradeable universe (and the columns of the book); empty means ``KNOWN_PAIRS``."""

    @field_validator("account_currency")
    @classmethod
    def _usd(cls, v: str) -> str:
        if v != "USD":
            raise ValueError("only a USD account is supported")
        return v
