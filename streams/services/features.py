"""Features of stored bars: the DAG's market and features stages run in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.core.batch import Batch

if TYPE_CHECKING:
    from streams.config import HSLRConfig


def compute_features(bars: Batch, config: HSLRConfig) -> Batch:
    """Run the DAG's market and features stages in-process over ``bars``; return the features topic."""
    from streams.dag import STAGE_FACTORIES, build_stages
    from streams.runner.inprocess import run_inprocess

    if "features" not in STAGE_FACTORIES:
        raise RuntimeError("the features stage is not registered in streams/dag.py yet")
    out = run_inprocess(build_stages(config, only=["market", "features"]), {"bars": bars})
    return out["features"]
