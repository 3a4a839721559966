"""Satellite orbits for the NexStar driver, sans-I/O: TLE parsing, where a satellite is seen from a site, and passes.

No clock is read here: every function takes the instant as unix seconds (UTC, leap seconds not counted, which is
also how sgp4 counts TLE epochs). Times may be a float or a 1-D numpy array; pass prediction evaluates thousands of
instants in one vectorised call.

Frame chain, with the library that does each step:

1. sgp4 (``Satrec.twoline2rv`` with WGS72, the constants TLEs are fitted with; ``sgp4``/``sgp4_array``) gives the
   position and velocity in TEME (km, km/s) at the two-part Julian date (jd, fr) of the instant.
2. TEME → Earth-fixed (PEF, taken as ITRS): a rotation about the pole by GMST, ``erfa.gmst82`` (the IAU 1982
   sidereal time TEME is defined with), with UT1 = UTC. The velocity gets the same rotation minus ω×r, ω being the
   Earth's rotation rate, because the Earth-fixed frame rotates.
3. The site's Earth-fixed position from ``erfa.gd2gc`` (WGS84 geodetic latitude, longitude, height).
4. Satellite minus site, rotated to East-North-Up about the site's geodetic vertical; azimuth (north 0, east 90) and
   elevation follow from that vector, and the angular rates from the same rotation of the Earth-fixed velocity.
5. With a ``Weather``, ERFA's refraction: eraRefco's A·tan z + B·tan³ z coefficients applied exactly as eraAtioq
   applies them (astrometry.py's conversions go through eraAtioq, so both modules refract alike; eraAtioq holds the
   model at its 2.9° value below that altitude, and so does this module).

Effects left out, following astrometry.py's conventions where they apply:

* UT1−UTC is taken as zero (a driver cannot know it; |UT1−UTC| < 0.9 s). That turns the Earth under the satellite
  by at most 13.5″, moving it up to ~0.45 km relative to the site — less than a fresh TLE's own error (~1 km).
* Polar motion is ignored (a pole offset of ≤ 0.5″): the satellite moves ≤ ~17 m relative to the site, ≤ ~8″ at
  the ISS's closest approach, far below what the mount can point.
* Light time and aberration (the satellite is seen where it was ρ/c earlier, from a moving site): together at most
  v/c ≈ 5″. The directions here are geometric, as astropy's direct ITRS → AltAz transformation is.

Angular rates come from sgp4's velocity, not from a central difference: sgp4 returns the analytic derivative of its
position model at no extra cost, whereas a difference needs two more propagations per call and a step that trades
truncation against round-off. With refraction, the elevation rate is multiplied by d(refracted)/d(geometric).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import overload

import erfa
import numpy as np
from sgp4.api import SGP4_ERRORS, WGS72, Satrec

from .astrometry import Site, Weather, julian_dates
from .sunlight import sun_earth_fixed, sunlit_fraction

__all__ = [
    "Look",
    "LookArray",
    "Orbit",
    "Pass",
    "PassPoint",
    "TLE",
    "TLEError",
    "doppler",
    "next_pass",
    "parse_tle",
    "predict_passes",
    "tle_checksum",
]

_SECONDS_PER_DAY = 86400.0
_UNIX_EPOCH_JD = 2440587.5
_LINE_LENGTH = 69
_MAX_FUTURE_DAYS = 1.0
# Earth's nominal rotation rate (IERS; the rate Vallado's TEME → PEF velocity transformation uses), rad/s.
_EARTH_ROTATION_RATE = 7.292115146706979e-5
SPEED_OF_LIGHT_KM_S = 299_792.458
# eraAtioq's guards: the refraction formula is evaluated no lower than sin(altitude) = 0.05 (about 2.9°).
_REFRACTION_CELMIN = 1e-6
_REFRACTION_SELMIN = 0.05
# Step for d(refracted)/d(geometric) elevation, radians: the formula is smooth, so a central difference is good to
# ~1e-10.
_REFRACTION_DERIVATIVE_STEP = 1e-6

# Passes: samples this far apart cannot straddle both a maximum and a minimum of elevation (a LEO pass lasts minutes),
# and every event is then refined by bisection to well under the 0.1 s asked of it.
_PASS_SAMPLE_STEP = 30.0  # s
_EVENT_TOLERANCE = 1e-4  # s


class TLEError(ValueError):
    """A TLE that cannot be used; the message says what is wrong and where, for the astronomer to read."""


# --- TLE text -----------------------------------------------------------------------------------------------------

# Fields of the two element lines as (line, first column, last column, name, pattern), columns 1-based and
# inclusive as in the TLE format description. sgp4's fast reader takes whatever number a column starts with and
# silently reads garbage as 0 or a truncated value, so every field it uses is checked here first: numbers are
# right-aligned, spaces only before the first digit, decimal points where the format puts them.
_CATALOG = r" {0,4}[0-9]{1,5}|[A-HJ-NP-Z][0-9]{4}"  # digits, or Alpha-5 (a letter, I and O excepted, then 4 digits)
_DECIMAL_ANGLE = r" {0,2}[0-9]{1,3}\.[0-9]{4}"
_FIELDS = (
    (1, 3, 7, "catalog number", _CATALOG),
    (1, 9, 9, "separator", r" "),
    (1, 19, 20, "epoch year", r"[0-9]{2}"),
    (1, 21, 32, "epoch day of year", r" {0,2}[0-9]{1,3}\.[0-9]{8}"),
    (1, 33, 33, "separator", r" "),
    (1, 34, 43, "first derivative of mean motion", r"[ +-]\.[0-9]{8}"),
    (1, 44, 44, "separator", r" "),
    (1, 45, 52, "second derivative of mean motion", r"[ +-][0-9]{5}[ +-][0-9]"),
    (1, 53, 53, "separator", r" "),
    (1, 54, 61, "BSTAR drag term", r"[ +-][0-9]{5}[ +-][0-9]"),
    (1, 62, 62, "separator", r" "),
    (1, 63, 63, "ephemeris type", r"[ 0-9]"),
    (1, 64, 64, "separator", r" "),
    (1, 65, 68, "element set number", r" *[0-9]+"),
    (2, 3, 7, "catalog number", _CATALOG),
    (2, 8, 8, "separator", r" "),
    (2, 9, 16, "inclination", _DECIMAL_ANGLE),
    (2, 17, 17, "separator", r" "),
    (2, 18, 25, "right ascension of the ascending node", _DECIMAL_ANGLE),
    (2, 26, 26, "separator", r" "),
    (2, 27, 33, "eccentricity", r"[0-9]{7}"),
    (2, 34, 34, "separator", r" "),
    (2, 35, 42, "argument of perigee", _DECIMAL_ANGLE),
    (2, 43, 43, "separator", r" "),
    (2, 44, 51, "mean anomaly", _DECIMAL_ANGLE),
    (2, 52, 52, "separator", r" "),
    (2, 53, 63, "mean motion", r" ?[0-9]{1,2}\.[0-9]{8}"),
    (2, 64, 68, "revolution number", r" *[0-9]*"),
)
_COMPILED_FIELDS = tuple(
    (line, first, last, name, re.compile(pattern, re.ASCII)) for line, first, last, name, pattern in _FIELDS
)
# Value ranges the format allows, checked after the layout: (line, first, last, name, low, high, high included).
_RANGES = (
    (1, 21, 32, "epoch day of year", 1.0, 367.0, False),
    (2, 9, 16, "inclination", 0.0, 180.0, True),
    (2, 18, 25, "right ascension of the ascending node", 0.0, 360.0, True),
    (2, 35, 42, "argument of perigee", 0.0, 360.0, True),
    (2, 44, 51, "mean anomaly", 0.0, 360.0, True),
)


def tle_checksum(line: str) -> int:
    """The TLE checksum of the first 68 characters: digits count their value, '-' counts 1, the rest 0; mod 10."""
    total = 0
    for character in line[:68]:
        if "0" <= character <= "9":
            total += ord(character) - ord("0")
        elif character == "-":
            total += 1
    return total % 10


@dataclass(frozen=True, slots=True)
class TLE:
    name: str  # "" when the text had only the two element lines
    line1: str
    line2: str
    catalog_number: int
    epoch_unix: float

    def age_days(self, now_unix: float) -> float:
        """now − epoch in days; negative when the epoch is in the future."""
        return (now_unix - self.epoch_unix) / _SECONDS_PER_DAY


def _utc(unix: float, pattern: str = "%Y-%m-%d %H:%M UTC") -> str:
    return datetime.fromtimestamp(unix, UTC).strftime(pattern)


def _split_lines(text: str) -> tuple[str, str, str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 3:
        if lines[0].startswith("1 ") and lines[1].startswith("2 "):
            raise TLEError(f"TLE has an extra line after its two element lines: {lines[2][:30]!r}")
        name = lines[0][2:].strip() if lines[0].startswith("0 ") else lines[0]
        return name, lines[1], lines[2]
    if len(lines) == 2:
        return "", lines[0], lines[1]
    plural = "" if len(lines) == 1 else "s"
    raise TLEError(f"TLE must have 2 lines (or 3 with a name line first); got {len(lines)} non-blank line{plural}")


def _check_layout(number: int, line: str) -> None:
    if not line.startswith(f"{number} "):
        raise TLEError(f"TLE line {number} must start with '{number} ' but starts with {line[:2]!r}")
    if len(line) != _LINE_LENGTH:
        raise TLEError(f"TLE line {number} has {len(line)} characters; it must have {_LINE_LENGTH}")
    for column, character in enumerate(line, 1):
        if not " " <= character <= "~":
            raise TLEError(f"TLE line {number}, column {column}: {character!r} cannot appear in a TLE")
    expected = tle_checksum(line)
    found = line[-1]
    if found != str(expected):
        raise TLEError(f"TLE line {number} checksum mismatch: expected {expected}, found {found!r}")


def _check_fields(line1: str, line2: str) -> None:
    lines = {1: line1, 2: line2}
    for number, first, last, name, pattern in _COMPILED_FIELDS:
        text = lines[number][first - 1 : last]
        if not pattern.fullmatch(text):
            raise TLEError(f"TLE line {number}, columns {first}–{last} ({name}): cannot read {text!r}")
    if line1[2:7] != line2[2:7]:
        raise TLEError(
            f"TLE lines are for different satellites: line 1 has catalog number {line1[2:7].strip()}, "
            f"line 2 has {line2[2:7].strip()}"
        )
    for number, first, last, name, low, high, high_included in _RANGES:
        value = float(lines[number][first - 1 : last])
        if not (low <= value and (value <= high if high_included else value < high)):
            raise TLEError(f"TLE line {number}, columns {first}–{last} ({name}): {value:g} is out of range")
    if float(line2[52:63]) <= 0.0:
        raise TLEError("TLE line 2, columns 53–63 (mean motion): must be more than 0 revolutions a day")


def _satrec(line1: str, line2: str) -> Satrec:
    satrec = Satrec.twoline2rv(line1, line2, WGS72)
    if satrec.error:
        raise TLEError(
            f"TLE for satellite {satrec.satnum}: sgp4 cannot initialise the orbit: "
            f"error {satrec.error} ({SGP4_ERRORS.get(satrec.error, 'unknown')})"
        )
    return satrec


def _epoch_unix(satrec: Satrec) -> float:
    return ((satrec.jdsatepoch - _UNIX_EPOCH_JD) + satrec.jdsatepochF) * _SECONDS_PER_DAY


def parse_tle(text: str, now_unix: float, max_age_days: float = 14.0) -> TLE:
    """Check a TLE as pasted by the astronomer (2 or 3 lines, any line endings) and return it, or raise TLEError."""
    name, line1, line2 = _split_lines(text)
    _check_layout(1, line1)
    _check_layout(2, line2)
    _check_fields(line1, line2)
    satrec = _satrec(line1, line2)
    tle = TLE(name, line1, line2, int(satrec.satnum), _epoch_unix(satrec))
    age = tle.age_days(now_unix)
    if age > max_age_days:
        raise TLEError(
            f"TLE epoch {_utc(tle.epoch_unix, '%Y-%m-%d')} is {age:.1f} days old (limit {max_age_days:g}); "
            "load a recent TLE"
        )
    if -age > _MAX_FUTURE_DAYS:
        raise TLEError(
            f"TLE epoch {_utc(tle.epoch_unix, '%Y-%m-%d')} is {-age:.1f} days in the future "
            f"(limit {_MAX_FUTURE_DAYS:g}); check the date and time"
        )
    Orbit(tle).earth_fixed(now_unix)  # raises TLEError if sgp4 finds the orbit decayed or invalid now
    return tle


# --- positions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Look:
    """The satellite seen from a site at one instant. Angles in degrees, rates in degrees per second."""

    azimuth: float  # 0..360, north 0, east 90
    elevation: float  # geometric, or refracted when a Weather was given
    range_km: float
    azimuth_rate: float
    elevation_rate: float
    range_rate_km_s: float


def doppler(frequency: float, range_rate_km_s: float) -> tuple[float, float]:
    """A radio frequency on the satellite as heard on the ground (its downlink) and the one to send from the ground
    for the satellite to hear it (its uplink), for a range rate that is positive while the satellite recedes.
    First order in v/c: the second-order terms are below 1e-9 of the frequency (0.4 Hz at 435 MHz)."""
    beta = range_rate_km_s / SPEED_OF_LIGHT_KM_S
    return frequency * (1.0 - beta), frequency * (1.0 + beta)


@dataclass(frozen=True, slots=True)
class LookArray:
    """The same as Look for an array of instants; every field is a 1-D numpy array."""

    azimuth: np.ndarray
    elevation: np.ndarray
    range_km: np.ndarray
    azimuth_rate: np.ndarray
    elevation_rate: np.ndarray
    range_rate_km_s: np.ndarray

    def __len__(self) -> int:
        return len(self.azimuth)

    def __getitem__(self, index: int) -> Look:
        return Look(
            float(self.azimuth[index]),
            float(self.elevation[index]),
            float(self.range_km[index]),
            float(self.azimuth_rate[index]),
            float(self.elevation_rate[index]),
            float(self.range_rate_km_s[index]),
        )


@dataclass(frozen=True, slots=True)
class _Station:
    position_km: np.ndarray  # Earth-fixed, shape (3,)
    enu: np.ndarray  # rows: east, north, up unit vectors in the Earth-fixed frame, shape (3, 3)


@lru_cache(maxsize=64)
def _station(site: Site) -> _Station:
    longitude, latitude = math.radians(site.longitude), math.radians(site.latitude)
    position = np.asarray(erfa.gd2gc(1, longitude, latitude, site.elevation), dtype=float) / 1000.0  # 1 = WGS84
    sin_lat, cos_lat = math.sin(latitude), math.cos(latitude)
    sin_lon, cos_lon = math.sin(longitude), math.cos(longitude)
    enu = np.array(
        [
            [-sin_lon, cos_lon, 0.0],
            [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat],
            [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat],
        ]
    )
    return _Station(position, enu)


@lru_cache(maxsize=16)
def _refraction_constants(weather: Weather) -> tuple[float, float]:
    refa, refb = erfa.refco(
        weather.pressure_hpa, weather.temperature_c, weather.relative_humidity, weather.wavelength_um
    )
    return float(refa), float(refb)


def _refract(elevation: np.ndarray, refa: float, refb: float) -> np.ndarray:
    """Geometric → refracted elevation (radians), eraAtioq's refraction step on the unit vector (cos e, sin e)."""
    horizontal, vertical = np.cos(elevation), np.sin(elevation)
    r = np.maximum(horizontal, _REFRACTION_CELMIN)
    z = np.maximum(vertical, _REFRACTION_SELMIN)
    tan_z = r / z
    w = refb * tan_z * tan_z
    delta = (refa + w) * tan_z / (1.0 + (refa + 3.0 * w) / (z * z))
    cos_delta = 1.0 - delta * delta / 2.0
    f = cos_delta - delta * z / r
    return np.arctan2(cos_delta * vertical + delta * r, horizontal * f)


class Orbit:
    """A TLE ready to propagate (sgp4, WGS72)."""

    def __init__(self, tle: TLE) -> None:
        self.tle = tle
        self._satrec = _satrec(tle.line1, tle.line2)

    def teme(self, unix) -> tuple[np.ndarray, np.ndarray]:
        """TEME position (km) and velocity (km/s), shape (n, 3), for a float (n = 1) or a 1-D array of instants."""
        unix = np.atleast_1d(np.asarray(unix, dtype=float))
        jd, fraction = julian_dates(unix)
        if len(unix) == 1:  # the scalar call avoids the array machinery: the tracking loop asks for one instant
            error, position, velocity = self._satrec.sgp4(float(jd[0]), float(fraction[0]))
            errors, positions, velocities = np.array([error]), np.array([position]), np.array([velocity])
        else:
            errors, positions, velocities = self._satrec.sgp4_array(jd, fraction)
        if errors.any():
            failed = int(np.flatnonzero(errors)[0])
            code = int(errors[failed])
            raise TLEError(
                f"TLE for satellite {self.tle.catalog_number} cannot be propagated to {_utc(float(unix[failed]))}: "
                f"sgp4 error {code} ({SGP4_ERRORS.get(code, 'unknown')})"
            )
        return positions, velocities

    def earth_fixed(self, unix) -> tuple[np.ndarray, np.ndarray]:
        """Earth-fixed (PEF ≈ ITRS, polar motion ignored) position (km) and velocity (km/s), shape (n, 3).

        ``unix`` may be a float (then n = 1) or a 1-D array.
        """
        times = np.atleast_1d(np.asarray(unix, dtype=float))
        position, velocity = self.teme(times)
        gmst = erfa.gmst82(*julian_dates(times))  # UT1 = UTC: see the module docstring
        cos_g, sin_g = np.cos(gmst), np.sin(gmst)
        x = cos_g * position[:, 0] + sin_g * position[:, 1]
        y = -sin_g * position[:, 0] + cos_g * position[:, 1]
        earth_position = np.column_stack((x, y, position[:, 2]))
        # v_rotating = R·v − ω × (R·r), with ω along +z
        vx = cos_g * velocity[:, 0] + sin_g * velocity[:, 1] + _EARTH_ROTATION_RATE * y
        vy = -sin_g * velocity[:, 0] + cos_g * velocity[:, 1] - _EARTH_ROTATION_RATE * x
        earth_velocity = np.column_stack((vx, vy, velocity[:, 2]))
        return earth_position, earth_velocity

    def sunlit(self, unix) -> np.ndarray:
        """The fraction of the Sun's disc the satellite sees (sunlight.py): 1 in sunlight, 0 in the Earth's shadow;
        an array of one value per instant, a float instant giving one."""
        position, _velocity = self.earth_fixed(unix)
        return sunlit_fraction(position, sun_earth_fixed(unix))

    @overload
    def topocentric(self, site: Site, unix: float, weather: Weather | None = None) -> Look: ...

    @overload
    def topocentric(self, site: Site, unix: np.ndarray, weather: Weather | None = None) -> LookArray: ...

    def topocentric(self, site: Site, unix: float | np.ndarray, weather: Weather | None = None) -> Look | LookArray:
        """Azimuth, elevation, range and their rates seen from ``site``; a Look for a float, a LookArray for an
        array of instants. Elevations are refracted when ``weather`` is given."""
        scalar = np.ndim(unix) == 0
        position, velocity = self.earth_fixed(unix)
        station = _station(site)
        east, north, up = station.enu @ (position - station.position_km).T
        d_east, d_north, d_up = station.enu @ velocity.T
        # A satellite exactly at the zenith has no azimuth; the floor keeps its (unbounded) rate finite.
        horizontal_sq = np.maximum(east * east + north * north, 1e-18)
        horizontal = np.sqrt(horizontal_sq)
        range_km = np.sqrt(horizontal_sq + up * up)
        azimuth = np.arctan2(east, north) % (2.0 * math.pi)
        elevation = np.arctan2(up, horizontal)
        azimuth_rate = (north * d_east - east * d_north) / horizontal_sq
        range_rate = (east * d_east + north * d_north + up * d_up) / range_km
        elevation_rate = (horizontal_sq * d_up - up * (east * d_east + north * d_north)) / (range_km**2 * horizontal)
        if weather is not None:
            step = _REFRACTION_DERIVATIVE_STEP
            nearby = elevation + np.array([[-step], [0.0], [step]])  # one call: numpy's overhead dominates here
            below, elevation, above = _refract(nearby, *_refraction_constants(weather))
            elevation_rate = elevation_rate * (above - below) / (2.0 * step)
        azimuth_deg = np.degrees(azimuth)
        azimuth_deg[azimuth_deg >= 360.0] = 0.0
        if scalar:
            return Look(
                float(azimuth_deg[0]),
                math.degrees(elevation[0]),
                float(range_km[0]),
                math.degrees(azimuth_rate[0]),
                math.degrees(elevation_rate[0]),
                float(range_rate[0]),
            )
        return LookArray(
            azimuth_deg,
            np.degrees(elevation),
            range_km,
            np.degrees(azimuth_rate),
            np.degrees(elevation_rate),
            range_rate,
        )


# --- passes -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PassPoint:
    unix: float
    azimuth: float
    elevation: float


@dataclass(frozen=True, slots=True)
class Pass:
    """One time above the minimum elevation, clipped to the window it was searched in.

    A pass already above the minimum when the window opens starts at the window's start (``in_progress_at_start``);
    one still above it when the window closes ends there (``clipped_at_end``). The culmination is the highest point
    within those bounds.
    """

    rise: PassPoint
    culmination: PassPoint
    set: PassPoint
    in_progress_at_start: bool = False
    clipped_at_end: bool = False

    @property
    def duration(self) -> float:
        """Seconds from rise to set."""
        return self.set.unix - self.rise.unix


def _bisect(function, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Roots of ``function`` (vectorised) bracketed by [low, high], where its sign differs at the two ends."""
    low, high = low.copy(), high.copy()
    low_positive = function(low) > 0.0
    while low.size and np.max(high - low) > _EVENT_TOLERANCE:
        middle = (low + high) / 2.0
        same_side = (function(middle) > 0.0) == low_positive
        low = np.where(same_side, middle, low)
        high = np.where(same_side, high, middle)
    return (low + high) / 2.0


def predict_passes(
    orbit: Orbit,
    site: Site,
    start_unix: float,
    end_unix: float,
    min_elevation: float = 0.0,
    weather: Weather | None = None,
) -> list[Pass]:
    """Every pass above ``min_elevation`` (degrees) that overlaps [start_unix, end_unix], in time order.

    The elevation is sampled every 30 s; its maxima and minima are found where the elevation rate changes sign and
    refined by bisection, which splits the window into stretches where the elevation is monotonic. Each stretch holds
    at most one crossing of ``min_elevation``, also refined by bisection. Events are located to 0.1 ms.
    """
    if end_unix <= start_unix:
        return []

    def elevation_above(times: np.ndarray) -> np.ndarray:
        return orbit.topocentric(site, times, weather).elevation - min_elevation

    def elevation_rate(times: np.ndarray) -> np.ndarray:
        return orbit.topocentric(site, times, weather).elevation_rate

    count = max(2, int(math.ceil((end_unix - start_unix) / _PASS_SAMPLE_STEP)) + 1)
    samples = np.linspace(start_unix, end_unix, count)
    rate = elevation_rate(samples)
    rising = rate > 0.0
    turning = np.flatnonzero(rising[:-1] != rising[1:])
    extremes = _bisect(elevation_rate, samples[turning], samples[turning + 1])
    bounds = np.concatenate(([start_unix], extremes, [end_unix]))
    height = elevation_above(bounds)
    up = height >= 0.0
    crossing = np.flatnonzero(up[:-1] != up[1:])
    crossings = _bisect(elevation_above, bounds[crossing], bounds[crossing + 1])

    # Walk the window's start, its turning points and crossings in time order, opening a pass when the satellite is
    # up and closing it when it goes down.
    events = sorted(
        [(start_unix, "start")]
        + [(float(t), "extreme") for t in extremes]
        + [(float(t), "cross") for t in crossings]
        + [(end_unix, "end")]
    )
    looks = orbit.topocentric(site, np.array([t for t, _ in events]), weather)
    passes: list[Pass] = []
    rise: PassPoint | None = None
    best: PassPoint | None = None
    in_progress = False
    for index, (unix, kind) in enumerate(events):
        point = PassPoint(unix, float(looks.azimuth[index]), float(looks.elevation[index]))
        if kind == "start":
            if bool(up[0]):
                rise = best = point
                in_progress = True
            continue
        if rise is None:
            if kind == "cross":
                rise = best = point
            continue
        assert best is not None  # set with rise
        if point.elevation > best.elevation:
            best = point
        if kind in ("cross", "end"):
            passes.append(
                Pass(
                    rise=rise,
                    culmination=best,
                    set=point,
                    in_progress_at_start=in_progress,
                    clipped_at_end=kind == "end",
                )
            )
            rise = best = None
            in_progress = False
    return passes


def next_pass(
    orbit: Orbit,
    site: Site,
    after_unix: float,
    horizon_days: float = 2.0,
    min_elevation: float = 0.0,
    weather: Weather | None = None,
) -> Pass | None:
    """The first pass within ``horizon_days`` after ``after_unix``; one already in progress then is returned with
    ``in_progress_at_start`` set. None when the satellite does not rise above ``min_elevation`` in that time."""
    passes = predict_passes(
        orbit, site, after_unix, after_unix + horizon_days * _SECONDS_PER_DAY, min_elevation, weather
    )
    return passes[0] if passes else None
