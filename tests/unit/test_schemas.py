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
ARCHIVE = SCHEMAS / "archive"
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


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv, no user input
        ["git", *args],  # noqa: S607 - git from PATH, fixed arguments
        cwd=SCHEMAS.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def previous_versions(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every earlier version of a schema: ``schemas/archive/<stem>.v<N>.avsc`` files and, where git history
    is there, the last committed version that differs from the file now. ``(label, schema)`` pairs."""
    found = [
        (f"archive/{p.name}", json.loads(p.read_text())) for p in sorted(ARCHIVE.glob(f"{path.stem}.v*.avsc"))
    ]
    current = path.read_text()
    rel = path.relative_to(SCHEMAS.parent).as_posix()
    try:
        revs = _git("log", "--format=%H", "--", rel).split()
        for rev in revs:
            old = _git("show", f"{rev}:{rel}")
            if old != current:
                found.append((f"git {rev[:8]}", json.loads(old)))
                break
    except (OSError, subprocess.SubprocessError):
        pass  # no git history (a source archive): the archive files are still compared
    return found


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


def check_reads(old: dict[str, Any], new: dict[str, Any], name: str) -> None:
    """Raise AssertionError unless ``new`` (reader) reads a record written with ``old`` (writer), every
    added field taking its default."""
    writer, reader = (fastavro.parse_schema(_strip_logical(s)) for s in (old, new))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, _example(old))
    buf.seek(0)
    try:
        decoded = fastavro.schemaless_reader(buf, writer, reader)
    except Exception as exc:  # noqa: BLE001 - fastavro raises several types on a resolution failure
        raise AssertionError(f"{name}: the current schema cannot read the old data: {exc}") from exc
    added = {f["name"] for f in new["fields"]} - {f["name"] for f in old["fields"]}
    for field in added:
        spec = next(f for f in new["fields"] if f["name"] == field)
        assert "default" in spec, f"{name}.{field} was added without a default"
        assert decoded[field] == spec["default"]


SCHEMA_PATHS = sorted(SCHEMAS.glob("*.avsc"))


@pytest.mark.parametrize("path", SCHEMA_PATHS, ids=lambda p: p.stem)
def test_current_schema_reads_data_written_by_every_previous_version(path: Path) -> None:
    previous = previous_versions(path)
    if not previous:
        pytest.skip(f"{path.stem}: one version only, nothing to compare yet")
    new = json.loads(path.read_text())
    for label, old in previous:
        check_reads(old, new, f"{path.stem} ({label})")


def test_schema_evolution_says_how_many_it_compared(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {p.stem: len(previous_versions(p)) for p in SCHEMA_PATHS}
    compared = sum(1 for n in counts.values() if n)
    with capsys.disabled():
        print(
            f"\nschema evolution: {compared} of {len(counts)} schemas compared with "
            f"{sum(counts.values())} earlier version(s); first versions: {sorted(k for k, n in counts.items() if not n)}"
        )
    assert len(counts) == len({t.schema for t in TOPICS.values()})


def test_the_check_catches_an_incompatible_change() -> None:
    old = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    check_reads(
        old, {**old, "fields": [*old["fields"], {"name": "b", "type": "double", "default": 0.0}]}, "ok"
    )
    with pytest.raises(AssertionError, match="without a default|cannot read"):
        check_reads(old, {**old, "fields": [*old["fields"], {"name": "b", "type": "double"}]}, "bad")
    with pytest.raises(AssertionError, match="cannot read"):
        check_reads(old, {**old, "fields": [{"name": "a", "type": "string"}]}, "retyped")
