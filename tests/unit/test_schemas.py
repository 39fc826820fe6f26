"""Schema rules: carry-forward of upstream fields, and compatibility with the previous committed version."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import fastavro
import pytest

from streams.core.topics import TOPICS
from streams.dag import build_stages
from streams.serde.avro import _strip_logical

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CHAIN = [
    ("bar", "features"),
    ("features", "regime"),
    ("regime", "regime_adjusted"),
    ("regime_adjusted", "signal"),
    ("signal", "governed_signal"),
]
"""Upstream → downstream records of the linear part of the DAG (flat carry-forward)."""


def _fields(stem: str) -> dict[str, Any]:
    return {f["name"]: f["type"] for f in json.loads((SCHEMAS / f"{stem}.avsc").read_text())["fields"]}


@pytest.mark.parametrize(("up", "down"), CHAIN)
def test_downstream_records_carry_every_upstream_field(up: str, down: str) -> None:
    upstream, downstream = _fields(up), _fields(down)
    missing = {k: v for k, v in upstream.items() if downstream.get(k) != v}
    assert not missing, f"{down}.avsc lacks or retypes {sorted(missing)} of {up}.avsc"


def test_every_dag_topic_has_a_schema_and_every_schema_a_topic() -> None:
    stems = {p.stem for p in SCHEMAS.glob("*.avsc")}
    assert {t.schema for t in TOPICS.values()} == stems
    for stage in build_stages(None, ["market"]):
        assert all(k in TOPICS for k in (*stage.spec.inputs, *stage.spec.outputs))


def _previous_version(path: Path) -> str | None:
    """The file as of the last commit that changed it before the current one (None when new)."""
    rel = path.relative_to(SCHEMAS.parent).as_posix()
    try:
        revs = subprocess.run(
            ["git", "log", "--format=%H", "--", rel],
            cwd=SCHEMAS.parent,  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git history unavailable")
    current = path.read_text()
    for rev in revs:
        old = subprocess.run(
            ["git", "show", f"{rev}:{rel}"],
            cwd=SCHEMAS.parent,  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        if old and old != current:
            return old
    return None


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    sample = {"string": "x", "long": 1, "int": 1, "double": 0.5, "float": 0.5, "boolean": True, "bytes": b"b"}
    rec = {}
    for f in schema["fields"]:
        t = f["type"]
        if isinstance(t, list):
            t = next(x for x in t if x != "null")
        if isinstance(t, dict):
            rec[f["name"]] = t["symbols"][0] if t.get("type") == "enum" else sample[t["type"]]
        else:
            rec[f["name"]] = sample[t]
    return rec


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.avsc")), ids=lambda p: p.stem)
def test_current_schema_reads_data_written_by_the_previous_committed_version(path: Path) -> None:
    old_text = _previous_version(path)
    new = json.loads(path.read_text())
    old = json.loads(old_text) if old_text else new  # a schema's first version must read itself
    writer, reader = (fastavro.parse_schema(_strip_logical(s)) for s in (old, new))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, _example(old))
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, writer, reader)
    added = {f["name"] for f in new["fields"]} - {f["name"] for f in old["fields"]}
    for name in added:
        default = next(f for f in new["fields"] if f["name"] == name).get("default")
        assert default is not None or any(
            f["name"] == name and f["type"] == ["null"] for f in new["fields"]
        ), f"{path.stem}.{name} was added without a default"
        assert decoded[name] == default
