"""Inline SVG charts for the HTML report, drawn in Python so the page needs no library."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Point:
    label: str
    cost_usd: float
    success_pct: float
    runs: int
    color: str


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """The configurations no other beats on both cost (lower) and success (higher)."""
    front: list[Point] = []
    for point in sorted(points, key=lambda p: (p.cost_usd, -p.success_pct)):
        if not front or point.success_pct > front[-1].success_pct:
            front.append(point)
    return front


def scatter_svg(points: Sequence[Point], title: str, money: Callable[[float], str]) -> str:
    """Success % against average cost per run, one point per configuration, Pareto front dashed."""
    width, height, left, right, top, bottom = 480, 330, 58, 28, 30, 50
    x_max = _nice_ceiling(max((p.cost_usd for p in points), default=0.0))

    def x(cost: float) -> float:
        return left + (width - left - right) * cost / x_max

    def y(pct: float) -> float:
        return top + (height - top - bottom) * (1 - pct / 100)

    parts = [_open_svg(width, height, "scatter", title)]
    parts.append(
        f'<text x="{width / 2}" y="16" text-anchor="middle" {_FONT}>{escape(title)}</text>'
    )
    for i in range(5):
        pct = 25.0 * i
        parts.append(_grid_line(left, width - right, y(pct), f"{pct:.0f}%"))
        cost = x_max * i / 4
        parts.append(
            f'<text x="{x(cost):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f"{_FONT}>{escape(money(cost))}</text>"
        )
    parts.append(_axes(left, top, width - right, height - bottom))
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle" '
        f"{_FONT}>average cost per run (USD)</text>"
    )
    parts.append(
        f'<text x="14" y="{(top + height - bottom) / 2}" text-anchor="middle" {_FONT} '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2})">success rate</text>'
    )
    front = pareto_front(points)
    if len(front) > 1:
        path = " ".join(f"{x(p.cost_usd):.1f},{y(p.success_pct):.1f}" for p in front)
        parts.append(
            f'<polyline class="pareto" points="{path}" fill="none" stroke="#888" '
            'stroke-dasharray="4 3"/>'
        )
    labels = place_labels(
        [(x(p.cost_usd), y(p.success_pct), p.label) for p in points], (left, top, width - right)
    )
    for point, (lx, ly, anchor) in zip(points, labels, strict=True):
        cx, cy = x(point.cost_usd), y(point.success_pct)
        on_front = " front" if point in front else ""
        tip = (
            f"{point.label}: {point.success_pct:.1f}% success, {money(point.cost_usd)}/run "
            f"(n={point.runs})"
        )
        parts.append(
            f'<circle class="point{on_front}" data-config="{escape(point.label)}" '
            f'cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{point.color}" stroke="#222" '
            f'stroke-width="{1.5 if on_front else 0.5}"><title>{escape(tip)}</title></circle>'
        )
        if abs(ly - (cy - 8)) > 1 or abs(lx - cx) > 10:  # moved away: a leader to its point
            parts.append(
                f'<line class="leader" x1="{cx:.1f}" y1="{cy:.1f}" x2="{lx:.1f}" '
                f'y2="{ly - 4:.1f}" stroke="#999" stroke-width="0.6"/>'
            )
        parts.append(
            f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" {_FONT}>'
            f"{escape(point.label)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


_CHAR_W, _LINE_H = 6.6, 13.0
"""A generous width of one character and the height of one line at font-size 11."""


def place_labels(
    points: Sequence[tuple[float, float, str]], bounds: tuple[float, float, float]
) -> list[tuple[float, float, str]]:
    """(x, y, text-anchor) for each point's label such that no two labels overlap.

    Each label tries the spots beside its point (above right, above left, below right, below
    left), then the same further up and down in steps of one line; points that sit together
    (all at 0%, say) get their labels stacked. `bounds`: left, top and right edge of the plot.
    """
    left, top, right = bounds
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float, str]] = []
    for cx, cy, text in points:
        width = _CHAR_W * len(text)
        choice = None
        for lift in range(12):
            for dy in (-8 - _LINE_H * lift, 14 + _LINE_H * lift):
                for anchor in ("start", "end"):
                    x0 = cx + 9 if anchor == "start" else cx - 9 - width
                    box = (x0, cy + dy - 10, x0 + width, cy + dy + 3)
                    inside = box[0] >= left - 50 and box[2] <= right + 20 and box[1] >= top - 20
                    if inside and not any(_overlap(box, other) for other in placed):
                        choice = (box, cx + 9 if anchor == "start" else cx - 9, cy + dy, anchor)
                        break
                if choice:
                    break
            if choice:
                break
        if choice is None:  # nowhere free: below the lowest label
            lowest = max((b[3] for b in placed), default=cy)
            box = (cx + 9, lowest + 1, cx + 9 + width, lowest + 1 + _LINE_H)
            choice = (box, cx + 9, lowest + 11, "start")
        placed.append(choice[0])
        out.append((choice[1], choice[2], choice[3]))
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(frozen=True)
class ScorePoint:
    step: int
    value: float | None
    best: bool = False


def score_steps_svg(
    scores: Sequence[ScorePoint], baseline: float | None, steps: int, metric: str
) -> str:
    """A small chart of the score after each scored step: the line joins valid scores, the
    best is a larger dot, an invalid score is a red cross at the bottom; dashed: the baseline."""
    width, height, left, right, top, bottom = 300, 110, 46, 10, 10, 24
    values = [s.value for s in scores if s.value is not None]
    values += [] if baseline is None else [baseline]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-12:
        low, high = low - 0.5 * abs(low or 1), high + 0.5 * abs(high or 1)
    last = max([steps, 1, *(s.step for s in scores)])

    def x(step: float) -> float:
        return left + (width - left - right) * step / last

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - (value - low) / (high - low))

    parts = [_open_svg(width, height, "scores", f"{metric} after each scored step")]
    parts.append(_grid_line(left, width - right, y(high), f"{high:.3g}"))
    parts.append(_grid_line(left, width - right, y(low), f"{low:.3g}"))
    parts.append(_axes(left, top, width - right, height - bottom))
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle" '
        f"{_FONT}>step (of {steps})</text>"
    )
    if baseline is not None:
        parts.append(
            f'<line class="baseline" x1="{left}" y1="{y(baseline):.1f}" x2="{width - right}" '
            f'y2="{y(baseline):.1f}" stroke="#888" stroke-dasharray="4 3">'
            f"<title>baseline {baseline:.6g}</title></line>"
        )
    valid = [s for s in scores if s.value is not None]
    if len(valid) > 1:
        line = " ".join(f"{x(s.step):.1f},{y(s.value or 0):.1f}" for s in valid)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{PALETTE[0]}"/>')
    for score in scores:
        if score.value is None:
            cx, cy = x(score.step), height - bottom - 4
            parts.append(
                f'<path class="invalid" d="M{cx - 3:.1f},{cy - 3:.1f}l6,6m0,-6l-6,6" '
                f'stroke="#b3261e" stroke-width="1.5"><title>step {score.step}: invalid'
                "</title></path>"
            )
            continue
        css = "score best" if score.best else "score"
        parts.append(
            f'<circle class="{css}" cx="{x(score.step):.1f}" cy="{y(score.value):.1f}" '
            f'r="{4.5 if score.best else 2.5}" fill="{PALETTE[1] if score.best else PALETTE[0]}">'
            f"<title>step {score.step}: {metric} {score.value:.6g}</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def bars_svg(
    tasks: Sequence[str],
    configs: Sequence[str],
    success: Callable[[str, str], tuple[float, int] | None],
    colors: Sequence[str],
) -> str:
    """Grouped bars: success % per task, one bar per configuration (none where no runs)."""
    gap, left, right, top, bottom, height = 22, 48, 16, 20, 56, 300
    group = max(16 * len(configs) + gap, (480 - left - right) / max(1, len(tasks)))
    bar = min(32, (group - gap) / max(1, len(configs)))
    width = left + right + group * len(tasks)
    inner = height - top - bottom

    def y(pct: float) -> float:
        return top + inner * (1 - pct / 100)

    parts = [_open_svg(width, height, "bars", "success rate per task and configuration")]
    for i in range(5):
        pct = 25.0 * i
        parts.append(_grid_line(left, width - right, y(pct), f"{pct:.0f}%"))
    parts.append(_axes(left, top, width - right, height - bottom))
    for t, task in enumerate(tasks):
        x0 = left + (group - bar * len(configs)) / 2 + t * group
        for c, config in enumerate(configs):
            value = success(task, config)
            if value is None:
                continue
            pct, runs = value
            top_y = min(y(pct), height - bottom - 1)  # a 0% bar stays visible as a line
            parts.append(
                f'<rect class="bar" data-task="{escape(task)}" data-config="{escape(config)}" '
                f'x="{x0 + c * bar:.1f}" y="{top_y:.1f}" width="{bar - 2:.1f}" '
                f'height="{height - bottom - top_y:.1f}" fill="{colors[c]}">'
                f"<title>{escape(task)} · {escape(config)}: {pct:.1f}% (n={runs})</title></rect>"
            )
        label = task if len(task) * 6.5 < group else task[: max(3, int(group / 6.5) - 1)] + "…"
        parts.append(
            f'<text x="{x0 + bar * len(configs) / 2:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" {_FONT}>{escape(label)}<title>{escape(task)}</title></text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _open_svg(width: float, height: float, kind: str, label: str) -> str:
    return (
        f'<svg class="{kind}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">'
    )


def _axes(x0: float, y0: float, x1: float, y1: float) -> str:
    return (
        f'<polyline points="{x0},{y0} {x0},{y1} {x1},{y1}" fill="none" stroke="#444" '
        'stroke-width="1"/>'
    )


def _grid_line(x0: float, x1: float, y: float, label: str) -> str:
    return (
        f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(label)}</text>'
    )


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (1 when there is no cost)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * 1.0000001:
            return float(step * power)
    return float(10 * power)
