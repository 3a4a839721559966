"""The closed-loop rate law, sans-I/O: the one rule by which tracking and satellite following both drive the axes.

Each update, per axis: the rate at which the target moves (feed-forward, from where it should be now and a moment
later) plus a correction of the measured error, the error taken out over `correction_time_s` and the correction
bounded by MAX_CORRECTION. Axis 1 (azimuth-like) always goes the short way round. The callers differ only in what
they pass: tracking takes an error out over two seconds and extrapolates the target to the moment the encoders were
read (`lag_s`); satellite following takes it out over one second and bounds the rate by the mount's fastest.

Rates and errors are in degrees (per second) of axis angle, before the axis signs and the AUX scale are applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .mount import AxisAngles, wrap180

MAX_CORRECTION = 0.5  # degrees per second at most added to correct an error


@dataclass(frozen=True, slots=True)
class AxisRate:
    feed: float  # degrees per second the target moves at along this axis
    error: float  # degrees: where the axis should be minus where it is
    rate: float  # degrees per second to command: feed plus the bounded correction, within the rate limit


def feed_forward(now: AxisAngles, ahead: AxisAngles, step_s: float) -> tuple[float, float]:
    """The rates (degrees per second) that carry the axes from `now` to `ahead` in `step_s` seconds."""
    return wrap180(ahead.axis1 - now.axis1) / step_s, (ahead.axis2 - now.axis2) / step_s


def correction(error: float, correction_time_s: float, max_correction: float = MAX_CORRECTION) -> float:
    """The rate that takes `error` degrees out over `correction_time_s` seconds, bounded by ±max_correction."""
    return max(-max_correction, min(max_correction, error / correction_time_s))


def closed_loop(
    wanted: AxisAngles,
    ahead: AxisAngles,
    step_s: float,
    measured: AxisAngles,
    *,
    correction_time_s: float,
    lag_s: float = 0.0,
    max_correction: float = MAX_CORRECTION,
    max_rate: float = math.inf,
) -> tuple[AxisRate, AxisRate]:
    """The rate of each axis: `wanted` is where the axes should be at the moment it was computed, `ahead` where they
    should be `step_s` seconds later, `measured` where the encoders said they were `lag_s` seconds after that moment.
    `max_rate` (degrees per second) bounds the commanded rate, correction included."""
    feeds = feed_forward(wanted, ahead, step_s)
    errors = (
        wrap180(wanted.axis1 + feeds[0] * lag_s - measured.axis1),
        wanted.axis2 + feeds[1] * lag_s - measured.axis2,
    )
    axes = []
    for feed, error in zip(feeds, errors):
        rate = feed + correction(error, correction_time_s, max_correction)
        axes.append(AxisRate(feed, error, max(-max_rate, min(max_rate, rate))))
    return axes[0], axes[1]
