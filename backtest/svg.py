"""A tiny inline-SVG chart kit for the tearsheet (no plotting library, no JavaScript).

Charts are plain SVG strings: line/step series, shaded bands (fan charts, areas), horizontal reference
lines, vertical markers, bar charts and histograms. Times on the x axis are int ms UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")
MAX_POINTS = 1500
"""Series are thinned to at most this many points (the picture does not change, the page stays small)."""


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float, kind: str) -> str:
    if kind == "date":
        return datetime.fromtimestamp(v / 1000, tz=UTC).strftime("%m-%d %H:%M")
    if kind == "day":
        return datetime.fromtimestamp(v / 1000, tz=UTC).strftime("%Y-%m-%d")
    if kind == "pct":
        return f"{v * 100:.1f}%"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_POINTS:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, MAX_POINTS).astype(int))
    return x[idx], y[idx]


@dataclass
class Chart:
    """One SVG plot area; add layers, then :meth:`render`."""

    title: str
    width: int = 640
    height: int = 260
    xkind: str = "date"
    ykind: str = "num"
    ylim: tuple[float, float] | None = None
    yticks: bool = True
    layers: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    _xs: list[np.ndarray] = field(default_factory=list)
    _ys: list[np.ndarray] = field(default_factory=list)
    _ops: list[tuple] = field(default_factory=list)

    margin = (48, 34, 28, 72)  # top, right, bottom, left

    def line(
        self,
        x_: npt.ArrayLike,
        y_: npt.ArrayLike,
        label: str = "",
        color: str | None = None,
        width: float = 1.5,
        dash: str = "",
        step: bool = False,
        max_gap: float | None = None,
        dots: bool = False,
    ) -> Chart:
        """A polyline (``dots``: with a marker per point); NaNs and x gaps wider than ``max_gap`` break it."""
        x, y = np.asarray(x_, dtype=np.float64), np.asarray(y_, dtype=np.float64)
        if max_gap is not None and len(x) > 1:
            cut = np.flatnonzero(np.diff(x) > max_gap) + 1
            x, y = np.insert(x, cut, x[cut - 1]), np.insert(y, cut, np.nan)
        color = color or PALETTE[len(self.legend) % len(PALETTE)]
        self._add(x, y, ("line", x, y, color, width, dash, step, dots))
        if label:
            self.legend.append((label, color))
        return self

    def band(
        self,
        x_: npt.ArrayLike,
        lo_: npt.ArrayLike,
        hi_: npt.ArrayLike,
        color: str,
        opacity: float = 0.2,
        label: str = "",
    ) -> Chart:
        x, lo, hi = (np.asarray(v, dtype=np.float64) for v in (x_, lo_, hi_))
        self._add(np.r_[x, x], np.r_[lo, hi], ("band", x, lo, hi, color, opacity))
        if label:
            self.legend.append((label, color))
        return self

    def hline(self, y: float, label: str, color: str = "#d62728") -> Chart:
        self._add(np.zeros(0), np.array([y]), ("hline", y, label, color))
        return self

    def vline(self, x: float, label: str, color: str = "#d62728") -> Chart:
        self._add(np.array([x]), np.zeros(0), ("vline", x, label, color))
        return self

    def bars(self, x_: npt.ArrayLike, h_: npt.ArrayLike, w: float, color: str = PALETTE[0]) -> Chart:
        x, h = np.asarray(x_, dtype=np.float64), np.asarray(h_, dtype=np.float64)
        self._add(np.r_[x - w / 2, x + w / 2], np.r_[h, 0.0], ("bars", x, h, w, color))
        return self

    def rects(
        self,
        x0_: npt.ArrayLike,
        x1_: npt.ArrayLike,
        y0_: npt.ArrayLike,
        y1_: npt.ArrayLike,
        color: str,
        label: str = "",
        opacity: float = 1.0,
    ) -> Chart:
        """Filled rectangles in data coordinates (stacked columns, time spans)."""
        x0, x1, y0, y1 = (np.asarray(v, dtype=np.float64) for v in (x0_, x1_, y0_, y1_))
        self._add(np.r_[x0, x1], np.r_[y0, y1], ("rects", x0, x1, y0, y1, color, opacity))
        if label:
            self.legend.append((label, color))
        return self

    def stacked(
        self, x_: npt.ArrayLike, width: float, layers: Sequence[tuple[str, npt.ArrayLike, str]]
    ) -> Chart:
        """Stacked columns centred on ``x`` (``width`` in x units): ``layers`` of (label, heights, colour)."""
        x = np.asarray(x_, dtype=np.float64)
        base = np.zeros(len(x))
        for label, h_, color in layers:
            h = np.nan_to_num(np.asarray(h_, dtype=np.float64))
            self.rects(x - width / 2, x + width / 2, base, base + h, color, label)
            base = base + h
        return self

    def _add(self, x: np.ndarray, y: np.ndarray, op: tuple) -> None:
        self._xs.append(x[np.isfinite(x)])
        self._ys.append(y[np.isfinite(y)])
        self._ops.append(op)

    def _limits(self) -> tuple[float, float, float, float]:
        xs, ys = np.concatenate(self._xs or [np.zeros(1)]), np.concatenate(self._ys or [np.zeros(1)])
        x0, x1 = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
        y0, y1 = self.ylim or ((float(ys.min()), float(ys.max())) if len(ys) else (0.0, 1.0))
        if x1 <= x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 <= y0:
            y0, y1 = y0 - abs(y0) * 0.05 - 1e-9, y1 + abs(y1) * 0.05 + 1e-9
        pad = (y1 - y0) * 0.04 if self.ylim is None else 0.0
        return x0, x1, y0 - pad, y1 + pad

    def render(self) -> str:
        top, right, bottom, left = self.margin
        pw, ph = self.width - left - right, self.height - top - bottom
        x0, x1, y0, y1 = self._limits()

        def sx(v: np.ndarray | float) -> np.ndarray | float:
            return left + (np.asarray(v) - x0) / (x1 - x0) * pw

        def sy(v: np.ndarray | float) -> np.ndarray | float:
            return top + ph - (np.asarray(v) - y0) / (y1 - y0) * ph

        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(self.title)}">',
            f'<text x="{left}" y="18" class="ct">{escape(self.title)}</text>',
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>',
        ]
        for t in nice_ticks(y0, y1) if self.yticks else []:
            parts.append(
                f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eee"/>'
                f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end" class="tk">'
                f"{_fmt(t, self.ykind)}</text>"
            )
        xt = nice_ticks(x0, x1, 6) if self.xkind not in ("date", "day") else list(np.linspace(x0, x1, 6))
        for t in xt:
            parts.append(
                f'<text x="{sx(t):.1f}" y="{top + ph + 16}" text-anchor="middle" class="tk">'
                f"{_fmt(t, self.xkind)}</text>"
            )
        for op in self._ops:
            parts.append(self._draw(op, sx, sy, left, top, pw, ph))
        for i, (label, color) in enumerate(self.legend):
            lx = left + 8 + (i % 4) * (pw // 4)
            ly = 34 + (i // 4) * 12
            parts.append(
                f'<rect x="{lx}" y="{ly - 8}" width="10" height="8" fill="{color}"/>'
                f'<text x="{lx + 14}" y="{ly}" class="lg">{escape(label)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)

    @staticmethod
    def _draw(op: tuple, sx: Any, sy: Any, left: int, top: int, pw: int, ph: int) -> str:
        kind = op[0]
        if kind == "line":
            _, x, y, color, width, dash, step, dots = op
            x, y = _thin(x, y)
            ok = np.isfinite(x) & np.isfinite(y)
            starts = np.flatnonzero(ok & ~np.r_[False, ok[:-1]])
            ends = np.flatnonzero(ok & ~np.r_[ok[1:], False]) + 1
            d = f' stroke-dasharray="{dash}"' if dash else ""
            lines = []
            for a, b in zip(starts, ends, strict=True):  # one polyline per unbroken run
                xs, ys = x[a:b], y[a:b]
                if step and len(xs) > 1:
                    xs, ys = np.repeat(xs, 2)[1:], np.repeat(ys, 2)[:-1]
                pts = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(sx(xs), sy(ys), strict=True))
                lines.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="{width}"{d} points="{pts}"/>'
                )
            if dots:
                lines.extend(
                    f'<circle cx="{u:.1f}" cy="{v:.1f}" r="3" fill="{color}"/>'
                    for u, v in zip(sx(x[ok]), sy(y[ok]), strict=True)
                )
            return "".join(lines)
        if kind == "band":
            _, x, lo, hi, color, opacity = op
            ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
            x, lo, hi = x[ok], lo[ok], hi[ok]
            pts = " ".join(
                f"{a:.1f},{b:.1f}"
                for a, b in zip(np.r_[sx(x), sx(x[::-1])], np.r_[sy(hi), sy(lo[::-1])], strict=True)
            )
            return f'<polygon fill="{color}" fill-opacity="{opacity}" stroke="none" points="{pts}"/>'
        if kind == "hline":
            _, y, label, color = op
            return (
                f'<line x1="{left}" x2="{left + pw}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="{color}" '
                f'stroke-dasharray="5,3"/><text x="{left + pw - 4}" y="{sy(y) - 3:.1f}" text-anchor="end" '
                f'class="lg" fill="{color}">{escape(label)}</text>'
            )
        if kind == "vline":
            _, x, label, color = op
            return (
                f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" stroke="{color}" '
                f'stroke-width="2"/><text x="{sx(x) + 4:.1f}" y="{top + 12}" class="lg" fill="{color}">'
                f"{escape(label)}</text>"
            )
        if kind == "rects":
            _, x0, x1, y0, y1, color, opacity = op
            return "".join(
                f'<rect x="{sx(a):.1f}" y="{sy(d):.1f}" width="{max(sx(b) - sx(a), 0.5):.1f}" '
                f'height="{max(sy(c) - sy(d), 0.0):.1f}" fill="{color}" fill-opacity="{opacity}"/>'
                for a, b, c, d in zip(x0, x1, y0, y1, strict=True)
                if np.isfinite(a) and np.isfinite(b) and d > c
            )
        _, x, h, w, color = op
        base = sy(0.0)
        return "".join(
            f'<rect x="{sx(a - w / 2):.1f}" y="{min(sy(b), base):.1f}" '
            f'width="{max(sx(a + w / 2) - sx(a - w / 2) - 1, 1):.1f}" '
            f'height="{abs(base - sy(b)):.1f}" fill="{color}"/>'
            for a, b in zip(x, h, strict=True)
        )


def histogram(
    values: Sequence[float],
    title: str,
    markers: Sequence[tuple[float, str]] = (),
    bins: int = 30,
    xkind: str = "num",
    width: int = 640,
) -> str:
    """Histogram of the finite ``values`` with vertical ``(x, label)`` markers (e.g. the real result)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    marks = [(float(x), label) for x, label in markers if x is not None and math.isfinite(x)]
    chart = Chart(title, xkind=xkind, width=width)
    if len(v):
        lo = min([float(v.min()), *(x for x, _ in marks)])
        hi = max([float(v.max()), *(x for x, _ in marks)])
        counts, edges = np.histogram(v, bins=bins, range=(lo, hi if hi > lo else lo + 1e-9))
        chart.bars((edges[:-1] + edges[1:]) / 2, counts, float(edges[1] - edges[0]), color="#9fb8d8")
    for i, (x, label) in enumerate(marks):
        chart.vline(x, label, PALETTE[(1 + i) % len(PALETTE)])
    return chart.render()


def hbar_table(counts: dict[str, float], title: str, width: int = 640) -> str:
    """Horizontal bar chart of named counts (largest first)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    row, left = 22, 110
    height = 30 + row * max(len(items), 1)
    top = max((v for _, v in items), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="8" y="18" class="ct">{escape(title)}</text>',
    ]
    for i, (name, v) in enumerate(items):
        y = 28 + i * row
        w = (width - left - 90) * v / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="tk">{escape(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="{PALETTE[0]}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" class="tk">{v:,.0f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
