"""The rows of a session log as the charts and the nightly summary use them: in time order, with the derived columns
(energy used, dew margins), averaged into chart points, and where the log has gaps.

Pure arithmetic on rows keyed by column name (as session_csv.read_csv returns them, or Samples); no file, no plotting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..astrolink4.datalog import Sample, night_date

# The vendor panel's "data collection sampling rate": samples averaged into one chart point. It recommends 5 or 10 s.
DEFAULT_AVERAGE_S = 5.0
MAX_AVERAGE_S = 3600.0

# Columns the charts and the summary derive from the logged ones.
DERIVED: tuple[str, ...] = ("energy_used_wh", "energy_used_ah", "dew_margin_1", "dew_margin_2")

# Columns that change in jumps: a chart point takes the last value of its period (an average of two focuser positions
# is a position the focuser never held) and the line is drawn as steps.
STEPPED = frozenset({"position", "pwm_1", "pwm_2", "output_1", "output_2", "output_3", "pending_compensation"})

# Points further apart than this (or than three point spacings, when points are sparser) are from separate sessions
# or an outage: the line is broken there instead of bridging the time nothing was logged.
MIN_GAP = timedelta(seconds=10)


def ordered_rows(rows: Iterable[Mapping[str, Any] | Sample]) -> list[Mapping[str, Any]]:
    """The rows (Samples taken as rows) that have a time, in time order."""
    result = [row.as_row() if isinstance(row, Sample) else row for row in rows]
    result = [row for row in result if row.get("time_utc") is not None]
    # Appended in arrival order; a clock step backwards would make lines zigzag.
    result.sort(key=lambda row: row["time_utc"])
    return result


def finite_number(row: Mapping[str, Any], name: str) -> float | None:
    """The row's value of `name` as a float, or None if it has none that is a finite number (on/off is not one)."""
    value = row.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def energy_used(rows: Sequence[Mapping[str, Any]], counter: str) -> list[float | None]:
    """The energy used since the first sample, from one of the device's cumulative counters (amp_hours, watt_hours).

    The counter counts from the device's power-on: when it goes back, the device was restarted and counted again from
    zero, so its new value is added rather than the drop subtracted. Never negative."""
    used = 0.0
    last: float | None = None
    result: list[float | None] = []
    for row in rows:
        value = finite_number(row, counter)
        if value is None or value < 0:
            result.append(None)
            continue
        if last is not None:
            used += value - last if value >= last else value
        last = value
        result.append(used)
    return result


def with_derived(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the DERIVED columns: energy used this night (Wh, Ah) and each sensor's dew margin (°C above its
    dew point)."""
    watt_hours = energy_used(rows, "watt_hours")
    amp_hours = energy_used(rows, "amp_hours")
    result = []
    for row, wh, ah in zip(rows, watt_hours, amp_hours):
        extended = dict(row, energy_used_wh=wh, energy_used_ah=ah)
        for sensor in ("1", "2"):
            temperature = finite_number(row, f"temperature_{sensor}")
            dew_point = finite_number(row, f"dew_point_{sensor}")
            margin = None if temperature is None or dew_point is None else temperature - dew_point
            extended[f"dew_margin_{sensor}"] = margin
        result.append(extended)
    return result


def average(rows: Sequence[Mapping[str, Any]], period_s: float) -> list[dict[str, Any]]:
    """Chart points: the samples of each `period_s` (aligned to whole periods of UTC) merged into one, at their mean
    time, holding the mean of each numeric column and the last value of each STEPPED one. 0 keeps every sample."""
    if period_s < 0 or not math.isfinite(period_s):
        raise ValueError(f"the averaging period must be 0 or more seconds, got {period_s}")
    if period_s == 0:
        return [dict(row) for row in rows]
    points: list[dict[str, Any]] = []
    group: list[Mapping[str, Any]] = []
    group_key = None
    for row in rows:
        key = math.floor(row["time_utc"].timestamp() / period_s)
        if group and key != group_key:
            points.append(_merge(group))
            group = []
        group.append(row)
        group_key = key
    if group:
        points.append(_merge(group))
    return points


def _merge(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = group[0]["time_utc"]
    offset = sum(((row["time_utc"] - first).total_seconds() for row in group), 0.0) / len(group)
    point: dict[str, Any] = {"time_utc": first + timedelta(seconds=offset)}
    for name in dict.fromkeys(name for row in group for name in row if name != "time_utc"):
        present = [row[name] for row in group if row.get(name) is not None]
        if not present:
            point[name] = None
        elif name in STEPPED:
            point[name] = present[-1]
        else:
            numbers = [value for value in (finite_number(row, name) for row in group) if value is not None]
            point[name] = sum(numbers) / len(numbers) if numbers else None
    return point


def gap_threshold(times: Sequence[datetime]) -> timedelta:
    """How far apart two points may be and still be joined by a line: MIN_GAP, or three times the usual spacing."""
    steps = sorted(later - earlier for earlier, later in zip(times, times[1:]))
    usual = steps[len(steps) // 2] if steps else timedelta(0)
    return max(MIN_GAP, 3 * usual)


def gap_indices(times: Sequence[datetime]) -> list[int]:
    """Indices of the points that follow a gap."""
    threshold = gap_threshold(times)
    return [index for index in range(1, len(times)) if times[index] - times[index - 1] > threshold]


def night_label(rows: Sequence[Mapping[str, Any]]) -> str:
    """'2026-11-21/22' for the observing night (noon to noon UTC) of the first row; the last one's too if different."""
    first = datetime.strptime(night_date(rows[0]["time_utc"]), "%Y-%m-%d")
    last = datetime.strptime(night_date(rows[-1]["time_utc"]), "%Y-%m-%d")
    label = f"{first:%Y-%m-%d}/{first + timedelta(days=1):%d}"
    return label if last == first else f"{label} to {last:%Y-%m-%d}/{last + timedelta(days=1):%d}"
