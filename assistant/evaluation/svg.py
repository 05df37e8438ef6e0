"""Small inline-SVG charts for the HTML report: axes, lines, points and bars, no libraries.

Every chart takes named series, so a comparison draws the old and the new run on the same axes.
Text is escaped; numbers are placed in a fixed viewBox so the page scales without scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 420, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 30, 46
#: one colour per run: the newer run last, so "new" keeps the strong colour in comparisons
COLOURS = ("#9aa5b1", "#1f6feb")
Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[Point]


@dataclass(frozen=True, slots=True)
class Axes:
    """Maps data coordinates into the plot area of the viewBox."""

    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (value / self.x_max if self.x_max else 0.0)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (value / self.y_max if self.y_max else 0.0)


def _line(x1: float, y1: float, x2: float, y2: float, css_class: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{css_class}"/>'


def _frame(
    axes: Axes, x_label: str, y_label: str, x_ticks: Sequence[float], y_ticks: Sequence[float]
) -> list[str]:
    parts = [
        _line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, "axis"),
        _line(LEFT, TOP, LEFT, HEIGHT - BOTTOM, "axis"),
    ]
    for tick in x_ticks:
        x = axes.x(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" class="tick" text-anchor="middle">{tick:g}</text>'
        )
    for tick in y_ticks:
        y = axes.y(tick)
        parts.append(_line(LEFT, y, WIDTH - RIGHT, y, "grid"))
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick:g}</text>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" class="label" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" class="label" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">{escape(y_label)}</text>'
    )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts = []
    for i, one in enumerate(series):
        x = LEFT + 8 + i * 150
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{_colour(i, len(series))}"/>')
        parts.append(f'<text x="{x + 14}" y="15" class="tick">{escape(one.label)}</text>')
    return parts


def _colour(index: int, count: int) -> str:
    """A single run gets the strong colour; in a comparison the old run is grey."""
    return COLOURS[-1] if count == 1 else COLOURS[index % len(COLOURS)]


def _svg(title: str, parts: Sequence[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )


def _ticks(top: float, count: int = 5) -> list[float]:
    return [round(top * i / count, 3) for i in range(count + 1)]


def line_chart(
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    x_max: float = 1.0,
    y_max: float = 1.0,
    diagonal: bool = False,
    markers: bool = False,
) -> str:
    """Lines (optionally with dots) on shared axes; `diagonal` draws y = x, perfect calibration."""
    axes = Axes(x_max, y_max)
    parts = _frame(axes, x_label, y_label, _ticks(x_max), _ticks(y_max))
    if diagonal:
        parts.append(_line(axes.x(0), axes.y(0), axes.x(x_max), axes.y(y_max), "ideal"))
    for i, one in enumerate(series):
        colour = _colour(i, len(series))
        coords = " ".join(f"{axes.x(x):.1f},{axes.y(y):.1f}" for x, y in one.points)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2" class="series"/>'
        )
        if markers:
            parts.extend(
                f'<circle cx="{axes.x(x):.1f}" cy="{axes.y(y):.1f}" r="3.5" fill="{colour}"/>'
                for x, y in one.points
            )
    return _svg(title, [*parts, *_legend(series)])


def bar_chart(
    title: str, categories: Sequence[str], series: Sequence[Series], y_label: str, y_max: float = 1.0
) -> str:
    """Grouped vertical bars: one group per category, one bar per series (x of a point = group index)."""
    axes = Axes(float(len(categories)), y_max)
    parts = _frame(axes, "", y_label, [], _ticks(y_max))
    group = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar = group * 0.7 / max(len(series), 1)
    for index, name in enumerate(categories):
        x = LEFT + group * (index + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" class="tick" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
    for i, one in enumerate(series):
        colour = _colour(i, len(series))
        for position, value in one.points:
            x = LEFT + group * (position + 0.15) + bar * i
            top = axes.y(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{HEIGHT - BOTTOM - top:.1f}" '
                f'fill="{colour}" class="bar"><title>{escape(one.label)}: {value:.3f}</title></rect>'
            )
    return _svg(title, [*parts, *_legend(series)])
