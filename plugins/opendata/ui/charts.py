"""A dataset's two charts as inline SVG (no scripts, nothing loaded from elsewhere).

* :func:`rows_chart`: the rows each successful run extracted, over time (a line with a dot per
  run; each dot's tooltip names the run);
* :func:`punctuality_chart`: each successful refresh's counted days since the previous confirmed
  update, a bar per refresh, green when within the promise (``due_after``: the dashed line),
  red when late.

Every text (run ids: Airflow's, may be anything) is escaped; numbers are formatted here. The
page shows the same figures in its run table, so nothing is only in a chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from opendata.inventory.detail import PunctualityPoint, RowsPoint

WIDTH = 720
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 36
#: The charts show at most this many of the latest points.
MAX_POINTS = 400
ON_TIME = "#2e7d32"
LATE = "#c62828"
LINE = "#1565c0"


def _svg(test_id: str, title: str, body: str) -> Markup:
    return Markup(
        f'<svg data-testid="{escape(test_id)}" id="{escape(test_id)}" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _empty(test_id: str, title: str, message: str) -> Markup:
    return _svg(test_id, title, f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" '
                                f'font-size="13" fill="#666">{escape(message)}</text>')


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _day(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d")


def _axes(y_max: float, label: str, first: dt.datetime | None, last: dt.datetime | None) -> str:
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    parts = [f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#999"/>',
             f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_LEFT + plot_w}" y2="{_TOP + plot_h}" stroke="#999"/>']
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#444">'
                     f"{escape(_number(y_max * fraction))}</text>")
    parts.append(f'<text x="12" y="{_TOP + plot_h / 2:.1f}" font-size="11" fill="#444" '
                 f'transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(label)}</text>')
    if first is not None and last is not None:
        parts.append(f'<text x="{_LEFT}" y="{HEIGHT - 12}" font-size="11" fill="#444">{_day(first)}</text>')
        parts.append(f'<text x="{WIDTH - _RIGHT}" y="{HEIGHT - 12}" font-size="11" fill="#444" '
                     f'text-anchor="end">{_day(last)}</text>')
    return "".join(parts)


def rows_chart(points: Sequence[RowsPoint]) -> Markup:
    title = "Rows extracted by each successful run, over time"
    points = list(points)[-MAX_POINTS:]
    if not points:
        return _empty("chart-rows", title, "No successful run has recorded its rows yet")
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    first, last = points[0].at, points[-1].at
    span = (last - first).total_seconds() or 1.0
    y_max = max(p.rows for p in points) or 1
    coords = []
    for p in points:
        x = _LEFT + (plot_w * (p.at - first).total_seconds() / span if len(points) > 1 else plot_w / 2)
        y = _TOP + plot_h * (1 - p.rows / y_max)
        coords.append((x, y, p))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"><title>{escape(_day(p.at))}: '
                   f"{p.rows:,} rows (run {escape(p.run_id)})</title></circle>" for x, y, p in coords)
    body = _axes(y_max, "rows", first, last) + \
        f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="1.5"/>' + dots
    return _svg("chart-rows", title, body)


def punctuality_chart(points: Sequence[PunctualityPoint]) -> Markup:
    title = "Days between confirmed updates at each refresh, against the promise"
    points = list(points)[-MAX_POINTS:]
    if not points:
        return _empty("chart-punctuality", title, "No refresh to judge yet (a refresh follows an earlier update)")
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    due = next((p.due_days for p in points if p.due_days is not None), None)
    y_max = max([p.gap_days for p in points] + ([due * 1.25] if due else [])) or 1.0
    step = plot_w / len(points)
    bar = max(step * 0.7, 1.0)
    parts = [_axes(y_max, "days", points[0].at, points[-1].at)]
    for i, p in enumerate(points):
        height = plot_h * p.gap_days / y_max
        colour = LINE if p.on_time is None else ON_TIME if p.on_time else LATE
        verdict = "" if p.on_time is None else " (on time)" if p.on_time else " (late)"
        parts.append(f'<rect x="{_LEFT + i * step + (step - bar) / 2:.1f}" y="{_TOP + plot_h - height:.1f}" '
                     f'width="{bar:.1f}" height="{height:.1f}" fill="{colour}" '
                     f'data-on-time="{"" if p.on_time is None else str(p.on_time).lower()}">'
                     f"<title>{escape(_day(p.at))}: {p.gap_days:.1f} days{verdict} (run {escape(p.run_id)})</title>"
                     "</rect>")
    if due:
        y = _TOP + plot_h * (1 - due / y_max)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#555" '
                     f'stroke-dasharray="4 3"><title>promise: due after {due:g} days</title></line>')
    return _svg("chart-punctuality", title, "".join(parts))
