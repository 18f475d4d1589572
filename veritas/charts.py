"""One chart component for every app: server-rendered SVG, no script (CSP-clean).

A :class:`Chart` draws time series (hourly, daily, weekly buckets…) or categories as stacked
bars or as lines, with a y axis of "nice" ticks (1, 2 or 5 times a power of ten), an x axis
whose time ticks suit the span ("Mon 14:00", "Tue 17 Nov", "Jan 2027", "Feb"…), a legend, a
``<title>``/``<desc>`` for assistive technology, a visually hidden data table, a native
tooltip per bucket and an empty state. Every text passes through Django's auto-escaping;
colours must be ``#hex`` or a CSS colour name. Usage::

    from veritas.charts import Chart, Series

    chart = Chart(
        title="Logs per hour by level (UTC)",
        x=[bucket["hour"] for bucket in hourly],  # ascending datetimes (a time axis) or strings
        step=timedelta(hours=1),  # the width of one time bucket (time axes only)
        series=[Series("error", [b["error"] for b in hourly], "#ef5350"), ...],
        kind="bars",  # stacked bars (values >= 0), or "lines" (None leaves a gap)
        value_label="logs",  # what a value counts: the summary says "1,234 logs in total"
    )
    context["chart"] = chart  # in a template: {{ chart }}; in Python: chart.render()

A score trend uses ``kind="lines", y_range=(0, 100)``; a distribution uses string categories as
``x``. Days (a ``DateField``'s dates) are a time axis too: each is drawn from its midnight, one
day wide unless ``step`` says otherwise (a week's start date: ``step=timedelta(weeks=1)``).
Buckets of a day or more are named under their middles when every tick starts one ("Tue 17
Nov" under that day's bar); shorter ones are moments, ticked at their starts ("14:00").
Times are labelled in the datetimes' own time zone (monitoring's are UTC: say so in the
title). The chart brings its stylesheet (``veritas/chart.css``, axis colours from the admin's
theme variables, so dark mode works); give two charts on one page distinct ``id`` values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Literal

from django.template.loader import render_to_string
from django.utils import dateformat
from django.utils.safestring import SafeString
from django.utils.text import slugify

from veritas.formats import MISSING, NBSP, number

COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]+")
CHAR_WIDTH = 6.6  # an 11px sans-serif character, roughly, in SVG units
LABEL_GAP = 16  # at least this much space between two x labels
MARKERS_UP_TO = 60  # line charts with more points draw no point markers (and no per-point tooltip)
# Around the plot: the left margin is the widest y label's.
MARGIN_TOP, MARGIN_RIGHT, MARGIN_BOTTOM = 10, 12, 26

# Candidate time ticks, finest first: (unit, how many units, approximate length).
TIME_STEPS = [
    ("hour", 1, timedelta(hours=1)),
    ("hour", 2, timedelta(hours=2)),
    ("hour", 3, timedelta(hours=3)),
    ("hour", 6, timedelta(hours=6)),
    ("hour", 12, timedelta(hours=12)),
    ("day", 1, timedelta(days=1)),
    ("day", 2, timedelta(days=2)),
    ("week", 1, timedelta(weeks=1)),
    ("week", 2, timedelta(weeks=2)),
    ("month", 1, timedelta(days=28)),
    ("month", 3, timedelta(days=90)),
    ("month", 6, timedelta(days=181)),
    ("year", 1, timedelta(days=365)),
]


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    colour: str

    def __post_init__(self):
        # The colour lands in style and fill attributes: only plain colours, never CSS.
        if not COLOUR.fullmatch(self.colour):
            raise ValueError(f"series {self.label!r}: colour {self.colour!r} is not #hex or a colour name")


def nice_ticks(low: float, high: float, *, max_intervals: int = 5, integer: bool = False) -> list[float]:
    """Evenly spaced ticks covering [low, high], at most ``max_intervals`` apart, with a step of
    1, 2 or 5 times a power of ten (at least 1 when ``integer``): ``nice_ticks(0, 120)`` → 0, 20, …, 120."""
    low, high = min(low, high), max(low, high)
    if high == low:
        high = low + 1  # a flat series still gets a scale
    exponent = math.floor(math.log10((high - low) / max_intervals))
    while True:
        for multiple in (1, 2, 5):
            step = multiple * 10.0**exponent
            if integer and step < 1:
                continue
            # The epsilon absorbs float noise (0.30000000000000004 / 0.1 is not above 3).
            first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
            if last - first <= max_intervals:
                decimals = max(0, -exponent)
                return [round(k * step, decimals) if decimals else round(k * step) for k in range(first, last + 1)]
        exponent += 1


def _step_decimals(ticks: list[float]) -> int:
    if len(ticks) < 2:
        return 0
    return max(0, -math.floor(math.log10(abs(ticks[1] - ticks[0])) + 1e-9))


def _first_at_or_after(start: datetime, unit: str, count: int) -> datetime:
    """The first boundary of ``count`` ``unit``\\s at or after ``start`` (hours aligned on the
    day, days on the calendar, weeks on Mondays, months on January)."""
    moment = start.replace(minute=0, second=0, microsecond=0)
    if unit != "hour":
        moment = moment.replace(hour=0)
    if unit in ("month", "year"):
        moment = moment.replace(day=1)
    if unit == "year":
        moment = moment.replace(month=1)
    # Weeks are searched day by day: a week from a Tuesday is a Tuesday, never a Monday.
    search = "day" if unit == "week" else unit
    while moment < start or not _aligned(moment, unit, count):
        moment = _advance(moment, search, 1)
    return moment


def _aligned(moment: datetime, unit: str, count: int) -> bool:
    match unit:
        case "hour":
            return moment.hour % count == 0
        case "day":
            return moment.toordinal() % count == 0
        case "week":
            return moment.weekday() == 0 and (moment.toordinal() // 7) % count == 0
        case "month":
            return (moment.month - 1) % count == 0
    return True


def _advance(moment: datetime, unit: str, count: int) -> datetime:
    match unit:
        case "hour":
            return moment + timedelta(hours=count)
        case "day":
            return moment + timedelta(days=count)
        case "week":
            return moment + timedelta(weeks=count)
        case "month":
            months = moment.month - 1 + count
            return moment.replace(year=moment.year + months // 12, month=months % 12 + 1)
    return moment.replace(year=moment.year + count)


def time_ticks(
    start: datetime, end: datetime, *, width: float, min_step: timedelta = timedelta(0)
) -> list[tuple[datetime, str]]:
    """Labelled ticks in [start, end] for a time axis ``width`` units wide: the finest of
    TIME_STEPS, no finer than ``min_step`` (a bucket), whose labels fit side by side."""
    span = end - start
    for unit, count, length in TIME_STEPS:
        if length < min_step or span / length > width / LABEL_GAP:
            continue  # finer than the data, or far too many ticks
        tick_format = _tick_format(unit, start, end)
        ticks, moment = [], _first_at_or_after(start, unit, count)
        while moment <= end:
            # Months name their year on the first tick and where a year starts; dates too
            # when the axis crosses a year.
            named = unit == "month" or (unit in ("day", "week") and start.year != end.year)
            new_year = named and (not ticks or ticks[-1][0].year != moment.year)
            ticks.append((moment, dateformat.format(moment, tick_format + (" Y" if new_year else ""))))
            moment = _advance(moment, unit, count)
        widest = max((len(label) for _, label in ticks), default=0)
        if len(ticks) * (widest * CHAR_WIDTH + LABEL_GAP) <= width:
            return ticks
    return [(start, dateformat.format(start, "Y"))]  # a span of centuries: one tick will do


def _tick_format(unit: str, start: datetime, end: datetime) -> str:
    if unit == "hour":
        # A weekday repeats after a week: past six days, name the date.
        return "D H:i" if end - start <= timedelta(days=6) else "j M H:i"
    if unit == "day":
        return "D j M"
    if unit == "week":
        return "j M"
    return "M" if unit == "month" else "Y"


def _full_format(step: timedelta) -> str:
    """How one bucket is named in tooltips and the data table."""
    if step < timedelta(days=1):
        return "D j M Y H:i"
    return "D j M Y" if step < timedelta(days=28) else "M Y"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class Chart:
    title: str
    x: Sequence[datetime] | Sequence[date] | Sequence[str]
    series: Sequence[Series]
    kind: Literal["bars", "lines"] = "bars"
    step: timedelta | None = None
    value_label: str = ""
    unit: str = ""
    y_range: tuple[float, float] | None = None
    decimals: int | None = None  # of values in tooltips and the table; default: 0 for whole numbers, else 1
    empty: str = "No data."
    id: str = ""
    width: int = 720
    height: int = 220
    max_y_intervals: int = 5

    def __post_init__(self):
        if self.kind not in ("bars", "lines"):
            raise ValueError(f"kind must be 'bars' or 'lines', not {self.kind!r}")
        for series in self.series:
            if len(series.values) != len(self.x):
                raise ValueError(f"series {series.label!r} has {len(series.values)} values for {len(self.x)} x")
        if self.x and isinstance(self.x[0], date) and not isinstance(self.x[0], datetime):
            # Days: drawn from their midnights (naive: a date has no time zone), a day wide by default.
            self.x = [datetime.combine(day, time()) for day in self.x]
            self.step = self.step or timedelta(days=1)
        self.is_time = bool(self.x) and isinstance(self.x[0], datetime)
        if self.is_time:
            if self.step is None or self.step <= timedelta(0):
                raise ValueError("a time axis needs the bucket width: step=timedelta(...)")
            if any(b <= a for a, b in pairwise(self.x)):
                raise ValueError("time x values must be strictly ascending")
        if self.kind == "bars" and any(v is not None and v < 0 for s in self.series for v in s.values):
            raise ValueError("stacked bars need values >= 0")
        self.id = self.id or f"chart-{slugify(self.title) or 'untitled'}"

    # --- public --------------------------------------------------------------------------

    def render(self) -> SafeString:
        return render_to_string("veritas/chart.html", {"chart": self.context()})

    def __html__(self) -> str:
        return self.render()

    __str__ = __html__

    @property
    def is_empty(self) -> bool:
        return not self.x or all(v is None for s in self.series for v in s.values)

    def totals(self) -> list[float]:
        """Per x: the stacked total (bars) or the sum of the series' values."""
        return [sum(s.values[i] or 0 for s in self.series) for i in range(len(self.x))]

    def label_of(self, index: int) -> str:
        """The full name of one x (tooltips, table, summary)."""
        value = self.x[index]
        return dateformat.format(value, _full_format(self.step)) if self.is_time else str(value)

    def value_text(self, value: float | None) -> str:
        if value is None:
            return MISSING
        text = number(value, self._value_decimals())
        return f"{text}{NBSP}{self.unit}" if self.unit else text

    def summary(self) -> str:
        """Plain sentences for the SVG's <desc>: the range and what the data says."""
        if self.is_empty:
            return self.empty
        parts = []
        if self.is_time:
            parts.append(f"From {self.label_of(0)} to {self.label_of(len(self.x) - 1)}.")
        else:
            parts.append(f"{len(self.x)} categories, {self.label_of(0)} to {self.label_of(len(self.x) - 1)}.")
        counted = f" {self.value_label}" if self.value_label else ""
        if self.kind == "bars":
            totals = self.totals()
            peak = max(range(len(totals)), key=totals.__getitem__)
            per_series = ", ".join(f"{s.label} {self.value_text(sum(v or 0 for v in s.values))}" for s in self.series)
            parts.append(f"{self.value_text(sum(totals))}{counted} in total: {per_series}.")
            parts.append(f"Highest: {self.value_text(totals[peak])} at {self.label_of(peak)}.")
        else:
            for s in self.series:
                known = [(i, v) for i, v in enumerate(s.values) if v is not None]
                if not known:
                    parts.append(f"{s.label}: no values.")
                    continue
                values = [v for _, v in known]
                last_index, last = known[-1]
                parts.append(
                    f"{s.label}: from {self.value_text(min(values))} to {self.value_text(max(values))}, "
                    f"last {self.value_text(last)} at {self.label_of(last_index)}."
                )
        return " ".join(parts)

    # --- layout --------------------------------------------------------------------------

    @cached_property
    def _whole(self) -> bool:
        """Every value a whole number (counts)? Read once: every label asks."""
        return all(v is None or float(v).is_integer() for s in self.series for v in s.values)

    def _value_decimals(self) -> int:
        if self.decimals is not None:
            return self.decimals
        return 0 if self._whole else 1

    def _y_ticks(self) -> tuple[list[float], float, float]:
        if self.y_range is not None:
            low, high = self.y_range
            ticks = [t for t in nice_ticks(low, high, max_intervals=self.max_y_intervals) if low <= t <= high]
            return ticks, low, high
        values = self.totals() if self.kind == "bars" else [v for s in self.series for v in s.values if v is not None]
        # Whole numbers (counts) get whole ticks: no "0.5 logs".
        ticks = nice_ticks(min(0, *values), max(0, *values), max_intervals=self.max_y_intervals, integer=self._whole)
        return ticks, ticks[0], ticks[-1]

    def context(self) -> dict:
        """Everything the template draws, as ready-made strings (coordinates, labels)."""
        base = {"id": self.id, "title": self.title, "empty": self.empty, "width": self.width, "height": self.height}
        if self.is_empty:
            return {**base, "is_empty": True}
        y_ticks, y_low, y_high = self._y_ticks()
        tick_decimals = _step_decimals(y_ticks)
        y_labels = [number(t, tick_decimals) + (f"{NBSP}{self.unit}" if self.unit else "") for t in y_ticks]
        left, top = round(max(len(label) for label in y_labels) * CHAR_WIDTH + 10), MARGIN_TOP
        plot_w = self.width - left - MARGIN_RIGHT
        plot_h = self.height - top - MARGIN_BOTTOM
        bottom = top + plot_h

        def y_at(value: float) -> float:
            return top + plot_h * (1 - (value - y_low) / ((y_high - y_low) or 1))

        # x: a continuous time axis (gaps stay gaps) or equal bands for categories.
        if self.is_time:
            start, end = self.x[0], self.x[-1] + self.step
            span = (end - start).total_seconds()

            def x_at(moment: datetime) -> float:
                return left + plot_w * (moment - start).total_seconds() / span

            bands = [(x_at(t), x_at(t + self.step)) for t in self.x]
            ticks = time_ticks(start, end, width=plot_w, min_step=self.step)
            if self.step >= timedelta(days=1) and all((t - start) % self.step == timedelta(0) for t, _ in ticks):
                # Every tick starts a bucket of a day or more, which is named rather than a
                # moment: label the buckets in their middles (none at the end: no bucket starts there).
                ticks = [(t + self.step / 2, label) for t, label in ticks if t < end] or ticks
            x_ticks = [(x_at(t), label) for t, label in ticks]
        else:
            band = plot_w / len(self.x)
            bands = [(left + i * band, left + (i + 1) * band) for i in range(len(self.x))]
            longest = max(len(str(label)) for label in self.x) * CHAR_WIDTH + LABEL_GAP / 2
            every = max(1, math.ceil(longest / band))
            x_ticks = [((a + b) / 2, str(self.x[i])) for i, (a, b) in enumerate(bands) if i % every == 0]

        x_labels = []
        for position, text in x_ticks:
            half = len(text) * CHAR_WIDTH / 2
            anchor = "start" if position - half < 0 else "end" if position + half > self.width else "middle"
            x_labels.append({"x": _fmt(position), "text": text, "anchor": anchor, "tick": self.is_time})

        groups = self._bar_groups(bands, y_at) if self.kind == "bars" else []
        lines = self._lines(bands, y_at) if self.kind == "lines" else []
        return {
            **base,
            "is_empty": False,
            "kind": self.kind,
            "summary": self.summary(),
            "left": _fmt(left),
            "right": _fmt(left + plot_w),
            "top": _fmt(top),
            "bottom": _fmt(bottom),
            "label_y": _fmt(bottom + 17),
            "y_ticks": [{"y": _fmt(y_at(t)), "text": label} for t, label in zip(y_ticks, y_labels, strict=True)],
            "y_label_x": _fmt(left - 6),
            "x_labels": x_labels,
            "tick_end": _fmt(bottom + 4),
            "groups": groups,
            "lines": lines,
            "legend": [{"label": s.label, "colour": s.colour} for s in self.series],
            "table": self._table(),
        }

    def _bar_groups(self, bands, y_at) -> list[dict]:
        groups = []
        for index, (x0, x1) in enumerate(bands):
            # Time buckets touch but for a hairline; category bars stand apart.
            gap = (1 if x1 - x0 > 3 else 0) if self.is_time else (x1 - x0) * 0.2
            rects, level = [], 0.0
            for s in self.series:
                value = s.values[index] or 0
                if not value:
                    continue
                y_top, y_bottom = y_at(level + value), y_at(level)
                level += value
                rects.append(
                    {
                        "x": _fmt(x0 + gap / 2),
                        "y": _fmt(y_top),
                        "width": _fmt(max(x1 - x0 - gap, 0.5)),
                        "height": _fmt(max(y_bottom - y_top, 0.5)),
                        "colour": s.colour,
                    }
                )
            if rects:
                detail = ", ".join(
                    f"{s.label} {self.value_text(s.values[index])}" for s in self.series if s.values[index]
                )
                total = f" ({self.value_text(level)} in total)" if len(rects) > 1 else ""
                groups.append({"rects": rects, "tooltip": f"{self.label_of(index)}: {detail}{total}"})
        return groups

    def _lines(self, bands, y_at) -> list[dict]:
        lines = []
        for s in self.series:
            segments, current, markers = [], [], []
            for index, ((x0, x1), value) in enumerate(zip(bands, s.values, strict=True)):
                if value is None:
                    if current:
                        segments.append(current)
                    current = []
                    continue
                point = (_fmt((x0 + x1) / 2), _fmt(y_at(value)))
                current.append(f"{point[0]},{point[1]}")
                if len(self.x) <= MARKERS_UP_TO:
                    markers.append(
                        {
                            "x": point[0],
                            "y": point[1],
                            "tooltip": f"{self.label_of(index)}: {s.label} {self.value_text(value)}",
                        }
                    )
            if current:
                segments.append(current)
            lines.append({"colour": s.colour, "segments": [" ".join(seg) for seg in segments], "markers": markers})
        return lines

    def _table(self) -> dict:
        with_total = self.kind == "bars" and len(self.series) > 1
        headers = [s.label for s in self.series] + (["total"] if with_total else [])
        rows = []
        for index in range(len(self.x)):
            cells = [self.value_text(s.values[index]) for s in self.series]
            if with_total:
                cells.append(self.value_text(sum(s.values[index] or 0 for s in self.series)))
            rows.append({"label": self.label_of(index), "cells": cells})
        return {"corner": "time" if self.is_time else "", "headers": headers, "rows": rows}
