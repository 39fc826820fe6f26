"""Pure decision logic of the live health watchdog (``streams.binding.watchdog`` does the I/O).

Fail-safe: the system never trades blind. The watchdog decides

* ``KILL`` when Prometheus cannot be queried, when it holds no stage metrics, when its newest sample is
  older than ``max_data_age_s`` (scrapes stopped), or when a stage's last event time is older than
  ``max_event_age_s`` while the FX market is open (:mod:`streams.fx.hours`), or lies more than
  ``max_clock_skew_s`` in the future (a bad bar's time: the stage's event clock cannot be trusted, and
  it would never look stale);
* ``HALT`` when a stage's errors or dead letters rose within the query window, or its consumer lag is
  above ``max_lag``;
* ``NONE`` otherwise.

KILL outranks HALT. Inputs are plain numbers (seconds since the epoch, counts), so the rules are unit
tested without a Prometheus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from streams.fx.hours import is_open_at


class HealthConfig(BaseModel):
    """Watchdog thresholds (seconds, counts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_data_age_s: float = 60.0
    """Newest Prometheus sample older than this: monitoring is blind -> KILL."""
    max_event_age_s: float = 300.0
    """A stage's last event older than this while the market is open -> KILL (matches alerts.yml)."""
    max_clock_skew_s: float = 120.0
    """A stage's last event more than this ahead of the wall clock is a bad (future) event -> KILL."""
    max_errors: float = 0.0
    """Stage errors in the error window above this -> HALT."""
    max_dead_letters: float = 0.0
    """Dead letters in the dead-letter window above this -> HALT."""
    max_lag: float = 10_000.0
    """Consumer lag (messages, summed per stage) above this -> HALT."""
    error_window: str = "5m"
    dead_letter_window: str = "10m"
    rearm_s: float = 30.0
    """While KILL/HALT still holds, it is published again this often: an operator RESUME given while
    the cause persists (Prometheus still unreachable) is overridden, never trading blind."""


@dataclass(frozen=True)
class HealthInputs:
    """What the watchdog read from Prometheus at ``now_s``; ``reachable=False`` if any query failed."""

    now_s: float
    reachable: bool = True
    error: str = ""
    last_event_s: Mapping[str, float] = field(default_factory=dict)
    """Stage -> value of hslr_last_event_ts_seconds (event time of its last record)."""
    sample_s: Mapping[str, float] = field(default_factory=dict)
    """Stage -> time Prometheus scraped that value."""
    errors: Mapping[str, float] = field(default_factory=dict)
    dead_letters: Mapping[str, float] = field(default_factory=dict)
    lag: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthDecision:
    action: str
    """KILL | HALT | NONE."""
    reasons: tuple[str, ...] = ()


def latch(
    active: str, last_publish_s: float, decision: HealthDecision, now_s: float, cfg: HealthConfig
) -> tuple[bool, str]:
    """Whether to publish ``decision`` now, and the new latched action (re-arming, level-triggered).

    Publish on escalation, and again every ``rearm_s`` while a KILL/HALT holds (a RESUME meanwhile
    is overridden); a healthy poll de-escalates to NONE, so the next failure is published at once.
    """
    rank = {"NONE": 0, "HALT": 1, "KILL": 2}
    if decision.action == "NONE":
        return False, "NONE"
    if rank[decision.action] > rank[active]:
        return True, decision.action
    return now_s - last_publish_s >= cfg.rearm_s, active


def queries(cfg: HealthConfig, namespace: str | None = None) -> dict[str, str]:
    """The PromQL of each input, scoped to the workers of ``namespace`` (target label) when given."""
    sel = f'{{namespace="{namespace}"}}' if namespace else ""
    return {
        "last": f"max by (stage) (hslr_last_event_ts_seconds{sel})",
        "sampled": f"max by (stage) (timestamp(hslr_last_event_ts_seconds{sel}))",
        "errors": f"sum by (stage) (increase(hslr_errors_total{sel}[{cfg.error_window}]))",
        "dead": f"sum by (stage) (increase(hslr_dead_letters_total{sel}[{cfg.dead_letter_window}]))",
        "lag": f"sum by (stage) (hslr_consumer_lag{sel})",
    }


def decide(obs: HealthInputs, cfg: HealthConfig | None = None) -> HealthDecision:
    """Apply the watchdog rules (module docstring) to one observation."""
    cfg = cfg or HealthConfig()
    if not obs.reachable:
        return HealthDecision("KILL", (f"prometheus unreachable: {obs.error or 'query failed'}",))
    if not obs.sample_s:
        return HealthDecision(
            "KILL", ("prometheus holds no hslr_last_event_ts_seconds: no stage is monitored",)
        )
    kill: list[str] = []
    newest = max(obs.sample_s.values())
    if obs.now_s - newest > cfg.max_data_age_s:
        kill.append(f"prometheus data stale: newest sample {obs.now_s - newest:.0f}s old")
    for stage, ts in sorted(obs.last_event_s.items()):
        if ts - obs.now_s > cfg.max_clock_skew_s:
            kill.append(f"stage {stage}: last event {ts - obs.now_s:.0f}s in the future")
    if is_open_at(obs.now_s):
        for stage, ts in sorted(obs.last_event_s.items()):
            if obs.now_s - ts > cfg.max_event_age_s:
                kill.append(f"stage {stage}: last event {obs.now_s - ts:.0f}s old while the market is open")
    if kill:
        return HealthDecision("KILL", tuple(kill))
    halt = [
        f"stage {s}: {v:.0f} errors in {cfg.error_window}"
        for s, v in sorted(obs.errors.items())
        if v > cfg.max_errors
    ]
    halt += [
        f"stage {s}: {v:.0f} dead letters in {cfg.dead_letter_window}"
        for s, v in sorted(obs.dead_letters.items())
        if v > cfg.max_dead_letters
    ]
    halt += [f"stage {s}: consumer lag {v:.0f}" for s, v in sorted(obs.lag.items()) if v > cfg.max_lag]
    return HealthDecision("HALT", tuple(halt)) if halt else HealthDecision("NONE")
