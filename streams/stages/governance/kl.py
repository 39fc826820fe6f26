"""KL divergence of live feature distributions from the training distribution.

Histograms use FIXED bin edges taken from the training reference; a live value below the first edge or
above the last falls in the outer bin, NaN values are ignored. Both histograms are smoothed with an
additive pseudo-count ``alpha`` per bin (default 0.5, the Jeffreys prior) before normalising, so an
empty bin on either side gives a finite divergence instead of 0 * log 0 or log(p / 0):

    p_b = (c_b + alpha) / (N + alpha * B),   q_b = (r_b + alpha) / (R + alpha * B)
    KL(P || Q) = sum_b p_b ln(p_b / q_b)      (nats)

The monitored value is the maximum over features (one shifted feature is enough to distrust the
models). Live counts are integers kept per evaluation interval, so window sums are exact and do not
depend on batch boundaries.

The reference comes, in this order, from the stage constructor, from ``GovernanceConfig.kl_reference``
or from a model artifact's metadata (``params`` or ``metrics`` key ``feature_histograms``, see
:func:`histograms_from_samples` for the producer side).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.groups import sorted_unique, union_sorted
from streams.core.jit import njit
from streams.core.units import F64, I64


@dataclass(frozen=True)
class KLReference:
    """Training histograms: per feature, fixed edges (B + 1,) and probabilities (B,)."""

    features: tuple[str, ...]
    edges: tuple[npt.NDArray[np.float64], ...]
    counts: tuple[npt.NDArray[np.float64], ...]

    _smoothed: dict[tuple[int, float], npt.NDArray[np.float64]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Memo of :meth:`smoothed` (the reference is constant; evaluations ask for it thousands of times)."""

    def smoothed(self, f: int, alpha: float) -> npt.NDArray[np.float64]:
        """Feature ``f``'s reference probabilities after additive smoothing ``alpha``, shape (B_f,)."""
        key = (f, alpha)
        if key not in self._smoothed:
            self._smoothed[key] = _smooth(self.counts[f], alpha)
        return self._smoothed[key]

    @property
    def n_bins(self) -> int:
        return max((c.size for c in self.counts), default=0)

    @classmethod
    def from_histograms(
        cls, hists: Mapping[str, Any], features: tuple[str, ...] | None = None
    ) -> KLReference:
        """Build from ``{feature: {"edges": [...], "counts": [...]}}`` (or objects with those attributes)."""
        names = tuple(f for f in (features or tuple(hists)) if f in hists)
        get = (lambda h, k: h[k]) if all(isinstance(hists[f], Mapping) for f in names) else getattr
        edges = tuple(np.asarray(get(hists[f], "edges"), dtype=np.float64) for f in names)
        counts = tuple(np.asarray(get(hists[f], "counts"), dtype=np.float64) for f in names)
        for f, e, c in zip(names, edges, counts, strict=True):
            if e.size != c.size + 1 or np.any(np.diff(e) <= 0) or c.sum() <= 0:
                raise ValueError(f"bad reference histogram for {f!r}")
        return cls(names, edges, counts)


def histograms_from_samples(
    samples: Mapping[str, npt.ArrayLike], n_bins: int = 20
) -> dict[str, dict[str, list]]:
    """Training histograms to store in an artifact's metadata (``feature_histograms``).

    Edges are the training quantiles (equal-mass bins; duplicates removed), so every bin holds data.

    Parameters
    ----------
    samples : feature name -> training values, shape (n,); NaN ignored.
    n_bins : number of bins before duplicate edges are merged.
    """
    out: dict[str, dict[str, list]] = {}
    for name, values in samples.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size < 2:
            continue
        edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, n_bins + 1)))
        if edges.size < 3:
            continue
        counts = np.bincount(bin_index(v, edges), minlength=edges.size - 1)
        out[name] = {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}
    return out


def bin_index(values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> I64:
    """Bin of each value (0..B-1), out-of-range values clipped to the outer bins, shape (n,)."""
    return np.searchsorted(edges[1:-1], values, side="right").astype(np.int64)


@dataclass(frozen=True)
class LiveCounts:
    """Live histogram counts per evaluation interval: keys (K,), counts (K, F, B) int64."""

    keys: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    counts: I64 = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.int64))


def accumulate(
    live: LiveCounts, ref: KLReference, batch: Batch, keys: I64, ready: npt.NDArray[np.bool_]
) -> LiveCounts:
    """Add the batch's ready rows to the counts of their interval ``keys`` (shape (n,))."""
    nf, nb = len(ref.features), ref.n_bins
    if nf == 0 or batch.n == 0:
        return live
    all_keys = union_sorted(live.keys, sorted_unique(keys[ready]))
    counts = np.zeros((all_keys.size, nf, nb), dtype=np.int64)
    if live.keys.size:
        counts[np.searchsorted(all_keys, live.keys)] = live.counts
    row = _rows(all_keys, keys)
    for f, (name, edges) in enumerate(zip(ref.features, ref.edges, strict=True)):
        _count(counts, f, row, ready, batch[name].astype(np.float64, copy=False), edges[1:-1].copy())
    return LiveCounts(all_keys, counts)


@njit
def _rows(all_keys: I64, keys: I64) -> I64:
    """``np.searchsorted(all_keys, keys)`` for non-decreasing ``keys``: one forward sweep."""
    out = np.empty(keys.size, dtype=np.int64)
    j = 0
    for i in range(keys.size):
        while j < all_keys.size and all_keys[j] < keys[i]:
            j += 1
        out[i] = j
    return out


@njit
def _count(counts: I64, f: int, row: I64, ready: npt.NDArray[np.bool_], v: F64, inner: F64) -> None:
    """``counts[row, f, bin_index(v, edges)] += 1`` for the ready rows with a finite value (in place)."""
    for i in range(v.size):
        x = v[i]
        if not ready[i] or not np.isfinite(x):
            continue
        b = 0  # np.searchsorted(inner, x, side="right"): edges are few, a branch-free count is faster
        for e in inner:
            b += e <= x
        counts[row[i], f, b] += 1


def prune(live: LiveCounts, keep_from_key: int) -> LiveCounts:
    """Drop the intervals with ``key < keep_from_key``; keys are sorted (``accumulate`` builds them with
    ``union_sorted``), so the rest is a view: O(log K), not a copy per evaluation."""
    lo = int(np.searchsorted(live.keys, keep_from_key, side="left"))
    return LiveCounts(live.keys[lo:], live.counts[lo:]) if lo else live


def window_kl(
    live: LiveCounts, ref: KLReference, from_key: int, to_key: int, alpha: float, min_count: int
) -> float:
    """max over features of KL(live || reference) for the intervals ``from_key <= key < to_key``; NaN if none scored."""
    lo, hi = np.searchsorted(live.keys, (from_key, to_key), side="left").tolist()
    if hi <= lo:
        return float("nan")
    total = live.counts[lo:hi].sum(axis=0)  # (F, B); keys are sorted (union_sorted), so the window is a slice
    best = float("nan")
    for f, ref_counts in enumerate(ref.counts):
        c = total[f, : ref_counts.size].astype(np.float64)
        if c.sum() < min_count:
            continue
        kl = kl_to(c, ref.smoothed(f, alpha), alpha)
        if np.isnan(best) or kl > best:
            best = kl
    return best


def kl_divergence(live: npt.ArrayLike, ref: npt.ArrayLike, alpha: float) -> float:
    """KL(P || Q) in nats of two count vectors (B,) after additive smoothing ``alpha`` per bin."""
    r = np.asarray(ref, dtype=np.float64)
    return kl_to(np.asarray(live, dtype=np.float64), _smooth(r, alpha), alpha)


def _smooth(counts: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.float64]:
    return (counts + alpha) / (counts.sum() + alpha * counts.size)


def kl_to(c: npt.NDArray[np.float64], q: npt.NDArray[np.float64], alpha: float) -> float:
    """KL(P || Q) in nats of live counts ``c`` (B,) after smoothing ``alpha`` and probabilities ``q`` (B,)."""
    p = _smooth(c, alpha)
    nz = p > 0  # alpha = 0 allows empty live bins: 0 * log 0 = 0
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def reference_from_meta(meta: Any, features: tuple[str, ...]) -> KLReference | None:
    """The ``feature_histograms`` of a model artifact's metadata (``models.artifacts.ArtifactMeta``);
    None when it holds none."""
    hists = meta.params.get("feature_histograms") or meta.metrics.get("feature_histograms")
    return KLReference.from_histograms(hists, features) if hists else None
