"""The one way pure modules compile a loop: numba's ``njit`` with an on-disk cache, never fastmath.

``fastmath`` would let LLVM reassociate sums and fuse multiply-adds, which changes the last bits of
results that the golden replay compares byte for byte; compiled code here does the same IEEE operations
in the same order as the numpy code it replaces. The cache goes to
:func:`streams.settings.numba_cache_dir` (``$NUMBA_CACHE_DIR``, else ``~/.cache/hslr/numba``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from streams.settings import numba_cache_dir

numba_cache_dir()  # before numba is imported: it reads NUMBA_CACHE_DIR once

import numba  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])


def njit(fn: F) -> F:
    """Compile ``fn`` in nopython mode with the on-disk cache (first call compiles, later loads)."""
    return cast(F, numba.njit(cache=True, fastmath=False, nogil=True)(fn))
