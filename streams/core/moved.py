"""Module paths that moved, old -> new: pickles written before a move still load.

Checkpoints (stage state) and model artifacts are pickles, and a pickle names the module of every class
it holds. When a module moves, add its old path here: the checkpoint unpickler
(:mod:`streams.core.state_codec`) maps each class's module through :func:`current_module`, and model
artifacts are loaded inside :func:`old_module_paths` (joblib's unpickler cannot be given a lookup).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

MOVED_MODULES: dict[str, str] = {
    # the renovation (issue 9)
    "streams.data.pairs": "streams.fx.pairs",
    "streams.data.sessions": "streams.fx.sessions",
    "streams.stages.trader": "streams.stages.trader.stage",
    "streams.stages.risk": "streams.stages.trader.risk",
    "streams.stages.risk.config": "streams.stages.trader.risk.config",
    "streams.stages.risk.decide": "streams.stages.trader.risk.decide",
    "streams.stages.risk.limits": "streams.stages.trader.risk.limits",
    "streams.stages.risk.sizing": "streams.stages.trader.risk.sizing",
    "streams.stages.risk.throttle": "streams.stages.trader.risk.throttle",
    "streams.stages.risk.vol_target": "streams.stages.trader.risk.vol_target",
    "streams.stages.execution": "streams.stages.trader.execution",
    "streams.stages.execution.broker": "streams.stages.trader.execution.broker",
    "streams.stages.execution.config": "streams.stages.trader.execution.config",
    "streams.stages.execution.killswitch": "streams.stages.trader.execution.killswitch",
    "streams.stages.execution.records": "streams.stages.trader.execution.records",
    "streams.stages.execution.router": "streams.stages.trader.execution.router",
    "streams.stages.execution.step": "streams.stages.trader.execution.step",
    "streams.stages.execution.toxicity": "streams.stages.trader.execution.toxicity",
    "streams.stages.portfolio": "streams.stages.trader.portfolio",
    "streams.stages.portfolio.accounting": "streams.stages.trader.portfolio.accounting",
    "streams.stages.portfolio.book": "streams.stages.trader.portfolio.book",
    "streams.stages.portfolio.config": "streams.stages.trader.portfolio.config",
    "streams.stages.portfolio.fastpath": "streams.stages.trader.portfolio.fastpath",
    "streams.stages.portfolio.minutes": "streams.stages.trader.portfolio.minutes",
    "streams.stages.governance.health": "streams.binding.health",
    "streams.stages.edge.conditional": "models.conditional",
    "streams.stages.edge.training": "streams.training.edge",
    "models.regime_train": "streams.training.regime",
    "models.training": "streams.training.artifacts",
}


def current_module(module: str) -> str:
    """Return where ``module`` lives now (itself when it never moved)."""
    return MOVED_MODULES.get(module, module)


@contextmanager
def old_module_paths() -> Iterator[None]:
    """Make the old module paths importable for the duration (for unpicklers that take no lookup).

    Only paths that are free are aliased, and the aliases are removed on exit.
    """
    added = []
    try:
        for old, new in MOVED_MODULES.items():
            if old not in sys.modules:
                sys.modules[old] = importlib.import_module(new)
                added.append(old)
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)
