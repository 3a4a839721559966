"""The list of coming passes (SAT_PASS_LIST), one line each, sans-I/O.

For each pass: rise, culmination and set (UTC), the highest altitude and the azimuth there, whether the satellite is
in sunlight (a pass can start lit and enter the Earth's shadow, or the other way round), and whether the mount can
follow it: the notes of its plan (passplan.py), which name the zenith swing, the cord wrap and the altitude limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

LIT = 0.5  # the sunlit fraction above which the satellite counts as lit (the Sun's centre above the Earth's limb)
SUNLIGHT_STEP_S = 10.0  # seconds between the samples of sunlight along a pass


def _clock(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%H:%M:%S")


def _date_and_clock(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S")


def sunlight_times(rise: float, set_: float) -> np.ndarray:
    """The instants a pass's sunlight is sampled at: every SUNLIGHT_STEP_S from rise, and the set."""
    return np.append(np.arange(rise, set_, SUNLIGHT_STEP_S), set_)


def sunlight_words(times: np.ndarray, fractions: np.ndarray) -> str:
    """ "sunlit", "in shadow", or when the satellite enters or leaves the shadow during the pass."""
    lit = np.asarray(fractions) > LIT
    if lit.all():
        return "sunlit"
    if not lit.any():
        return "in the Earth's shadow"
    changes = np.flatnonzero(np.diff(lit.astype(int)))
    spans = []
    for index in changes:
        moment = _clock(float(times[index + 1]))
        spans.append(f"enters the shadow at {moment}" if lit[index] else f"leaves the shadow at {moment}")
    return "sunlit, " + ", ".join(spans) if lit[0] else "in shadow, " + ", ".join(spans)


@dataclass(frozen=True)
class PassSummary:
    rise: float  # unix seconds
    culmination: float
    set: float
    highest: float  # degrees
    highest_azimuth: float
    sunlight: str
    notes: tuple[str, ...]  # what the mount cannot follow (the plan's notes); empty: all of it

    def line(self) -> str:
        following = "; ".join(self.notes) if self.notes else "the mount can follow the whole pass"
        return (
            f"{_date_and_clock(self.rise)} to {_clock(self.set)} UTC, highest {self.highest:.1f}° at "
            f"{_clock(self.culmination)} (az {self.highest_azimuth % 360.0:.0f}°), {self.sunlight}; {following}"
        )
