"""Configuration of the news-override stage (stage id ``news``)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from streams.core.config import StageConfig

IMPACT_LEVELS: tuple[str, ...] = ("high", "medium", "low", "holiday", "none")
"""Normalised ForexFactory impact levels (see ``streams.data.calendar.normalize_impact``)."""


class NewsConfig(StageConfig):
    """Event-window override and surprise mode; all windows in minutes around the event time."""

    calendar_path: str = ""
    """Reference calendar loaded at startup (ForexFactory CSV or daily JSON); empty: only the calendar
    topic. Backtests set it so that both engines see the same calendar from the first bar."""
    override_impacts: tuple[str, ...] = ("high",)
    """Impact levels whose events force ``Event_Risk`` on the affected pairs."""
    windows_min: dict[str, tuple[int, int]] = {
        "high": (30, 60),
        "medium": (15, 30),
        "low": (5, 15),
        "holiday": (0, 0),
        "none": (0, 0),
    }
    """Impact → (minutes before, minutes after) the event; a bar whose open time ``ts`` lies in
    ``[event - before, event + after]`` (both ends included) is inside the window."""
    all_currency: str = "ALL"
    """Calendar currency code (case-insensitive) of events that affect every pair (G7, OPEC …)."""
    linked_currencies: dict[str, tuple[str, ...]] = {"CNY": ("AUD", "NZD")}
    """Extra exposure: events of the key currency also affect pairs containing any listed currency
    (China data moves the Australian and New Zealand dollars). Linked events never set a surprise sign."""
    pairs: tuple[str, ...] = ()
    """Pairs whose event index is prebuilt in the state; empty means ``KNOWN_PAIRS``. Other pairs still
    work (their index is built per batch)."""
    surprise_enabled: bool = True
    """Emit ``surprise_mode`` (temporary directional mode) after large data surprises."""
    surprise_impacts: tuple[str, ...] = ("high",)
    """Impact levels whose releases can trigger the surprise mode."""
    surprise_threshold: float = 2.0
    """|z| above which a release is a surprise; z = (actual - forecast) / robust dispersion."""
    surprise_min_history: int = 6
    """Past surprises of the same (currency, title), strictly before the release, needed for a z-score."""
    surprise_window_min: int = 60
    """Minutes after the release (bar ts in [release, release + window]) during which the mode holds."""
    inverse_keywords: tuple[str, ...] = (
        "unemployment rate",
        "unemployment claims",
        "claimant count",
        "jobless",
    )
    """Title fragments (case-insensitive) of releases where a higher actual is bad for the currency, so
    the surprise sign is flipped (more unemployment weakens the currency)."""

    @field_validator("override_impacts", "surprise_impacts")
    @classmethod
    def _known_impacts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - set(IMPACT_LEVELS))
        if unknown:
            raise ValueError(f"unknown impact level(s) {unknown}; known: {list(IMPACT_LEVELS)}")
        return v

    @model_validator(mode="after")
    def _check_windows(self) -> NewsConfig:
        missing = [i for i in self.override_impacts if i not in self.windows_min]
        if missing:
            raise ValueError(f"override impact(s) {missing} have no entry in windows_min")
        bad = {k: w for k, w in self.windows_min.items() if min(w) < 0}
        if bad:
            raise ValueError(f"negative window(s) {bad}: minutes before/after must be >= 0")
        if self.surprise_window_min < 0 or self.surprise_min_history < 2 or self.surprise_threshold <= 0:
            raise ValueError("surprise_window_min >= 0, surprise_min_history >= 2, surprise_threshold > 0")
        return self
