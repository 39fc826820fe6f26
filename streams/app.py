"""Faust entry point: ``faust -A streams.app worker`` runs the stages named by HSLR_STAGES (all by default),
co-located as one agent when HSLR_FUSE is true."""

from __future__ import annotations

from streams.binding.faust_app import create_app
from streams.config import load_config
from streams.dag import worker_stages
from streams.settings import settings

_s = settings()
app = create_app(
    worker_stages(
        load_config(_s.hslr_config or None), [x for x in _s.hslr_stages.split(",") if x], _s.hslr_fuse
    ),
    bootstrap=_s.kafka_bootstrap_servers,
    namespace=_s.hslr_namespace,
    batch_max=_s.hslr_batch_max,
    batch_within=_s.hslr_batch_within_s,
    max_records=_s.hslr_message_records,
    max_fetch_bytes=_s.hslr_consumer_max_fetch_bytes,
    datadir=_s.hslr_faust_datadir,
)
