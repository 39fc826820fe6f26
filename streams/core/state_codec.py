"""Serialise stage state for checkpoints (the binding's compacted state topic).

States are frozen dataclasses of numpy arrays, scalars, tuples and dicts. Pickle keeps them exact
(dtypes, NaN, shapes); the unpickler only accepts numpy, builtins and this project's own classes, so a
checkpoint topic cannot be used to run arbitrary code.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from streams.core.moved import current_module

_ALLOWED_PREFIXES = ("numpy", "streams.", "models.", "collections", "builtins", "datetime")


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in {"eval", "exec", "compile", "open", "__import__", "getattr"}:
            raise pickle.UnpicklingError(f"refused builtins.{name}")
        module = current_module(module)  # a checkpoint written before a module moved
        if not module.startswith(_ALLOWED_PREFIXES):
            raise pickle.UnpicklingError(f"refused class {module}.{name} in a state checkpoint")
        return super().find_class(module, name)


def dumps(state: Any) -> bytes:
    return pickle.dumps(state, protocol=5)


def loads(data: bytes) -> Any:
    return _SafeUnpickler(io.BytesIO(data)).load()
