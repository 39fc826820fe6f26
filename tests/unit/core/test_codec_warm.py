"""A worker warms the codec's compiled loops at start-up: its first batch compiles nothing more."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json
from streams.serde import avro_kernels as k
kernels = (k.encode_rows, k.decode_rows, k.utf8_codes)
k.warm()
warm = [len(f.signatures) for f in kernels]
from streams.serde.avro import AvroCodec
from tests.integration.test_backbone import _sample
from streams.serde.avro import records_to_batch
import numpy as np
for stem in ("bar", "signal", "governed_signal", "portfolio"):
    codec = AvroCodec(stem)
    rng = np.random.default_rng(1)
    batch = records_to_batch([_sample(codec.info.raw, rng) for _ in range(80)], codec.info)
    msgs = codec.encode_batch_indexed(batch, 40)
    assert all(i is not None for _, i in msgs)
    back, errors, _ = codec.decode_messages([m for m, _ in msgs], [i for _, i in msgs])
    assert not errors and back.equals(batch)
print(json.dumps([warm, [len(f.signatures) for f in kernels]]))
"""


def test_after_warm_the_codec_compiles_no_other_signature() -> None:
    # a fresh process: the dispatchers' signatures are per process (other tests may have filled them)
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False)  # noqa: S603
    assert run.returncode == 0, run.stderr[-2000:]
    warm, after = json.loads(run.stdout.strip().splitlines()[-1])
    assert warm == [1, 1, 1]
    assert after == warm
