"""The one way pure modules compile a loop: numba's ``njit`` with an on-disk cache, never fastmath.

``fastmath`` would let LLVM reassociate sums and fuse multiply-adds, which changes the last bits of
results that the golden replay compares byte for byte; compiled code here does the same IEEE operations
in the same order as the numpy code it replaces. The cache goes to ``$NUMBA_CACHE_DIR`` when set, else
to ``~/.cache/hslr/numba`` (writable when the checkout is read-only; set before numba is imported).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "hslr" / "numba"))

import numba  # noqa: E402  (the cache directory must be set first)

F = TypeVar("F", bound=Callable[..., Any])


def njit(fn: F) -> F:
    """Compile ``fn`` in nopython mode with the on-disk cache (first call compiles, later loads)."""
    return cast(F, numba.njit(cache=True, fastmath=False, nogil=True)(fn))
