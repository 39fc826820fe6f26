"""Run independent walk-forward folds in parallel worker processes, results in fold order.

A fold's training and replay read only the market, the config and the fold's own directory, so folds
may run at the same time. Workers are forked: they inherit the fold function (and the market it
closes over) instead of receiving a pickled copy, and send back only the fold's result dict. Each
fold's computation is the sequential one, so the results equal a sequential run's exactly (timings
aside); ``tests/integration/test_walkforward.py`` checks that.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from backtest.folds import Fold

_JOB: dict[int, tuple[Callable[[Fold], dict[str, Any]], Fold]] = {}
"""Fold index -> (fold function, fold), set in the parent just before the workers fork."""


def _run(k: int) -> dict[str, Any]:
    fn, fold = _JOB[k]
    return fn(fold)


def fold_results(
    run_fold: Callable[[Fold], dict[str, Any]], folds: list[Fold], workers: int
) -> Iterator[dict[str, Any]]:
    """Yield ``run_fold(fold)`` for each of ``folds``, in order, computed by up to ``workers`` processes.

    ``workers <= 1`` (or a single fold) runs in this process. Workers are forked (Linux, macOS): the
    caller must not hold threads that a child would need (the in-process engine holds none).
    """
    if workers <= 1 or len(folds) <= 1:
        for fold in folds:
            yield run_fold(fold)
        return
    if _JOB:
        raise RuntimeError("fold_results: a parallel walk-forward is already running in this process")
    _JOB.update({f.k: (run_fold, f) for f in folds})
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(folds)), mp_context=ctx) as ex:
            yield from ex.map(_run, [f.k for f in folds])
    finally:
        _JOB.clear()
