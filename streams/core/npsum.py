"""numpy's float64 summation, compiled: the same additions in the same order, so the same bits.

``np.sum`` of a contiguous float64 vector adds its elements to 0.0 with pairwise summation: a plain
loop below 8 elements, eight running sums (combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))) up to 128,
and above that two halves split at a multiple of 8. Compiled loops that must reproduce an ``np.sum``
exactly call :func:`np_sum` (tested against ``np.sum`` on random vectors of many lengths).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.jit import njit


@njit
def _pairwise(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i = 8
        while i < n - n % 8:
            j = lo + i
            r0 += a[j]
            r1 += a[j + 1]
            r2 += a[j + 2]
            r3 += a[j + 3]
            r4 += a[j + 4]
            r5 += a[j + 5]
            r6 += a[j + 6]
            r7 += a[j + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


@njit
def np_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """``float(np.sum(a[lo:lo + n]))`` of a float64 vector, bit for bit (callable from compiled code)."""
    return 0.0 + _pairwise(a, lo, n)
