"""Walk-forward fold schedule: train / purge / test windows, sized from the label horizon.

Each fold ``k`` is four instants (int ms UTC, half-open windows)::

    [train_from, train_to)  purge gap  [test_from, test_to)      train_to = test_from - purge

Test windows lie on the calendar grid ``start + train + k × step`` (6M/1M from 2019-01-01: tests start
on the first of each month from July); the purge is cut from the end of the training window.

* **Purge** ≥ the label horizon: the longest time any training target looks ahead. The regime labels
  look ``labels.max_span_factor × labels.horizon`` minutes ahead (``RegimeLabelConfig.purge_ms``), the
  edge targets ``edge.horizon_min`` minutes; :func:`label_horizon_min` takes the larger. Training is
  done on the train window's bars only, so a training label can never use a test bar; the purge also
  keeps the *test* outcomes of the first test bars out of the span whose features trained the model.
* **Embargo**: after a test window, the time in which the test outcomes still overlap later labels.
  It matters only when some training window *follows* a test window (k-fold style schedules); in this
  forward-only schedule every training window ends before its test window starts, and
  :func:`check_schedule` verifies that no training window intersects ``[test_from − purge,
  test_to + embargo)`` of its own fold. Default embargo = the label horizon.
* Consecutive test windows never overlap (``step ≥ test``), so stitched out-of-sample results count
  each bar at most once. ``anchored=True`` grows the training window from ``start`` instead of rolling.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from streams.core.units import MINUTE_MS

if TYPE_CHECKING:
    from streams.config import HSLRConfig

_PERIOD = re.compile(r"^\s*(\d+)\s*(min|h|d|w|m|y)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold; all times int ms UTC, windows half-open."""

    k: int
    train_from: int
    train_to: int
    test_from: int
    test_to: int

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update({f"{key}_iso": _iso(v) for key, v in asdict(self).items() if key != "k"})
        return d


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def label_horizon_min(config: HSLRConfig) -> int:
    """Label horizon in minutes: max(regime label look-ahead, edge horizon) of an ``HSLRConfig``."""
    regime_min = config.regime.labels.purge_ms // MINUTE_MS
    return int(max(regime_min, config.edge.horizon_min))


def add_period(ms: int, period: str, sign: int = 1) -> int:
    """``ms`` plus (or minus, ``sign=-1``) a period such as ``6M``, ``1M``, ``2w``, ``10d``, ``4h``, ``90min``.

    Months and years are calendar months (``2020-01-31 + 1M`` clips to the month's last day).
    """
    m = _PERIOD.match(period)
    if not m:
        raise ValueError(f"not a period: {period!r} (e.g. 6M, 1M, 2W, 10D, 4H, 90MIN)")
    n, unit = int(m.group(1)) * sign, m.group(2).lower()
    if unit in ("min", "h", "d", "w"):
        return ms + n * MINUTE_MS * {"min": 1, "h": 60, "d": 1440, "w": 10080}[unit]
    months = n * (12 if unit == "y" else 1)
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    y, mo = divmod(dt.month - 1 + months, 12)
    year, month = dt.year + y, mo + 1
    for day in range(dt.day, 27, -1):  # clip to the month's end
        try:
            return int(dt.replace(year=year, month=month, day=day).timestamp() * 1000)
        except ValueError:
            continue
    return int(dt.replace(year=year, month=month).timestamp() * 1000)


def make_schedule(
    start: int,
    end: int,
    train: str,
    test: str,
    *,
    horizon_min: int,
    step: str | None = None,
    purge_min: int | None = None,
    embargo_min: int | None = None,
    anchored: bool = False,
) -> list[Fold]:
    """Folds covering ``[start, end)``: test windows sit on the calendar grid ``start + train + i × step``
    and span ``test``; each fold trains on ``[test_from − train, test_from − purge)`` (from ``start`` when
    ``anchored``), so the purge shortens the training window and never shifts a test window. Only
    complete test windows are kept; :func:`uncovered_tail` says what the schedule leaves out.

    Raises ``ValueError`` when ``purge_min < horizon_min``, ``step < test`` or no fold fits.
    """
    purge = horizon_min if purge_min is None else purge_min
    if purge < horizon_min:
        raise ValueError(f"purge {purge} min is shorter than the label horizon {horizon_min} min")
    step = step or test
    folds: list[Fold] = []
    first = add_period(start, train)
    i = 0
    while True:
        test_from = add_period(first, _times(step, i))
        test_to = add_period(test_from, test)
        if test_to > end:
            break
        train_from = start if anchored else add_period(test_from, train, -1)
        train_to = test_from - purge * MINUTE_MS
        if train_to <= train_from:
            raise ValueError(f"purge {purge} min leaves no training window of {train}")
        if folds and folds[-1].test_to > test_from:
            raise ValueError(
                f"step {step} is shorter than the test window {test}: test windows would overlap"
            )
        folds.append(Fold(len(folds), train_from, train_to, test_from, test_to))
        i += 1
    if not folds:
        raise ValueError(
            f"no complete fold fits in the period with train {train}, test {test}, purge {purge} min"
        )
    check_schedule(folds, horizon_min, purge, horizon_min if embargo_min is None else embargo_min)
    return folds


def _times(period: str, i: int) -> str:
    """``period`` multiplied by ``i`` (``"1M", 3 -> "3M"``), so fold starts do not drift."""
    m = _PERIOD.match(period)
    if not m:
        raise ValueError(f"not a period: {period!r} (e.g. 6M, 1M, 2W, 10D, 4H, 90MIN)")
    return f"{int(m.group(1)) * i}{m.group(2)}"


def uncovered_tail(folds: list[Fold], end: int) -> dict[str, Any] | None:
    """The end of the period that no test window covers (a partial test window that was dropped), or
    None when the last test window ends at ``end``."""
    last = folds[-1].test_to if folds else end
    if last >= end:
        return None
    return {
        "from": last,
        "to": end,
        "from_iso": _iso(last),
        "to_iso": _iso(end),
        "note": f"no fold tests {_iso(last)[:16]}..{_iso(end)[:16]}: a test window there would be incomplete",
    }


def check_schedule(folds: list[Fold], horizon_min: int, purge_min: int, embargo_min: int) -> None:
    """Raise ``AssertionError`` unless the schedule is leak-free (see the module docstring)."""
    h, p, e = horizon_min * MINUTE_MS, purge_min * MINUTE_MS, embargo_min * MINUTE_MS
    for f in folds:
        _require(f.train_from < f.train_to <= f.test_from < f.test_to, str(f))
        _require(f.test_from - f.train_to >= max(h, p), f"fold {f.k}: purge shorter than the horizon")
        # no training time inside [test_from - purge, test_to + embargo)
        _require(f.train_to <= f.test_from - p or f.train_from >= f.test_to + e, str(f))
    for a, b in zip(folds, folds[1:], strict=False):
        _require(a.test_to <= b.test_from, f"test windows of folds {a.k} and {b.k} overlap")


def _require(condition: bool, message: str) -> None:
    # An explicit raise, not ``assert``: the check must hold under ``python -O`` too.
    if not condition:
        raise AssertionError(message)
