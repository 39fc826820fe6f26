"""Compiled kernels: numba's ``njit`` with an on-disk cache that works on a read-only checkout.

numba caches compiled machine code next to the source (``__pycache__``) unless ``NUMBA_CACHE_DIR`` is
set, which fails on a read-only install. Unless the environment already names a directory, the cache
goes under ``$HSLR_CACHE_DIR/numba`` or else ``$XDG_CACHE_HOME/hslr/numba`` (``~/.cache/hslr/numba``).
Kernels are compiled without ``fastmath``: every float operation is the IEEE operation that Python and
numpy perform, in the order written, so compiled and interpreted paths give the same bits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _cache_dir() -> str:
    base = os.environ.get("HSLR_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    sub = ("numba",) if os.environ.get("HSLR_CACHE_DIR") else ("hslr", "numba")
    return str(Path(base, *sub))


os.environ.setdefault("NUMBA_CACHE_DIR", _cache_dir())

import numba  # noqa: E402  (reads NUMBA_CACHE_DIR when imported)


def njit(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, no fastmath."""
    return numba.njit(cache=True, nogil=True)(fn)  # type: ignore[return-value]
