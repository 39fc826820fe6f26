"""Every Kafka topic of the DAG, declared once.

Keys (``bars``, ``features`` …) are what stages name; ``<namespace>.<key>`` is the Kafka topic; ``schema`` is the
stem of ``schemas/<schema>.avsc``. All DAG topics are keyed by pair. They default to one partition:
the pipeline's cross-pair stages (correlation, portfolio risk) need every pair's bar of a minute in
one place and in event-time order, and FX 1-minute bars are a few hundred records a second at most.
Stages scale out by being deployed on separate workers, not by partitioning one stage.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "hslr"


@dataclass(frozen=True)
class Topic:
    key: str
    schema: str
    partitions: int = 1
    compacted: bool = False
    one_per_bar: bool = True
    """At most one record per (pair, ts), increasing per pair: the binding drops repeats (at-least-once)."""

    def name(self, namespace: str = DEFAULT_NAMESPACE) -> str:
        """Kafka topic name; a namespace per backtest run keeps replays apart from live topics."""
        return f"{namespace}.{self.key}"


TOPICS: dict[str, Topic] = {
    t.key: t
    for t in (
        Topic("bars", "bar", one_per_bar=False),  # raw feed: the market stage quarantines repeats
        Topic("bars.clean", "bar"),
        Topic("features", "features"),
        Topic("regime", "regime"),
        Topic("calendar", "calendar_event", one_per_bar=False),
        Topic("regime.adjusted", "regime_adjusted"),
        Topic("signals", "signal"),
        Topic("signals.governed", "governed_signal"),
        Topic("risk.targets", "risk_target"),
        Topic("orders", "order", one_per_bar=False),
        Topic("fills", "execution_report", one_per_bar=False),
        Topic("broker.fills", "execution_report", one_per_bar=False),  # a live broker's reports
        Topic("portfolio", "portfolio", one_per_bar=False),
        Topic("governance", "governance", one_per_bar=False),
        Topic("control", "control", one_per_bar=False),
        Topic("quarantine", "quarantine", one_per_bar=False),
        Topic("deadletter", "dead_letter", one_per_bar=False),
    )
}


def topic(key: str) -> Topic:
    try:
        return TOPICS[key]
    except KeyError:
        raise KeyError(f"unknown topic key {key!r}; declared: {sorted(TOPICS)}") from None
