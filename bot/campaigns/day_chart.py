"""The uploads-per-day chart's geometry (stacked columns, one series per status) from
`uploads_per_day`, for the console's server-rendered SVG; the status colours the CLI's PNG uses."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.campaigns.stats import DAY_STATUSES, DayCounts
from flows.campaigns.rules import UploadStatus

RGB = {UploadStatus.PASSED: (46, 160, 67), UploadStatus.INVALID: (207, 34, 46),
       UploadStatus.PENDING: (212, 160, 23), UploadStatus.NOT_QUALIFIED: (130, 80, 223)}

LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40  # margins around the plot, in SVG units
MAX_COLUMN = 64  # a day's column is never wider (a short campaign's chart leaves space on the right)


@dataclass(frozen=True)
class Bar:
    """One status's part of one day's column."""

    x: float
    y: float
    width: float
    height: float
    day: str  # YYYY-MM-DD
    count: int


@dataclass(frozen=True)
class Series:
    status: UploadStatus
    colour: str  # #rrggbb
    bars: list[Bar]


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    plot_left: float
    plot_bottom: float
    plot_right: float
    peak: int
    series: list[Series]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_labels: list[tuple[float, str]]  # (x of the column's centre, MM-DD)
    totals: list[tuple[str, int]]  # (YYYY-MM-DD, 上傳發票數 that day)


def hex_colour(status: UploadStatus) -> str:
    return "#{:02x}{:02x}{:02x}".format(*RGB[status])


def day_chart(days: Sequence[DayCounts], width: int = 960, height: int = 280) -> DayChart:
    """Stacked columns scaled to the busiest day, at most MAX_COLUMN wide; a date label every few
    columns so they do not overlap; zero-height parts are left out."""
    count = max(1, len(days))
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    column = min(plot_w / count, MAX_COLUMN)
    gap = min(4.0, column * 0.2)
    peak = max((d.total for d in days), default=0)
    scale = plot_h / peak if peak else 0.0
    bottom = TOP + plot_h
    series = []
    for index, status in enumerate(DAY_STATUSES):
        bars = []
        for n, day in enumerate(days):
            value = day.counts[index]
            if not value:
                continue
            below = sum(day.counts[:index])
            h = value * scale
            bars.append(Bar(round(LEFT + n * column + gap / 2, 2), round(bottom - (below * scale) - h, 2),
                            round(column - gap, 2), round(h, 2), day.day.isoformat(), value))
        series.append(Series(status, hex_colour(status), bars))
    ticks = sorted({round(peak * step / 4) for step in range(5)}) if peak else [0]
    y_ticks = [(round(bottom - v * scale, 2), v) for v in ticks]
    every = max(1, math.ceil(48 / column))  # labels at least 48 units apart
    x_labels = [(round(LEFT + n * column + column / 2, 2), d.day.strftime("%m-%d"))
                for n, d in enumerate(days) if n % every == 0]
    return DayChart(width, height, LEFT, bottom, width - RIGHT, peak, series, y_ticks, x_labels,
                    [(d.day.isoformat(), d.total) for d in days])
