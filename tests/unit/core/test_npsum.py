"""The compiled numpy-exact sum adds in numpy's order: the same bits as ``np.sum`` for every length
(plain loop below 8, eight accumulators up to 128, halves at a multiple of 8 above) and offset."""

from __future__ import annotations

import numpy as np

from streams.core.npsum import np_sum


def _bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


def test_np_sum_matches_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    lengths = [*range(0, 300), 511, 512, 513, 1000, 1024, 1031, 4099]
    for n in lengths:
        # values spread over 10 decades so that the order of additions shows in the last bits
        a = rng.standard_normal(n + 5) * 10.0 ** rng.uniform(-5, 5, n + 5)
        for lo in (0, 1, 5):
            assert _bits(np_sum(a, lo, n)) == _bits(np.sum(a[lo : lo + n])), (n, lo)


def test_np_sum_order_is_not_sequential() -> None:
    """A check that the test above can fail: a left-to-right loop differs from numpy on these values."""
    a = np.array([1.0, 1e16, -1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    seq = 0.0
    for v in a:
        seq += float(v)
    assert np_sum(a, 0, a.size) == float(np.sum(a)) != seq


def test_np_sum_of_negative_zeros_is_positive_zero_as_numpy() -> None:
    z = -np.zeros(9)
    assert _bits(np_sum(z, 0, 9)) == _bits(np.sum(z)) == 0
