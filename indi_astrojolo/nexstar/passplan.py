"""The axes' path through a satellite pass, planned before the pass starts; sans-I/O.

A satellite's track asks more of the axes than they can give in two places, and the plan decides in advance how the
mount falls short there, so the astronomer is told before the pass rather than surprised during it:

* **Near the zenith** an alt-az mount's azimuth must turn at ω / cos(elevation): an overhead pass asks for a 180°
  turn in an instant (the key-hole). Each axis is held to the fastest rate the mount is allowed (SAT_SETTINGS), and
  the unavoidable swing is spread evenly before and after the moment the satellite makes it (the mean of a forward
  and a backward rate-limited pass), so the gap is centred on culmination, where cos(elevation) makes an azimuth error
  smallest on the sky. The altitude axis goes past 90° only when allowed (SAT_FLIP): a flip over the zenith needs a
  fork that can swing its load through it, which NexStar forks cannot do with a camera on the back.
* **Over the top** (SAT_FLIP, alt-az only): the same direction is also reached as (azimuth − 180°, 180° − elevation),
  the altitude axis past the zenith. After culmination the plan aims in that form, so the azimuth the satellite needs
  comes back to where it started instead of turning half a circle, and the altitude axis is aimed at the satellite's
  projection on the vertical plane the azimuth axis is in (exact wherever the azimuth keeps up). A pass straight
  overhead is then followed with no azimuth swing at all; one that misses the zenith by d degrees is followed
  within about d near the top, where the swing would trail it by far more. No way of pointing two axes does better
  there: both forms need the azimuth to turn at ω / cos(elevation). The plan is chosen only where it follows better
  than the swing, and only from a start before culmination (the first leg never climbs past the zenith).
* **At the cord-wrap position** (alt-az) the azimuth axis may not pass; the plan keeps it within the one turn that
  does not cross it. A pass whose azimuth runs through that position makes the mount turn round the other way at
  full speed when the satellite gets there; it loses the satellite for as long as that takes.

Altitude limits: the plan covers the part of the pass above the lowest allowed altitude; an alt-az mount's altitude
axis holds at the highest allowed altitude while the satellite is above it. On a wedge the axes are hour angle and
declination (ERFA's ae2hd).

The worst moment — where the plan is furthest from the satellite — is reported with its cause.

Offsets (SAT_TIME_OFFSET, SAT_CROSS_TRACK_OFFSET): a TLE's error is mostly along the track, the satellite running
some seconds early or late, so `position` takes the moment to aim at (now plus the time offset) and a cross-track
offset in degrees: the satellite's direction moved at right angles to its motion, towards the inside of the pass's
arc (the zenith side) for positive values. The offset is applied to the planned axes as the difference it makes to
the satellite's own direction, so the plan's rate limits and cord-wrap turns stay as planned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import erfa
import numpy as np

from .mount import Geometry

CORDWRAP_MARGIN = 1.0  # degrees kept from the cord-wrap position (the pointing model and the loop's overshoot)
FLIP_GAIN = 0.05  # degrees: going over the top is chosen only when its worst error is at least this much smaller


@dataclass
class PassPlan:
    times: np.ndarray  # unix seconds, evenly spaced
    axis1: np.ndarray  # ideal axis 1 (azimuth or hour angle), degrees, continuous within the allowed turn
    axis2: np.ndarray  # ideal axis 2 (altitude or declination), degrees
    azimuth: np.ndarray  # the satellite, degrees (continuous, may leave 0..360)
    elevation: np.ndarray
    geometry: Geometry
    latitude: float
    worst_error: float = 0.0  # degrees on the sky between the plan and the satellite
    worst_time: float = 0.0
    worst_cause: str = ""
    notes: list[str] = field(default_factory=list)
    altitude_limits: tuple[float, float] = (-90.0, 90.0)
    over_the_top: bool = False  # axis 2 goes past 90° (alt-az): after culmination it aims as (az − 180°, 180° − el)
    highest_axis: float = 90.0  # the highest altitude axis angle the plan may reach (the altitude limit, or the flip's)

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def position(self, unix: float, cross_track: float = 0.0) -> tuple[float, float]:
        """Ideal axis angles at a moment (held at the ends outside the pass), `cross_track` degrees to the side."""
        axis1, axis2 = float(np.interp(unix, self.times, self.axis1)), float(np.interp(unix, self.times, self.axis2))
        if not cross_track:
            return axis1, axis2
        azimuth, elevation = self.satellite(unix)
        beside = self.aim(unix, cross_track)
        if self.geometry is Geometry.ALTAZ:
            low = self.altitude_limits[0]
            moved1 = (beside[0] - azimuth + 180.0) % 360.0 - 180.0
            up = -1.0 if axis2 > 90.0 else 1.0  # past the zenith the altitude axis runs the other way
            return axis1 + moved1, min(self.highest_axis, max(low, axis2 + up * (beside[1] - elevation)))
        here = np.radians([azimuth, beside[0]]), np.radians([elevation, beside[1]])
        hour_angle, declination = erfa.ae2hd(*here, math.radians(self.latitude))
        moved1 = (math.degrees(float(hour_angle[1] - hour_angle[0])) + 180.0) % 360.0 - 180.0
        return axis1 + moved1, axis2 + math.degrees(float(declination[1] - declination[0]))

    def aim(self, unix: float, cross_track: float = 0.0) -> tuple[float, float]:
        """Where to point at a moment (azimuth, elevation): the satellite, `cross_track` degrees to the side."""
        azimuth, elevation = self.satellite(unix)
        if not cross_track:
            return azimuth, elevation
        return _beside(azimuth, elevation, self._heading(unix) + self.inside * 90.0, cross_track)

    def _heading(self, unix: float) -> float:
        """The direction the satellite moves on the sky at a moment (degrees from the local up-azimuth meridian)."""
        early = min(max(unix - 0.5, self.start), self.end - 1.0)  # a second of the track, within the pass
        return _bearing(*self.satellite(early), *self.satellite(early + 1.0))

    @cached_property
    def inside(self) -> float:
        """+1 or -1: which side of the motion (heading + or - 90°) is the inside of the arc. The track is nearly a
        great circle; the inside is towards its pole above the horizon (a plan may start after culmination, so the
        side is not judged from the elevations there)."""
        middle = (self.start + self.end) / 2.0  # not the end: an overhead pass ends opposite where it starts
        pole = np.cross(_unit(*self.satellite(self.start)), _unit(*self.satellite(middle)))
        if pole[2] < 0:
            pole = -pole
        azimuth, elevation = self.satellite(middle)
        heading = self._heading(middle)
        left = _unit(*_beside(azimuth, elevation, heading + 90.0, 1.0)) @ pole
        right = _unit(*_beside(azimuth, elevation, heading - 90.0, 1.0)) @ pole
        return 1.0 if left >= right else -1.0

    def satellite(self, unix: float) -> tuple[float, float]:
        """Where the satellite is (azimuth 0..360, elevation), interpolated between planned samples."""
        return float(np.interp(unix, self.times, self.azimuth)) % 360.0, float(
            np.interp(unix, self.times, self.elevation)
        )

    def pointing(self, axis1: float, axis2: float) -> tuple[float, float]:
        """Azimuth and elevation of ideal axis angles."""
        azimuth, elevation = _pointing(np.array([axis1]), np.array([axis2]), self.geometry, self.latitude)
        return float(azimuth[0]) % 360.0, float(elevation[0])


def _pointing(
    axis1: np.ndarray, axis2: np.ndarray, geometry: Geometry, latitude: float
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (degrees) of ideal axis angles; alt-az axes past the zenith point the other way."""
    if geometry is Geometry.ALTAZ:
        over = axis2 > 90.0
        return np.where(over, axis1 + 180.0, axis1), np.where(over, 180.0 - axis2, axis2)
    azimuth, elevation = erfa.hd2ae(np.radians(axis1), np.radians(axis2), math.radians(latitude))
    return np.degrees(azimuth), np.degrees(elevation)


def _unit(azimuth: float, elevation: float) -> np.ndarray:
    """A direction as a unit vector (east, north, up)."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def _bearing(azimuth1: float, elevation1: float, azimuth2: float, elevation2: float) -> float:
    """The initial direction (degrees) of the great circle from one direction to another, azimuth taken as longitude."""
    l1, p1, l2, p2 = (math.radians(v) for v in (azimuth1, elevation1, azimuth2, elevation2))
    y = math.sin(l2 - l1) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(l2 - l1)
    return math.degrees(math.atan2(y, x))


def _beside(azimuth: float, elevation: float, bearing: float, distance: float) -> tuple[float, float]:
    """The direction `distance` degrees from (azimuth, elevation) along `bearing` (great circle)."""
    l1, p1, theta, delta = (math.radians(v) for v in (azimuth, elevation, bearing, distance))
    p2 = math.asin(math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(theta))
    east = math.sin(theta) * math.sin(delta) * math.cos(p1)
    l2 = l1 + math.atan2(east, math.cos(delta) - math.sin(p1) * math.sin(p2))
    return math.degrees(l2) % 360.0, math.degrees(p2)


def separation(az1, el1, az2, el2):
    """Angle between two directions given in degrees (numpy arrays or floats), in degrees."""
    a1, e1, a2, e2 = (np.radians(v) for v in (az1, el1, az2, el2))
    cosine = np.sin(e1) * np.sin(e2) + np.cos(e1) * np.cos(e2) * np.cos(a1 - a2)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _forward(values: np.ndarray, limit: float) -> np.ndarray:
    path = values.astype(float).copy()
    for i in range(1, len(path)):
        path[i] = path[i - 1] + min(limit, max(-limit, values[i] - path[i - 1]))
    return path


def rate_limited(values: np.ndarray, step_s: float, max_rate: float, centred: bool = True) -> np.ndarray:
    """A path no faster than max_rate that stays as close to `values` as it can.

    Not centred: the path trails (a forward pass). Centred: a swing the axis cannot make in time is made at full speed
    from half its length before the moment it is needed to half after. That is the mean of a forward and a backward
    pass at twice the rate (for a single step exactly so), held to the rate by a last forward pass."""
    limit = max_rate * step_s
    if not centred:
        return _forward(values, limit)
    forward = _forward(values, 2.0 * limit)
    backward = _forward(values[::-1], 2.0 * limit)[::-1]
    return _forward((forward + backward) / 2.0, limit)


def _within_cordwrap(axis1: np.ndarray, cordwrap: float) -> np.ndarray:
    """Each azimuth moved by whole turns into the one turn that starts at the cord-wrap position."""
    low = cordwrap + CORDWRAP_MARGIN
    span = 360.0 - 2.0 * CORDWRAP_MARGIN
    return np.clip(cordwrap + np.mod(axis1 - cordwrap, 360.0), low, low + span)


def plan_pass(
    times: np.ndarray,
    azimuth: np.ndarray,
    elevation: np.ndarray,
    *,
    geometry: Geometry,
    latitude: float,
    altitude_limits: tuple[float, float],
    cordwrap: float | None,
    max_rate: float,
    over_the_top: float | None = None,
) -> PassPlan:
    """The axes' path for the satellite seen at `azimuth`/`elevation` (degrees) at evenly spaced `times`.

    `over_the_top`: the highest angle the altitude axis may reach past the zenith (alt-az), or None for no flip."""
    azimuth = np.degrees(np.unwrap(np.radians(azimuth)))
    mount = _Mount(geometry, latitude, altitude_limits, cordwrap, max_rate)
    plan = _plan_below_the_zenith(times, azimuth, elevation, mount)
    if over_the_top is None or geometry is not Geometry.ALTAZ or len(times) < 3:
        return plan
    top = int(np.argmax(elevation))
    if top == 0 or top == len(times) - 1:  # culmination is over (or not within the plan): nothing to flip over
        return plan
    flipped = _plan_over_the_top(times, azimuth, elevation, top, mount, over_the_top)
    if flipped.worst_error >= plan.worst_error - FLIP_GAIN:
        return plan
    flipped.notes.insert(
        0,
        f"over the top: the altitude axis passes the zenith (up to {float(np.max(flipped.axis2)):.0f}°) with the "
        f"azimuth near {float(flipped.axis1[top]) % 360.0:.0f}°, instead of the azimuth swing that would trail the "
        f"satellite by up to {plan.worst_error:.1f}°",
    )
    return flipped


@dataclass(frozen=True)
class _Mount:
    """What a plan needs of the mount."""

    geometry: Geometry
    latitude: float
    altitude_limits: tuple[float, float]
    cordwrap: float | None
    max_rate: float


def _plan_below_the_zenith(times: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray, mount: _Mount) -> PassPlan:
    step = float(times[1] - times[0]) if len(times) > 1 else 1.0
    geometry, latitude, altitude_limits = mount.geometry, mount.latitude, mount.altitude_limits
    cordwrap, max_rate = mount.cordwrap, mount.max_rate
    low, high = altitude_limits
    notes: list[str] = []
    if geometry is Geometry.ALTAZ:
        wanted1, wanted2 = azimuth, np.clip(elevation, low, high)
        if np.any(elevation > high):
            notes.append(
                f"the satellite climbs above the highest allowed altitude ({high:g}°): the altitude axis waits there"
            )
    else:
        if np.any(elevation > high):
            raise ValueError(f"the pass climbs above the highest allowed altitude ({high:g}°)")
        hour_angle, declination = erfa.ae2hd(np.radians(azimuth), np.radians(elevation), math.radians(latitude))
        wanted1 = np.degrees(np.unwrap(hour_angle))
        wanted2 = np.degrees(declination)
    axis1 = rate_limited(wanted1, step, max_rate)
    axis2 = rate_limited(wanted2, step, max_rate)
    if geometry is Geometry.ALTAZ and cordwrap is not None:
        axis1 = _kept_from_the_cordwrap(axis1, times, cordwrap, max_rate, notes)
    plan = PassPlan(
        times, axis1, axis2, azimuth, elevation, geometry, latitude, notes=notes, altitude_limits=altitude_limits,
        highest_axis=high,
    )  # fmt: skip
    _find_worst(plan, wanted1, max_rate, step, high)
    return plan


def _plan_over_the_top(
    times: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray, top: int, mount: _Mount, highest_axis: float
) -> PassPlan:
    """Alt-az: before culmination as usual, after it aimed past the zenith (the module's docstring)."""
    step = float(times[1] - times[0])
    cordwrap, max_rate = mount.cordwrap, mount.max_rate
    low = mount.altitude_limits[0]
    sense = 1.0 if azimuth[min(top + 1, len(azimuth) - 1)] >= azimuth[max(top - 1, 0)] else -1.0
    wanted1 = azimuth - np.where(np.arange(len(times)) > top, sense * 180.0, 0.0)
    notes: list[str] = []
    axis1 = rate_limited(wanted1, step, max_rate)
    if cordwrap is not None:
        axis1 = _kept_from_the_cordwrap(axis1, times, cordwrap, max_rate, notes)
    # Where the azimuth axis lags, the altitude axis aims at the satellite's projection on the vertical plane the
    # azimuth axis is in: the nearest the tube can be (0° … 180°, past 90° over the top).
    az, el = np.radians(azimuth - axis1), np.radians(elevation)
    projected = np.degrees(np.arctan2(np.sin(el), np.cos(el) * np.cos(az)))
    projected = np.mod(projected + 90.0, 360.0) - 90.0  # just below the horizon behind is 180° and more, not -180°
    wanted2 = np.clip(projected, low, highest_axis)
    axis2 = rate_limited(wanted2, step, max_rate)
    plan = PassPlan(
        times, axis1, axis2, azimuth, elevation, Geometry.ALTAZ, mount.latitude, notes=notes,
        altitude_limits=mount.altitude_limits, over_the_top=True, highest_axis=highest_axis,
    )  # fmt: skip
    _find_worst(plan, wanted1, max_rate, step, highest_axis)
    return plan


def _kept_from_the_cordwrap(
    axis1: np.ndarray, times: np.ndarray, cordwrap: float, max_rate: float, notes: list[str]
) -> np.ndarray:
    """Turning round at the cord wrap is done at once and at full speed (forward only): spreading it like a zenith
    swing would lose the satellite for twice as long."""
    step = float(times[1] - times[0]) if len(times) > 1 else 1.0
    kept = _within_cordwrap(axis1, cordwrap)
    jumps = np.nonzero(np.abs(np.diff(kept)) > 180.0)[0]
    for index in jumps:
        notes.append(
            f"the azimuth passes the cord-wrap position ({cordwrap:g}°) at "
            f"{_clock(times[index])} UTC: the mount turns round at full speed and loses the satellite for "
            f"about {360.0 / max_rate:.0f} s"
        )
    return rate_limited(kept, step, max_rate, centred=False)


def _find_worst(plan: PassPlan, wanted1: np.ndarray, max_rate: float, step: float, high: float) -> None:
    pointed_az, pointed_el = _pointing(plan.axis1, plan.axis2, plan.geometry, plan.latitude)
    errors = separation(pointed_az, pointed_el, plan.azimuth, plan.elevation)
    index = int(np.argmax(errors))
    plan.worst_error, plan.worst_time = float(errors[index]), float(plan.times[index])
    elevation = float(plan.elevation[index])
    # The swing that put the plan behind may be some way from the worst moment: look as far as a half turn takes.
    reach = int(math.ceil(180.0 / max_rate / step))
    window = slice(max(0, index - reach), index + reach + 1)
    needed = float(np.max(np.abs(np.gradient(wanted1[window], step)))) if len(wanted1[window]) > 1 else 0.0
    if (
        any("cord-wrap" in note for note in plan.notes)
        and abs((float(plan.axis1[index] - wanted1[index]) + 180.0) % 360.0 - 180.0) > 5.0
    ):
        plan.worst_cause = "turning round at the cord-wrap position"
    elif plan.geometry is Geometry.ALTAZ and elevation > high:
        plan.worst_cause = f"the satellite is above the highest allowed altitude ({high:g}°)"
    elif plan.over_the_top and float(plan.axis2[index]) >= high - 1e-6:
        plan.worst_cause = f"past the zenith the altitude axis waits at the highest angle allowed ({high:g}°)"
    elif plan.over_the_top and plan.pointing(float(plan.axis1[index]), float(plan.axis2[index]))[1] > 60.0:
        miss = 90.0 - float(np.max(plan.elevation))
        plan.worst_cause = f"over the top with the azimuth held: the satellite passes {miss:.2f}° from the zenith"
    elif needed > max_rate:
        where = "the azimuth swing near the zenith" if plan.geometry is Geometry.ALTAZ and elevation > 60 else "axis 1"
        plan.worst_cause = f"{where}: {needed:.1f}°/s needed, {max_rate:g}°/s allowed"
    else:
        plan.worst_cause = "none: within the axes' rates"
    if plan.worst_error > 0.1 and not plan.worst_cause.startswith("turning"):
        plan.notes.append(
            f"at {_clock(plan.worst_time)} UTC ({elevation:.1f}° up) the mount trails the satellite by up to "
            f"{plan.worst_error:.2f}° — {plan.worst_cause}"
        )


def _clock(unix: float) -> str:
    seconds = int(round(unix)) % 86400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
