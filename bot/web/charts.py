"""The editor's two charts, drawn on the server as SVG: readable without JavaScript, no library.

    alerts_chart     papers a draft would have sent per stored day (bars), its max_per_digest
                     cap as a dashed line; the title names min_score
    scores_chart     how the draft scores the recent papers (a histogram of scores 0..1 in
                     twentieths), its min_score as a vertical line: what lies right of it is sent

Each SVG has role="img", a <title> and a <desc> (what a screen reader says), labelled axes with
units, and only presentation attributes (no style attribute: the CSP allows no inline style).
Every text in it goes through Jinja2's autoescape, in templates/charts.svg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from jinja2 import Environment
from markupsafe import Markup

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 44  # the plot area's margins
BINS = 20


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the tooltip (<title>): "2026-07-31: 3 papers"


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    x_label: str
    y_label: str
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    line: tuple[float, float, float, float] | None  # x1, y1, x2, y2 of the marker line
    line_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM


def alerts_chart(
    env: Environment, days: Sequence[tuple[date, int]], min_score: float, cap: int
) -> Markup:
    """Bars: papers sent per stored day at `min_score`; a dashed line at `cap` when in view."""
    top = max([n for _, n in days] + [1])
    top = max(top, min(cap, top * 2))  # the cap shows when it is near the bars
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)
    bars = []
    x_ticks = []
    for i, (day, n) in enumerate(days):
        h = plot_h * n / top
        x = LEFT + i * step
        bars.append(
            Bar(
                x + step * 0.15, TOP + plot_h - h, step * 0.7, h, f"{day.isoformat()}: {n} paper(s)"
            )
        )
        x_ticks.append(Tick(x + step / 2, day.strftime("%m-%d")))
    line = None
    if cap <= top:
        y = TOP + plot_h - plot_h * cap / top
        line = (float(LEFT), y, float(LEFT + plot_w), y)
    total = sum(n for _, n in days)
    chart = Chart(
        id="alerts-chart",
        title=f"Alerts per day at min_score {min_score:g}",
        desc=(
            f"{total} paper(s) over {len(days)} stored day(s): "
            + ", ".join(f"{d.isoformat()} {n}" for d, n in days)
        )
        if days
        else "No stored days to draw.",
        x_label="digest day (month-day)",
        y_label="papers sent",
        bars=tuple(bars),
        x_ticks=tuple(x_ticks),
        y_ticks=_y_ticks(top, plot_h),
        line=line,
        line_label=f"max_per_digest {cap}" if line else "",
    )
    return _render(env, chart)


def scores_chart(env: Environment, scores: Sequence[float], min_score: float) -> Markup:
    """A histogram of `scores` (0..1, twentieths) with a vertical line at `min_score`."""
    counts = [0] * BINS
    for s in scores:
        counts[min(max(int(s * BINS), 0), BINS - 1)] += 1
    top = max([*counts, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / BINS
    bars = tuple(
        Bar(
            LEFT + i * step + 1,
            TOP + plot_h - plot_h * n / top,
            step - 2,
            plot_h * n / top,
            f"score {i / BINS:.2f}-{(i + 1) / BINS:.2f}: {n} paper(s)",
        )
        for i, n in enumerate(counts)
    )
    x = LEFT + plot_w * min(max(min_score, 0.0), 1.0)
    above = sum(s >= min_score for s in scores)
    chart = Chart(
        id="scores-chart",
        title="Scores of the recent papers for this draft",
        desc=(
            f"{len(scores)} paper(s) scored; {above} at or above min_score {min_score:g}. "
            "Per score band: " + ", ".join(f"{i / BINS:.2f} {n}" for i, n in enumerate(counts))
        ),
        x_label="score (a percentile among recent papers, 0 to 1)",
        y_label="papers",
        bars=bars,
        x_ticks=tuple(Tick(LEFT + plot_w * k / 4, f"{k / 4:g}") for k in range(5)),
        y_ticks=_y_ticks(top, plot_h),
        line=(x, float(TOP), x, float(TOP + plot_h)),
        line_label=f"min_score {min_score:g}",
    )
    return _render(env, chart)


def _y_ticks(top: int, plot_h: int) -> tuple[Tick, ...]:
    step = max(1, -(-top // 4))  # at most ~5 whole-number ticks
    return tuple(Tick(TOP + plot_h - plot_h * v / top, str(v)) for v in range(0, top + 1, step))


def _render(env: Environment, chart: Chart) -> Markup:
    return Markup(env.get_template("chart.svg").render(chart=chart))
