"""Versioned model artifacts: a joblib payload plus JSON metadata that travels with it.

Layout under a kind's root (default ``models/artifacts/<kind>/``)::

    <version>/model.joblib   the fitted estimator
    <version>/meta.json      ArtifactMeta (kind, version, window, features, params, metrics, hashes …)
    latest -> <version>      relative symlink, replaced atomically by each save

Nothing here reads the clock or git: ``created_at`` and ``code_version`` are passed in (the CLI layer
reads them), so saving is reproducible. :func:`load_artifact` refuses a model whose feature list or
order differs from what the caller will feed it, or whose payload does not match its recorded hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from streams.core.moved import old_module_paths

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
LATEST = "latest"
PROMOTED = "promoted"
"""Pointer beside ``latest`` to the version workers run (``hslr models promote``); absent: ``latest``."""
_LIBRARIES = ("numpy", "scikit-learn", "joblib", "scipy", "pandas")


class ArtifactError(ValueError):
    """An artifact that is missing, corrupt or unusable here; the message says what to do."""


class FeatureMismatchError(ArtifactError):
    """The artifact was trained on other features (or another order) than the caller provides."""


@dataclass(frozen=True)
class ArtifactMeta:
    """Everything needed to know what a model is and where it came from (all JSON-serialisable)."""

    kind: str
    """Model family, e.g. ``regime`` or ``edge``."""
    version: str
    """Unique within ``kind``; see :func:`make_version`."""
    created_at: str
    """ISO-8601 UTC time the artifact was built (passed in by the caller)."""
    training_from: str
    """ISO-8601 UTC time of the first training row."""
    training_to: str
    """ISO-8601 UTC time of the last training row."""
    features: tuple[str, ...]
    """Model input columns, in the order the model expects them."""
    params: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters and labeling parameters."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Evaluation results (out-of-sample)."""
    code_version: str = ""
    """``git describe --always --dirty`` of the training code."""
    data_hash: str = ""
    """sha256 of the training arrays (:func:`data_hash`)."""
    libraries: dict[str, str] = field(default_factory=dict)
    """Library versions at training time (:func:`library_versions`)."""
    model_sha256: str = ""
    """sha256 of ``model.joblib``, filled by :func:`save_artifact`."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=json_default)

    @classmethod
    def from_json(cls, text: str) -> ArtifactMeta:
        raw = json.loads(text)
        raw["features"] = tuple(raw["features"])
        return cls(**raw)


def json_default(obj: Any) -> Any:
    """JSON encoder fallback for numpy scalars/arrays and datetimes."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def data_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """Return the sha256 (hex) of named arrays: names, dtypes, shapes and bytes, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        if a.dtype.kind in "OU":
            a = np.asarray([str(v) for v in a.ravel()], dtype=np.str_)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Return installed versions of the libraries a model's pickle and numerics depend on."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def make_version(created_at: datetime, digest: str) -> str:
    """Return ``YYYYmmddTHHMMSSZ-<first 8 hex of digest>``: sortable by time, unique per data."""
    return f"{created_at.strftime('%Y%m%dT%H%M%SZ')}-{digest[:8]}"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_artifact(root: str | Path, model: Any, meta: ArtifactMeta, *, update_latest: bool = True) -> Path:
    """Write ``model`` and ``meta`` to ``root/<meta.version>/`` and point ``root/latest`` at it.

    Returns
    -------
    Path
        The version directory.
    """
    directory = Path(root) / meta.version
    if directory.exists():
        raise ArtifactError(f"artifact {directory} already exists; versions are immutable")
    directory.mkdir(parents=True)
    joblib.dump(model, directory / MODEL_FILE, compress=3)
    final = ArtifactMeta(**{**asdict(meta), "model_sha256": _file_sha256(directory / MODEL_FILE)})
    (directory / META_FILE).write_text(final.to_json())
    if update_latest:
        point(root, LATEST, meta.version)
    return directory


def point(root: str | Path, name: str, version: str) -> None:
    """Make ``root/name`` (``latest``, ``promoted``) a relative symlink to ``root/version``, atomically:
    readers never see a missing pointer."""
    tmp = Path(root) / f".{name}.{version}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(version, target_is_directory=True)
    os.replace(tmp, Path(root) / name)


def verify_artifact(path: str | Path, *, kind: str, version: str, sha256: str) -> ArtifactMeta:
    """Check the artifact at ``path`` is the registered one: its metadata names ``kind`` and ``version``
    and its payload hashes to ``sha256`` (the registry row's); raise :class:`ArtifactError` otherwise."""
    p = Path(path)
    meta = read_meta(p)
    if (meta.kind, meta.version) != (kind, version):
        raise ArtifactError(f"{p} holds {meta.kind}:{meta.version}, the registry row says {kind}:{version}")
    payload = p / MODEL_FILE
    if not payload.is_file():
        raise ArtifactError(f"{payload} is missing; restore the artifact or retrain")
    actual = _file_sha256(payload)
    if actual != sha256 or (meta.model_sha256 and actual != meta.model_sha256):
        raise ArtifactError(
            f"{payload} hashes to {actual[:12]}…, registered {sha256[:12] or 'nothing'}…: the artifact is "
            "corrupt or not the registered one; refusing it"
        )
    return meta


def read_meta(path: str | Path) -> ArtifactMeta:
    """Read ``meta.json`` of the artifact directory (or ``latest`` pointer) ``path``."""
    p = Path(path)
    if not (p / META_FILE).is_file():
        raise ArtifactError(f"no model artifact at {p} (missing {META_FILE})")
    return ArtifactMeta.from_json((p / META_FILE).read_text())


def load_artifact(
    path: str | Path, *, expected_features: Sequence[str] | None = None, kind: str | None = None
) -> tuple[Any, ArtifactMeta]:
    """Load an artifact, refusing one that does not fit the caller.

    Parameters
    ----------
    path : str or Path
        A version directory or the ``latest`` pointer.
    expected_features : sequence of str, optional
        The feature columns, in order, the caller will feed; any difference raises
        :class:`FeatureMismatchError` naming the missing, extra or reordered features.
    kind : str, optional
        Required ``meta.kind``.

    Returns
    -------
    (model, ArtifactMeta)
    """
    p = Path(path)
    meta = read_meta(p)
    if kind is not None and meta.kind != kind:
        raise ArtifactError(f"artifact {p} is a {meta.kind!r} model, expected {kind!r}")
    if expected_features is not None:
        check_features(meta.features, tuple(expected_features), where=str(p))
    payload = p / MODEL_FILE
    if meta.model_sha256 and _file_sha256(payload) != meta.model_sha256:
        raise ArtifactError(
            f"{payload} does not match the sha256 in its {META_FILE}; the artifact is corrupt"
        )
    with old_module_paths():  # an artifact pickled before a module moved names its old path
        model = joblib.load(payload)
    return model, meta


def check_features(trained: Sequence[str], expected: Sequence[str], *, where: str = "artifact") -> None:
    """Raise :class:`FeatureMismatchError` unless ``trained`` and ``expected`` are the same list."""
    trained, expected = tuple(trained), tuple(expected)
    if trained == expected:
        return
    missing = [f for f in trained if f not in expected]
    extra = [f for f in expected if f not in trained]
    detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same names in another order"
    raise FeatureMismatchError(
        f"{where} was trained on features {list(trained)} but the caller provides {list(expected)} "
        f"({detail}); retrain the model for the current feature set"
    )
