"""Sky and alert judgements made from the status readings: pure functions, sans-I/O.

Clouds are judged from how much colder the sky is than the air (ambient minus sky temperature): the manual's four
thresholds (8, 12, 18, 25 °C by default) separate overcast, cloudy, partly cloudy, mostly clear and clear skies; the
cloud-cover figure runs linearly from 100 % at the overcast threshold to 0 % at the clear one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..indi.properties import State

CONDITIONS = ("Overcast", "Cloudy", "Partly cloudy", "Mostly clear", "Clear")
WARN_FRACTION = 0.9  # an alert value within 10 % of its limit shows as a warning first
VOLTAGE_WARN_MARGIN = 0.2  # volts before a voltage limit counts as close
SKY_WARN_MARGIN = 2.0  # °C above the clouds threshold that counts as close


@dataclass(frozen=True, slots=True)
class CloudThresholds:
    overcast: float = 8.0
    cloudy: float = 12.0
    partly: float = 18.0
    clear: float = 25.0

    def ordered(self) -> bool:
        return self.overcast < self.cloudy < self.partly < self.clear


def cloud_cover(ambient_minus_sky: float, thresholds: CloudThresholds) -> float:
    points = [
        (thresholds.overcast, 100.0),
        (thresholds.cloudy, 200.0 / 3.0),
        (thresholds.partly, 100.0 / 3.0),
        (thresholds.clear, 0.0),
    ]
    if ambient_minus_sky <= points[0][0]:
        return 100.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if ambient_minus_sky <= x1:
            return y0 + (y1 - y0) * (ambient_minus_sky - x0) / (x1 - x0)
    return 0.0


def sky_condition(ambient_minus_sky: float, thresholds: CloudThresholds) -> str:
    limits = (thresholds.overcast, thresholds.cloudy, thresholds.partly, thresholds.clear)
    for condition, limit in zip(CONDITIONS, limits):
        if ambient_minus_sky < limit:
            return condition
    return CONDITIONS[-1]


def above_limit(value: float | None, limit: float) -> State:
    """Alert above `limit`, a warning in the last 10 % below it; a limit of 0 means the alert is off."""
    if value is None or limit <= 0:
        return State.IDLE
    if value > limit:
        return State.ALERT
    return State.BUSY if value > limit * WARN_FRACTION else State.OK


def _beyond(value: float | None, limit: float, margin: float, *, low: bool) -> State:
    """Alert past `limit` (below it when `low`, else above it), a warning within `margin` of it; a limit of 0 (or
    less) means the alert is off, and no reading is Idle."""
    if value is None or limit <= 0:
        return State.IDLE
    if low:
        return State.ALERT if value < limit else State.BUSY if value < limit + margin else State.OK
    return State.ALERT if value > limit else State.BUSY if value > limit - margin else State.OK


def voltage_low(value: float | None, limit: float) -> State:
    return _beyond(value, limit, VOLTAGE_WARN_MARGIN, low=True)


def voltage_high(value: float | None, limit: float) -> State:
    return _beyond(value, limit, VOLTAGE_WARN_MARGIN, low=False)


def clouds(ambient_minus_sky: float | None, limit: float) -> State:
    """Alert when the sky is less than `limit` colder than the air (clouds), a warning just above it."""
    return _beyond(ambient_minus_sky, limit, SKY_WARN_MARGIN, low=True)
