"""Governance & drift monitor (DAG stage ``governance``): ``signals`` -> ``signals.governed``, ``governance``,
``control``; plus the pure decision logic of the Prometheus watchdog (:mod:`.health`)."""

from __future__ import annotations

from streams.stages.governance.config import GovernanceConfig, KLHistogram
from streams.stages.governance.kl import KLReference, histograms_from_samples
from streams.stages.governance.stage import GovernanceStage, GovernanceState

__all__ = [
    "GovernanceConfig",
    "GovernanceStage",
    "GovernanceState",
    "KLHistogram",
    "KLReference",
    "histograms_from_samples",
]
