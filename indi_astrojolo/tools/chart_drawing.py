"""Drawing the session charts with matplotlib: the focus, power and environment charts laid out in chart_layout.py,
and the one-page nightly summary, written as PNGs.

matplotlib (and numpy) are imported inside the functions that draw, so that `astrolink4-charts --summary` still prints
the summary where matplotlib is not installed, and then says what is missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from ..astrolink4.datalog import Sample
from ..files import atomic_write_bytes
from .chart_layout import CHARTS, LABELS, STYLES, SUMMARY_PANELS, Scale
from .night_summary import NightSummary, night_summary, summary_text
from .session_rows import DEFAULT_AVERAGE_S, STEPPED, average, gap_indices, night_label, ordered_rows, with_derived


@dataclass
class _Track:
    """What the charts draw: points as matplotlib date numbers, each column with NaN where it has no value and at
    the breaks inserted after each gap."""

    x: Any  # numpy array
    columns: dict[str, Any]
    isolated: list[int]  # indices of the points of stretches too short to show as a line: drawn as dots too
    spans: list[tuple[float, float]]  # (start, end) of each stretch logged without a gap


def _track(points: Sequence[Mapping[str, Any]], names: Iterable[str]) -> _Track:
    import numpy as np
    from matplotlib import dates as mdates

    times = [point["time_utc"] for point in points]
    gaps = gap_indices(times)
    x = np.asarray(mdates.date2num(times), dtype=float)
    # A point just after the last one before each gap, with no values: the line stops there, one second on.
    filler = x[np.asarray(gaps, dtype=int) - 1] + 1.0 / 86400 if gaps else np.array([])
    broken_x = np.insert(x, gaps, filler)
    columns = {}
    for name in names:
        values = np.array([_plotted(point.get(name)) for point in points], dtype=float)
        if np.all(np.isnan(values)):
            continue
        columns[name] = np.insert(values, gaps, math.nan)
    bounds = [0, *gaps, len(times)]
    spans = [(float(x[start]), float(x[end - 1])) for start, end in zip(bounds, bounds[1:])]
    # A stretch too short to show as a line (one sample, or a few seconds in a night) gets dots. Its indices in the
    # broken arrays are shifted by the fillers inserted before it.
    shortest = (x[-1] - x[0]) / 300
    isolated = [
        index + number
        for number, (start, end) in enumerate(zip(bounds, bounds[1:]))
        if end - start == 1 or x[end - 1] - x[start] < shortest
        for index in range(start, end)
    ]
    return _Track(broken_x, columns, isolated, spans)


def _plotted(value: Any) -> float:
    """A value as a float for plotting: on/off as 1/0, no value (or not a finite number) as NaN."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return math.nan


def _limits(values: Sequence[Any], scale: Scale) -> tuple[float, float] | None:
    import numpy as np

    if scale.limits is not None:
        return scale.limits
    finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    margin = max((high - low) * 0.08, 1e-9)
    low, high = low - margin, high + margin
    if high - low < scale.min_span:
        middle = (low + high) / 2
        low, high = middle - scale.min_span / 2, middle + scale.min_span / 2
    if scale.floor is not None and low < scale.floor:
        high += scale.floor - low if high - low < scale.min_span else 0.0
        low = scale.floor
    return low, high


def _time_axis(axis: Any, span_days: float, most_ticks: int = 14) -> None:
    from matplotlib import dates as mdates

    axis.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=most_ticks))
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span_days < 0.9 else "%d %H:%M", tz=UTC))


def _draw_scale(axis: Any, scale: Scale, track: _Track) -> list[Any]:
    """Draw one scale's series on `axis`; the legend handles."""
    present = [name for name in scale.series if name in track.columns]
    handles = []
    if scale.timeline:
        from matplotlib.patches import Patch

        for row, name in enumerate(present):
            color = STYLES.get(name, ("black", "-"))[0]
            on = _on_intervals(track, name)
            axis.broken_barh(on, (row - 0.3, 0.6), facecolors=color, alpha=0.75)
            handles.append(Patch(color=color, alpha=0.75, label=f"{LABELS.get(name, name)} on"))
        axis.set_yticks(range(len(present)), [LABELS.get(name, name) for name in present], fontsize="small")
        axis.set_ylim(len(present) - 0.5, -0.5)
        return []  # the row labels say it all
    for name in present:
        color, style = STYLES.get(name, ("black", "-"))
        (line,) = axis.plot(
            track.x,
            track.columns[name],
            label=LABELS.get(name, name),
            color=color,
            linestyle=style,
            drawstyle="steps-post" if name in STEPPED else "default",
            linewidth=1.3,
        )
        handles.append(line)
        if track.isolated:
            # A point alone between two gaps has no line to be part of: a dot shows it.
            axis.plot(track.x[track.isolated], track.columns[name][track.isolated], "o", color=color, markersize=3)
    limits = _limits([track.columns[name] for name in present], scale)
    if limits is not None:
        axis.set_ylim(*limits)
    axis.set_ylabel(scale.label)
    return handles


def _on_intervals(track: _Track, name: str) -> list[tuple[float, float]]:
    """(start, width) of each stretch during which the on/off column was on; a stretch ends at a gap."""
    values = track.columns[name]
    result = []
    start = None
    for x, value in zip(track.x, values):
        on = value == value and value >= 0.5  # NaN (a gap's filler, or no value) ends a stretch
        if on and start is None:
            start = x
        elif not on and start is not None:
            result.append((start, x - start))
            start = None
    if start is not None:
        result.append((start, track.x[-1] - start))
    return result


def _set_time_limits(axis: Any, track: _Track) -> None:
    start, end = track.spans[0][0], track.spans[-1][1]
    # A little room at both ends so that a dot there is not cut in half; a few minutes around a lone sample.
    margin = max((end - start) * 0.01, 150 / 86400 if end - start < 60 / 86400 else 0.0)
    axis.set_xlim(start - margin, end + margin)


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)  # explicit Agg: no pyplot state, no display needed
    return figure


def _png(figure: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_figure(name: str, points: Sequence[Mapping[str, Any]], night: str) -> Any:
    """The matplotlib Figure of one of CHARTS (chart points from `average`, rows `with_derived`)."""
    title, panels = CHARTS[name]
    track = _track(points, {name for panel in panels for scale in panel.scales for name in scale.series})
    drawn = [panel for panel in panels if any(name in track.columns for s in panel.scales for name in s.series)]
    figure = _figure(1.0 + 1.9 * max(1.0, sum(panel.height for panel in drawn)))
    figure.suptitle(f"{title} — night of {night}", fontsize="large")
    if not drawn:
        axis = figure.add_subplot(1, 1, 1)
        axis.text(0.5, 0.5, "no data for this chart", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    grid = figure.add_gridspec(len(drawn), 1, height_ratios=[panel.height for panel in drawn])
    first_axis = None
    span_days = float(track.spans[-1][1] - track.spans[0][0])
    for index, panel in enumerate(drawn):
        axis = figure.add_subplot(grid[index, 0], sharex=first_axis)
        first_axis = first_axis or axis
        handles = _draw_scale(axis, panel.left, track)
        top = axis
        if panel.right is not None and any(name in track.columns for name in panel.right.series):
            top = axis.twinx()
            handles += _draw_scale(top, panel.right, track)
            top.yaxis.label.set_color(top.get_lines()[0].get_color())
            axis.yaxis.label.set_color(axis.get_lines()[0].get_color() if axis.get_lines() else "black")
        axis.grid(True, alpha=0.3)
        axis.tick_params(labelbottom=index == len(drawn) - 1)
        if handles:
            # Above the panel, where it can cover no data (on the topmost axes: a twin axis is drawn over its host).
            top.legend(
                handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="small", frameon=False,
                ncols=len(handles), borderaxespad=0.1,
            )  # fmt: skip
        _time_axis(axis, span_days)
    _set_time_limits(axis, track)
    axis.set_xlabel("time (UTC)")
    return figure


def summary_figure(summary: NightSummary, points: Sequence[Mapping[str, Any]]) -> Any:
    """One page: the summary's table, and beside it the night's temperatures, dew margins, focuser and energy."""
    figure = _figure(8.5)
    figure.suptitle(f"Night of {summary.night} — summary (times UTC)", fontsize="x-large")
    grid = figure.add_gridspec(4, 2, width_ratios=[1.0, 1.0])
    text_axis = figure.add_subplot(grid[:, 0])
    text_axis.set_axis_off()
    text_axis.text(
        0.0, 1.0, "\n".join(summary_text(summary)[1:]), va="top", ha="left", family="monospace", fontsize=10,
        transform=text_axis.transAxes, linespacing=1.7,
    )  # fmt: skip
    panels = SUMMARY_PANELS
    track = _track(points, {name for scale in panels for name in scale.series})
    span_days = float(track.spans[-1][1] - track.spans[0][0])
    first_axis = None
    for index, scale in enumerate(panels):
        axis = figure.add_subplot(grid[index, 1], sharex=first_axis)
        first_axis = first_axis or axis
        handles = _draw_scale(axis, scale, track)
        if not handles:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes, color="gray")
        elif len(handles) > 1:
            axis.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="x-small",
                        frameon=False, ncols=len(handles), borderaxespad=0.1)  # fmt: skip
        if scale.series[0] == "dew_margin_1" and handles:
            axis.axhline(0.0, color="tab:red", linewidth=0.8)
            axis.text(0.01, 0.0, "dew", color="tab:red", fontsize="x-small", ha="left", va="bottom",
                      transform=axis.get_yaxis_transform())  # fmt: skip
        axis.set_ylabel(scale.label, fontsize="small")
        axis.grid(True, alpha=0.3)
        axis.tick_params(labelbottom=index == len(panels) - 1, labelsize="small")
        _time_axis(axis, span_days, most_ticks=7)
    _set_time_limits(axis, track)
    axis.set_xlabel("time (UTC)", fontsize="small")
    return figure


def render_charts(
    rows: Iterable[Mapping[str, Any] | Sample], output_dir: Path, stem: str, *, average_s: float = DEFAULT_AVERAGE_S
) -> list[Path]:
    """Write `stem`-focus.png, -power.png, -environment.png and -summary.png into output_dir; returns their paths.

    Chart points average `average_s` seconds of samples (0: every sample); the summary reads every sample. Columns
    without any value are left out; a chart with no data at all still gets a (labelled) image so the paths always
    exist. Raises ValueError when there are no rows or the period is negative.
    """
    ordered = with_derived(ordered_rows(rows))
    if not ordered:
        raise ValueError("no rows to chart")
    points = average(ordered, average_s)
    night = night_label(ordered)
    output_dir = Path(output_dir)
    paths = []
    for name in CHARTS:
        path = output_dir / f"{stem}-{name}.png"
        atomic_write_bytes(path, _png(chart_figure(name, points, night)))
        paths.append(path)
    path = output_dir / f"{stem}-summary.png"
    atomic_write_bytes(path, _png(summary_figure(night_summary(ordered), points)))
    paths.append(path)
    return paths
