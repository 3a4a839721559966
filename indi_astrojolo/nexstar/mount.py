"""Mount geometry, sans-I/O: motor encoders ⇄ axis angles, the pointing model built from sync points, altitude limits
and cord wrap.

Axis angles are (axis 1, axis 2) in degrees: azimuth (0 north, 90 east) and altitude for an alt-az mount; hour angle
×15 (west positive) and declination for an equatorial fork on a wedge. Encoders count 2^24 steps a turn: AZM up with
azimuth (N→E→S→W) or with hour angle (mirrored in the south, where the wedge points at the south pole), ALT up with
altitude or declination (mirrored in the south), read signed. With nothing saved, the power-on position 0/0 is the home
position: azimuth 0 (north), altitude 0 (level), as the AUX write-up sets the mount up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from ..files import Fields, load_document, save_document
from .aux import STEPS_PER_TURN

STEPS_PER_DEGREE = STEPS_PER_TURN / 360.0


class Geometry(Enum):
    ALTAZ = "ALTAZ"
    EQ_WEDGE = "EQ_WEDGE"


def wrap180(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def wrap360(angle: float) -> float:
    return angle % 360.0


@dataclass(frozen=True, slots=True)
class AxisAngles:
    axis1: float  # azimuth, or hour angle × 15 (degrees)
    axis2: float  # altitude, or declination (degrees)


def encoders_to_angles(azm_steps: int, alt_steps: int, geometry: Geometry, southern: bool) -> AxisAngles:
    azm = azm_steps / STEPS_PER_DEGREE
    if geometry is Geometry.EQ_WEDGE:
        alt = wrap180(alt_steps / STEPS_PER_DEGREE)
        if southern:
            azm, alt = -azm, -alt
        return AxisAngles(wrap180(azm), alt)
    # Alt-az: from straight down (-90°) to past the zenith over the top (a satellite pass takes it to 180°).
    return AxisAngles(wrap360(azm), (alt_steps / STEPS_PER_DEGREE + 90.0) % 360.0 - 90.0)


def angles_to_encoders(angles: AxisAngles, geometry: Geometry, southern: bool) -> tuple[int, int]:
    axis1, axis2 = angles.axis1, angles.axis2
    if geometry is Geometry.EQ_WEDGE and southern:
        axis1, axis2 = -axis1, -axis2
    azm = int(round(axis1 * STEPS_PER_DEGREE)) % STEPS_PER_TURN
    alt = int(round(axis2 * STEPS_PER_DEGREE)) % STEPS_PER_TURN
    return azm, alt


def axis1_sign(geometry: Geometry, southern: bool) -> int:
    """+1 when the AZM encoder counts up with axis 1, -1 when mirrored (a wedge in the south)."""
    return -1 if geometry is Geometry.EQ_WEDGE and southern else 1


def axis2_sign(geometry: Geometry, southern: bool) -> int:
    return -1 if geometry is Geometry.EQ_WEDGE and southern else 1


# --- pointing model -----------------------------------------------------------------------------------------------


def _vector(longitude: float, latitude: float) -> tuple[float, float, float]:
    lon, lat = math.radians(longitude), math.radians(latitude)
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def _angles(vector: tuple[float, float, float]) -> tuple[float, float]:
    x, y, z = vector
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))


def _tilt(vector: tuple[float, float, float], tilt_x: float, tilt_y: float) -> tuple[float, float, float]:
    """Rotate by small angles about the x axis (axis 1 = 0) then the y axis (axis 1 = 90): a tilted base."""
    x, y, z = vector
    a, b = math.radians(tilt_x), math.radians(tilt_y)
    y, z = y * math.cos(a) - z * math.sin(a), y * math.sin(a) + z * math.cos(a)
    x, z = x * math.cos(b) + z * math.sin(b), -x * math.sin(b) + z * math.cos(b)
    return (x, y, z)


def _untilt(vector: tuple[float, float, float], tilt_x: float, tilt_y: float) -> tuple[float, float, float]:
    x, y, z = vector
    a, b = math.radians(tilt_x), math.radians(tilt_y)
    x, z = x * math.cos(b) - z * math.sin(b), x * math.sin(b) + z * math.cos(b)
    y, z = y * math.cos(a) + z * math.sin(a), -y * math.sin(a) + z * math.cos(a)
    return (x, y, z)


@dataclass
class PointingModel:
    """Index offsets of both axes and the tilt of the mount's base (or polar axis), from sync points."""

    offset1: float = 0.0
    offset2: float = 0.0
    tilt_x: float = 0.0
    tilt_y: float = 0.0

    def to_mount(self, sky: AxisAngles) -> AxisAngles:
        """Where the axes must be to point at `sky` (ideal axis angles of the target). Given axis 2 past 90° (an
        alt-az mount over the top), the answer keeps the altitude axis past the zenith: of the two ways of pointing
        there, the one with axis 1 nearer the one asked for."""
        lon, lat = _angles(_tilt(_vector(sky.axis1, sky.axis2), self.tilt_x, self.tilt_y))
        if sky.axis2 > 90.0 and abs(wrap180(lon - sky.axis1)) > 90.0:
            lon, lat = lon + 180.0, 180.0 - lat
        return AxisAngles(lon + self.offset1, lat + self.offset2)

    def to_sky(self, mount: AxisAngles) -> AxisAngles:
        lon, lat = _angles(
            _untilt(_vector(mount.axis1 - self.offset1, mount.axis2 - self.offset2), self.tilt_x, self.tilt_y)
        )
        return AxisAngles(lon, lat)


@dataclass
class SyncPoint:
    sky1: float  # ideal axis angles of the star synced on
    sky2: float
    mount1: float  # axis angles read from the encoders
    mount2: float
    time_unix: float = 0.0
    label: str = ""


def _residuals(model: PointingModel, points: list[SyncPoint]) -> list[float]:
    out: list[float] = []
    for point in points:
        predicted = model.to_mount(AxisAngles(point.sky1, point.sky2))
        out.append(wrap180(predicted.axis1 - point.mount1) * math.cos(math.radians(point.mount2)))
        out.append(predicted.axis2 - point.mount2)
    return out


def fit_model(points: list[SyncPoint]) -> PointingModel:
    """Offsets from one point; offsets and tilt (least squares, Gauss-Newton) from three or more."""
    if not points:
        return PointingModel()
    if len(points) < 3:
        offset1 = sum(wrap180(p.mount1 - p.sky1) for p in points) / len(points)
        offset2 = sum(p.mount2 - p.sky2 for p in points) / len(points)
        return PointingModel(offset1, offset2)
    import numpy  # the driver already carries numpy through pyerfa; only a fit needs it here

    params = numpy.array(
        [
            sum(wrap180(p.mount1 - p.sky1) for p in points) / len(points),
            sum(p.mount2 - p.sky2 for p in points) / len(points),
            0.0,
            0.0,
        ]
    )
    for _ in range(20):
        model = PointingModel(*params)
        base = numpy.array(_residuals(model, points))
        jacobian = numpy.empty((len(base), 4))
        for i in range(4):
            step = numpy.zeros(4)
            step[i] = 1e-6
            jacobian[:, i] = (numpy.array(_residuals(PointingModel(*(params + step)), points)) - base) / 1e-6
        delta, *_ = numpy.linalg.lstsq(jacobian, -base, rcond=None)
        params = params + delta
        if float(numpy.max(numpy.abs(delta))) < 1e-10:
            break
    return PointingModel(*(float(v) for v in params))


def model_rms_arcsec(model: PointingModel, points: list[SyncPoint]) -> float:
    residuals = _residuals(model, points)
    if not residuals:
        return 0.0
    return math.sqrt(sum(r * r for r in residuals) / len(residuals)) * 3600.0


POINTING_FORMAT = "astrojolo-pointing-model"
POINTING_VERSION = 1
MAX_SYNC_POINTS = 10_000


def _sync_point(entry: Fields) -> SyncPoint:
    return SyncPoint(
        entry.number("sky1", -720.0, 720.0),
        entry.number("sky2", -360.0, 360.0),
        entry.number("mount1", -720.0, 720.0),
        entry.number("mount2", -360.0, 360.0),
        entry.number("time_unix", 0.0, 1e11) if entry.has("time_unix") else 0.0,
        entry.text("label"),
    )


@dataclass
class PointingStore:
    path: Path
    points: list[SyncPoint] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> PointingStore:
        """The saved sync points; StoreProblem (naming the file, the damaged one kept aside) if they cannot be used."""
        points = load_document(
            path,
            POINTING_FORMAT,
            POINTING_VERSION,
            lambda document: [
                _sync_point(entry) for entry in document.entries("points", "point", at_most=MAX_SYNC_POINTS)
            ],
        )
        return cls(path, points or [])

    def save(self) -> None:
        save_document(self.path, POINTING_FORMAT, POINTING_VERSION, {"points": [asdict(p) for p in self.points]})


PARK_FORMAT = "astrojolo-park"
PARK_VERSION = 1


@dataclass(frozen=True)
class ParkRecord:
    """The park file: the park position (axis angles) and, if the mount was parked, the encoders it was parked at."""

    parked: bool
    axis1: float
    axis2: float
    encoders: tuple[int, int] | None

    @classmethod
    def load(cls, path: Path) -> ParkRecord | None:
        """None if there is no park file; StoreProblem (naming the file, the damaged one kept aside) if it is bad."""
        return load_document(path, PARK_FORMAT, PARK_VERSION, cls._parse)

    @classmethod
    def _parse(cls, document: Fields) -> ParkRecord:
        encoders: tuple[int, int] | None = None
        if document.has("encoders"):
            axis1_steps, axis2_steps = document.integers("encoders", 2, 0, STEPS_PER_TURN - 1)
            encoders = (axis1_steps, axis2_steps)
        parked = document.boolean("parked") if document.has("parked") else False
        return cls(parked, document.number("axis1", -360.0, 360.0), document.number("axis2", -90.0, 90.0), encoders)

    def save(self, path: Path) -> None:
        fields = {"parked": self.parked, "axis1": self.axis1, "axis2": self.axis2,
                  "encoders": list(self.encoders) if self.encoders else None}  # fmt: skip
        save_document(path, PARK_FORMAT, PARK_VERSION, fields, indent=None)


# --- limits -------------------------------------------------------------------------------------------------------


def angular_separation(a: AxisAngles, b: AxisAngles) -> float:
    """The angle in degrees between two directions given as (longitude-like, latitude-like) axis angles."""
    cosine = sum(x * y for x, y in zip(_vector(a.axis1, a.axis2), _vector(b.axis1, b.axis2)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def crosses(start: float, delta: float, position: float) -> bool:
    """Does a motion of `delta` degrees from `start` pass over `position` (all azimuth-like, degrees)?"""
    if delta == 0:
        return False
    offset = wrap360(position - start) if delta > 0 else wrap360(start - position)
    return 0 < offset < abs(delta)  # arriving at or leaving the cord-wrap position is not crossing it


def azimuth_path(start: float, target: float, cordwrap: float | None) -> list[float]:
    """Waypoints (absolute axis-1 angles) for a move from start to target that never crosses the cord-wrap position.

    The short way is used unless it crosses the cord wrap; then the move goes round the other way through the
    point opposite the cord wrap, which splits it into two moves the motor controller takes the short way."""
    delta = wrap180(target - start)
    if cordwrap is None or not crosses(start, delta, cordwrap):
        return [target]
    return [wrap360(cordwrap + 180.0), target]
