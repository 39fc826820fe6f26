"""The DAG, declared once: which stages exist, in which order, reading and writing which topics.

Every runner reads this declaration: ``hslr worker`` (Faust), the Kafka topic replay and the
in-process replay. Stage order is topological; :func:`validate` proves every input is either an
external source (fed by ingest, replay, the calendar client or an operator) or the output of an
earlier stage, so no feedback edge crosses stages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from streams.config import HSLRConfig
from streams.core.stage import Stage
from streams.core.topics import TOPICS

EXTERNAL_SOURCES = frozenset({"bars", "calendar", "control", "broker.fills"})
"""Topics written from outside the DAG's stages (``broker.fills``: the live broker's transaction stream)."""


def _market(cfg: HSLRConfig) -> Stage[Any]:
    from streams.stages.market import MarketStage

    return MarketStage(cfg.market)


def _features(cfg: HSLRConfig) -> Stage[Any]:
    from streams.stages.features import FeaturesStage

    return FeaturesStage(cfg.features)


# Model artifacts and the calendar are read here, once, at start-up: stages get them injected and read no file.
# A relative model path lives in the data directory (HSLR_DATA_DIR), never in the working directory.


def _model_path(path: str) -> str:
    """The artifact directory of a configured model path; a ``latest`` pointer yields to a ``promoted``
    one beside it (``hslr models promote``): workers run the promoted version, not the newest trained."""
    from models.artifacts import LATEST, PROMOTED
    from streams.settings import data_path

    if not path:
        return path
    p = data_path(path)
    if p.name == LATEST and (p.parent / PROMOTED).exists():
        return str(p.parent / PROMOTED)
    return str(p)


def models_in_use(config: HSLRConfig, stage_ids: Sequence[str]) -> dict[str, str]:
    """``{kind: version}`` of the model artifacts the stages ``stage_ids`` (all when empty) load."""
    from models.artifacts import read_meta

    paths = {"regime": config.regime.model_path, "edge": config.edge.model_path}
    wanted = set(stage_ids or STAGE_FACTORIES)
    return {k: read_meta(_model_path(p)).version for k, p in paths.items() if k in wanted and p}


def _regime(cfg: HSLRConfig) -> Stage[Any]:
    from models.artifacts import META_FILE, load_artifact
    from models.regime import MODEL_FEATURES
    from streams.stages.regime import KIND, RegimeStage

    path = _model_path(cfg.regime.model_path)
    if not (Path(path) / META_FILE).is_file():
        raise FileNotFoundError(
            f"no regime model at {path!r}; train one with `hslr train regime --pairs EURUSD,GBPUSD "
            f"--from 2019-01-01 --to 2019-06-30` or set [regime] model_path"
        )
    model, meta = load_artifact(path, expected_features=MODEL_FEATURES, kind=KIND)
    return RegimeStage(cfg.regime, model=model, model_version=meta.version)


def _news(cfg: HSLRConfig) -> Stage[Any]:
    # the reference calendar (a scheduled calendar is known in advance) comes from [news] calendar_path;
    # live updates arrive on the calendar topic
    from streams.stages.news import NewsStage

    config = cfg.news
    calendar = None
    if config.calendar_path:
        from streams.data.calendar import read_calendar_file

        calendar = read_calendar_file(config.calendar_path)
    return NewsStage(config, calendar=calendar)


def _edge(cfg: HSLRConfig) -> Stage[Any]:
    from streams.stages.edge.stage import MODEL_FEATURES, EdgeStage

    if not cfg.edge.model_path:
        return EdgeStage(cfg.edge)  # no model: every row is warm-up, nothing passes
    from models.artifacts import load_artifact

    path = _model_path(cfg.edge.model_path)
    model, _meta = load_artifact(path, expected_features=MODEL_FEATURES, kind="edge")
    return EdgeStage(cfg.edge, model)


def _governance(cfg: HSLRConfig) -> Stage[Any]:
    from streams.stages.governance import GovernanceStage

    config = cfg.governance
    if config.kl_from_regime_model and not config.kl_reference and not config.kl_reference_artifact:
        config = config.model_copy(update={"kl_reference_artifact": cfg.regime.model_path})
    if config.kl_reference or not config.kl_reference_artifact:
        return GovernanceStage(config, control_key=_control_key())
    from models.artifacts import read_meta
    from streams.stages.governance.kl import reference_from_meta

    meta = read_meta(_model_path(config.kl_reference_artifact))
    reference = reference_from_meta(meta, config.kl_features)
    return GovernanceStage(
        config.model_copy(update={"kl_reference_artifact": ""}),
        reference=reference,
        control_key=_control_key(),
    )


def _trader(cfg: HSLRConfig) -> Stage[Any]:
    from streams.stages.trader.stage import TraderStage

    return TraderStage(cfg.trader, expected_pairs=tuple(cfg.market.pairs), control_key=_control_key())


def _control_key() -> bytes | None:
    from streams.settings import control_key

    return control_key()


STAGE_FACTORIES: dict[str, Callable[[HSLRConfig], Stage[Any]]] = {
    "market": _market,
    "features": _features,
    "regime": _regime,  # after features
    "news": _news,  # after regime
    "edge": _edge,  # after news (regime.adjusted)
    "governance": _governance,  # after edge (signals)
    "trader": _trader,  # last: after governance (signals.governed)
}
"""Stage id → factory, in topological order."""


def validate(stages: Sequence[Stage[Any]]) -> None:
    """Raise ``ValueError`` when a stage reads a topic no earlier stage or external source writes."""
    available = set(EXTERNAL_SOURCES)
    for s in stages:
        for t in (*s.spec.inputs, *s.spec.outputs):
            if t not in TOPICS:
                raise ValueError(f"stage {s.spec.id} names undeclared topic {t!r}")
        missing = [t for t in s.spec.inputs if t not in available]
        if missing:
            raise ValueError(f"stage {s.spec.id} reads {missing}, which no earlier stage writes")
        available.update(s.spec.outputs)


def build_stages(config: HSLRConfig | None = None, only: Sequence[str] | None = None) -> list[Stage[Any]]:
    """Instantiate the DAG's stages (all, or the ids in ``only``, kept in DAG order)."""
    cfg = config or HSLRConfig()
    if only:
        unknown = sorted(set(only) - set(STAGE_FACTORIES))
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; the DAG has {list(STAGE_FACTORIES)}")
    stages = [f(cfg) for sid, f in STAGE_FACTORIES.items() if not only or sid in only]
    if not only:
        validate(stages)
    return stages


def fuse(stages: Sequence[Stage[Any]]) -> Stage[Any]:
    """Co-locate ``stages`` (in DAG order) as one stage: internal topics handed over in memory, every
    topic still published (see :mod:`streams.core.fused`). One stage is returned as it is."""
    from streams.core.fused import FusedStage

    return stages[0] if len(stages) == 1 else FusedStage(stages, EXTERNAL_SOURCES)


def worker_stages(config: HSLRConfig, only: Sequence[str] | None, fused: bool) -> list[Stage[Any]]:
    """The stages a worker runs as agents: ``only`` (all when empty), or them fused into one."""
    stages = build_stages(config, only or None)
    return [fuse(stages)] if fused else stages
