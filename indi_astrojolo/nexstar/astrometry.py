"""Astrometry for the NexStar driver: apparent place of date ⇄ the mount's axes, sans-I/O.

INDI's EQUATORIAL_EOD_COORD carries the *apparent place of date* ("JNow"): right ascension on the true equator
measured from the true equinox of date, with precession, nutation, annual aberration and light deflection already
applied (that is what KStars sends). ERFA's observed-place machinery works with CIO-based (CIRS) right ascension
instead; the two differ only by the equation of the origins, CIRS RA = apparent RA + EO, so each conversion below
shifts by EO and otherwise leaves all the astronomy to ERFA (precession-nutation, Earth rotation, diurnal aberration,
refraction). Nothing here is hand-rolled.

Two Earth-orientation quantities a driver cannot look up:

* UT1−UTC (dut1) travels with each instant (``Instant.dut1``, seconds; the driver's DUT1 property, zero unless the
  user gives it). |UT1−UTC| is kept below 0.9 s by the IERS, so leaving it at zero shifts hour angles and azimuths by
  at most 0.9 s of time (≈ 13.5″ of hour angle, less in azimuth away from the equator). Both directions of every
  conversion use the same value, so round trips stay exact; a one- or two-star alignment on the mount absorbs it.
* Polar motion (xp, yp) is set to zero: a few tenths of an arcsecond, far below what the mount can point.

Angles cross this module's boundary in the units INDI uses (hours for RA and hour angle, degrees otherwise) and are
converted to radians for ERFA. ERFA is called with plain floats and its numpy scalars are turned back into floats
so callers never see numpy types.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import erfa
import numpy as np

__all__ = [
    "Ambient",
    "Horizontal",
    "Instant",
    "Site",
    "Weather",
    "angular_separation",
    "apparent_to_horizontal",
    "apparent_to_hour_angle",
    "apparent_to_j2000",
    "hour_angle_to_apparent",
    "horizontal_to_apparent",
    "j2000_to_apparent",
    "local_apparent_sidereal_time",
    "parallactic_angle",
    "refraction_conditions",
    "standard_pressure_hpa",
]

# ERFA flags every date more than a few years past its release as a "dubious year" because future leap seconds are
# unknown. A running driver can do nothing about that (the error is at most a second or two of UTC−TAI, announced
# months ahead), so the warning would only be noise in its log; every other ERFA warning still gets through.
warnings.filterwarnings("ignore", message=r"ERFA function .*dubious year", category=erfa.ErfaWarning)

_TWO_PI = 2.0 * math.pi
_RADIANS_PER_HOUR = math.pi / 12.0
_SECONDS_PER_DAY = 86400.0
_UNIX_EPOCH_JD = 2440587.5


def _erfa(name: str, *args):
    """An ERFA function called through its ufunc, for the calls made several times a second: the erfa wrapper's
    status check (numpy reductions over one value) costs more than the calculation itself. Status 0, and the
    "dubious year" warning (+1) that the filter above drops anyway, pass; any other status goes through the wrapper,
    which warns or raises exactly as before."""
    *results, status = getattr(erfa.ufunc, name)(*args)
    if status == 0 or status == 1:
        return results[0] if len(results) == 1 else results
    return getattr(erfa, name)(*args)


def julian_dates(unix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds (an array) → the two-part Julian date ERFA and sgp4 take: whole days, and the day's fraction."""
    days = np.floor(unix / _SECONDS_PER_DAY)
    return _UNIX_EPOCH_JD + days, (unix - days * _SECONDS_PER_DAY) / _SECONDS_PER_DAY


# The refraction inverse in eraAtoiq is only consistent with eraAtioq to ~0.05″ at 85° zenith distance; a few
# corrective passes through the forward transform bring the round trip to well below a micro-arcsecond.
_REFINE_TOLERANCE = 1e-6 / 3600.0 * math.pi / 180.0  # radians (1 µas)
_REFINE_PASSES = 6


# --- inputs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """Where the mount stands (geodetic, WGS84)."""

    latitude: float  # degrees, north positive
    longitude: float  # degrees, east positive; 0..360 and -180..180 are both accepted
    elevation: float = 0.0  # metres above the ellipsoid


@dataclass(frozen=True, slots=True)
class Weather:
    """Ambient conditions for refraction. Pass ``weather=None`` to the conversions to leave refraction out."""

    pressure_hpa: float = 1013.25
    temperature_c: float = 10.0
    relative_humidity: float = 0.5  # 0..1
    wavelength_um: float = 0.55


# The ICAO standard atmosphere (ISO 2533) below 11 km: sea-level pressure and temperature, and the lapse rate.
STANDARD_PRESSURE_HPA = 1013.25
_STANDARD_TEMPERATURE_K = 288.15
_LAPSE_RATE_K_PER_M = 0.0065
_BAROMETRIC_EXPONENT = 5.25588  # g·M / (R·L)
# Refraction's temperature and humidity when no weather device says better: a night at a typical site.
DEFAULT_TEMPERATURE_C = 10.0
DEFAULT_HUMIDITY = 0.5


def standard_pressure_hpa(elevation_m: float) -> float:
    """Air pressure of the standard atmosphere at an elevation (hPa): 1013.25 at sea level, about 795 at 2000 m.

    Refraction is proportional to pressure, so a site at altitude refracted with sea-level pressure is off by the
    same fraction (about 20 % at 2000 m)."""
    return (
        STANDARD_PRESSURE_HPA
        * (1.0 - _LAPSE_RATE_K_PER_M * elevation_m / _STANDARD_TEMPERATURE_K) ** _BAROMETRIC_EXPONENT
    )


@dataclass(frozen=True, slots=True)
class Ambient:
    """What a weather device measured, for refraction; a quantity it does not measure is None."""

    source: str  # the device it came from, for the user
    temperature_c: float | None = None
    pressure_hpa: float | None = None  # at the site (station pressure), not reduced to sea level
    humidity_percent: float | None = None


def refraction_conditions(elevation_m: float, ambient: Ambient | None = None) -> tuple[Weather, str]:
    """The weather refraction is computed with, and where each value came from, in words.

    Each value a weather device gives is used; the pressure it does not give is the standard atmosphere's at the
    site's elevation, a temperature or humidity it does not give the defaults (10 °C, 50 %)."""
    given = ambient or Ambient("")
    weather = Weather(
        pressure_hpa=standard_pressure_hpa(elevation_m) if given.pressure_hpa is None else given.pressure_hpa,
        temperature_c=DEFAULT_TEMPERATURE_C if given.temperature_c is None else given.temperature_c,
        relative_humidity=DEFAULT_HUMIDITY if given.humidity_percent is None else given.humidity_percent / 100.0,
    )
    measured = [name for name, value in (("temperature", given.temperature_c), ("pressure", given.pressure_hpa),
                ("humidity", given.humidity_percent)) if value is not None]  # fmt: skip
    assumed = []
    if given.pressure_hpa is None:
        assumed.append(f"pressure of the standard atmosphere at {elevation_m:g} m")
    if given.temperature_c is None:
        assumed.append(f"{DEFAULT_TEMPERATURE_C:g} °C")
    if given.humidity_percent is None:
        assumed.append(f"{DEFAULT_HUMIDITY * 100:g} % humidity")
    parts = [f"weather device {given.source}: {', '.join(measured)}"] if measured else []
    if assumed:
        parts.append(("assumed: " if measured else "no weather device: ") + ", ".join(assumed))
    return weather, "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Instant:
    """A UTC instant as ERFA's two-part quasi Julian date.

    On a day with a leap second ERFA stretches that day to 86401 s, so the fraction in ``jd2`` is not simply
    seconds/86400 there; building instants through ``from_datetime``/``from_unix`` keeps that convention.
    """

    jd1: float
    jd2: float
    dut1: float = 0.0  # UT1−UTC in seconds at this instant (IERS Bulletin A's DUT1), for the Earth's rotation

    @classmethod
    def from_datetime(cls, when: datetime, dut1: float = 0.0) -> Instant:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("Instant.from_datetime needs a timezone-aware datetime")
        utc = when.astimezone(UTC)
        seconds = utc.second + utc.microsecond / 1e6
        jd1, jd2 = erfa.dtf2d("UTC", utc.year, utc.month, utc.day, utc.hour, utc.minute, seconds)
        return cls(float(jd1), float(jd2), dut1)

    @classmethod
    def from_unix(cls, seconds: float, dut1: float = 0.0) -> Instant:
        # Unix time counts 86400 s per day regardless of leap seconds, so split it into a calendar day and a time of
        # day and let dtf2d place that on ERFA's UTC scale exactly as from_datetime does. Splitting by hand (rather
        # than through datetime) keeps sub-microsecond precision.
        days, second_of_day = divmod(float(seconds), _SECONDS_PER_DAY)
        year, month, day, _ = _erfa("jd2cal", _UNIX_EPOCH_JD, days)
        hour, remainder = divmod(second_of_day, 3600.0)
        minute, second = divmod(remainder, 60.0)
        jd1, jd2 = _erfa("dtf2d", "UTC", int(year), int(month), int(day), int(hour), int(minute), second)
        return cls(float(jd1), float(jd2), dut1)

    def plus(self, seconds: float) -> Instant:
        # jd1 carries the large day number; adding to the small part keeps full precision.
        return Instant(self.jd1, self.jd2 + seconds / _SECONDS_PER_DAY, self.dut1)


@dataclass(frozen=True, slots=True)
class Horizontal:
    azimuth: float  # degrees 0..360, north 0, east 90
    altitude: float  # degrees


# --- helpers ------------------------------------------------------------------------------------------------------


def _normalise(angle: float) -> float:
    """Radians into [0, 2π)."""
    return float(erfa.anp(angle))


def _hours(angle: float) -> float:
    """Radians → hours in [0, 24); rounding can otherwise turn 2π − ε into exactly 24."""
    hours = _normalise(angle) / _RADIANS_PER_HOUR
    return 0.0 if hours >= 24.0 else hours


def _degrees(angle: float) -> float:
    """Radians → degrees in [0, 360)."""
    degrees = math.degrees(_normalise(angle))
    return 0.0 if degrees >= 360.0 else degrees


def _signed(angle: float) -> float:
    """Radians into (−π, π]."""
    wrapped = float(erfa.anpm(angle))
    return math.pi if wrapped == -math.pi else wrapped


def _terrestrial_time(when: Instant) -> tuple[float, float]:
    tai1, tai2 = _erfa("utctai", when.jd1, when.jd2)
    tt1, tt2 = _erfa("taitt", tai1, tai2)
    return float(tt1), float(tt2)


# The equation of the origins moves by a few µas a second (precession, and nutation terms of a week and more), and
# eraEo06a (the whole IAU 2000A nutation series) costs more than the rest of a conversion together. So it is computed
# at fixed moments 10 minutes apart and interpolated linearly between them: within 1 µas of eraEo06a (0.46 µas the
# worst of 20,000 random instants over 20 years), and the same instant always gets the same value, so round trips
# stay exact.
_EO_STEP_DAYS = 600.0 / _SECONDS_PER_DAY


@functools.lru_cache(maxsize=8)
def _eo_at_step(step: int) -> float:
    tt = step * _EO_STEP_DAYS
    whole = math.floor(tt)
    return float(erfa.eo06a(whole, tt - whole))


def equation_of_origins(tt1: float, tt2: float) -> float:
    """eraEo06a(tt1, tt2) to within 1 µas (radians); after the first call in a 10-minute stretch, a few µs."""
    steps = (tt1 / _EO_STEP_DAYS) + (tt2 / _EO_STEP_DAYS)
    step = math.floor(steps)
    before = _eo_at_step(step)
    return before + (steps - step) * (_eo_at_step(step + 1) - before)


def _observer(when: Instant, site: Site, weather: Weather | None):
    """ERFA's parameters for CIRS ⇄ observed at this site and moment, and the equation of the origins.

    eraApio13 rather than eraApco13: the latter folds diurnal aberration into the ICRS → CIRS step (it expects a
    topocentric CIRS place) and disables it in the observed step, whereas INDI's apparent place is geocentric, so
    the diurnal aberration (up to 0.3″) has to come from the CIRS → observed step. A pressure of zero is ERFA's way
    of saying "no refraction"; the other weather values are then irrelevant.
    """
    if weather is None:
        pressure, temperature, humidity, wavelength = 0.0, 10.0, 0.5, 0.55
    else:
        pressure = weather.pressure_hpa
        temperature = weather.temperature_c
        humidity = weather.relative_humidity
        wavelength = weather.wavelength_um
    astrom = _erfa(
        "apio13",
        when.jd1,
        when.jd2,
        when.dut1,  # UT1−UTC: see the module docstring
        _signed(math.radians(site.longitude)),
        math.radians(site.latitude),
        site.elevation,
        0.0,  # polar motion xp
        0.0,  # polar motion yp
        pressure,
        temperature,
        humidity,
        wavelength,
    )
    return astrom, equation_of_origins(*_terrestrial_time(when))


def _observed_to_cirs(kind: str, first: float, second: float, astrom, refracting: bool) -> tuple[float, float]:
    """Invert eraAtioq for ("A", azimuth, zenith distance) or ("H", hour angle, declination), radians.

    Without refraction eraAtoiq is already exact to 1 µas. With it, its closed-form refraction inverse drifts from
    the forward model by up to 0.05″ near the horizon, so the guess handed to eraAtoiq is nudged by whatever the
    forward transform misses until the two agree.
    """
    ri, di = erfa.atoiq(kind, first, second, astrom)
    if not refracting:
        return float(ri), float(di)
    horizontal = kind == "A"
    guess_first, guess_second = first, second
    for _ in range(_REFINE_PASSES):
        azimuth, zenith, hour_angle, declination, _ = erfa.atioq(ri, di, astrom)
        got_first, got_second = (azimuth, zenith) if horizontal else (hour_angle, declination)
        # Compare as points on the sphere: near the zenith or pole the longitude-like angle is meaningless.
        if horizontal:
            miss = erfa.seps(first, math.pi / 2 - second, got_first, math.pi / 2 - got_second)
        else:
            miss = erfa.seps(first, second, got_first, got_second)
        if miss <= _REFINE_TOLERANCE:
            break
        guess_first += _signed(first - float(got_first))
        guess_second += second - float(got_second)
        ri, di = erfa.atoiq(kind, guess_first, guess_second, astrom)
    return float(ri), float(di)


# --- apparent place ⇄ mount axes ----------------------------------------------------------------------------------


def apparent_to_horizontal(
    ra_hours: float, dec_degrees: float, when: Instant, site: Site, weather: Weather | None = Weather()
) -> Horizontal:
    """Apparent RA/Dec of date → observed azimuth/altitude (refracted unless ``weather`` is None)."""
    astrom, equation_of_origins = _observer(when, site, weather)
    cirs_ra = ra_hours * _RADIANS_PER_HOUR + equation_of_origins
    azimuth, zenith, _, _, _ = erfa.atioq(cirs_ra, math.radians(dec_degrees), astrom)
    return Horizontal(_degrees(float(azimuth)), 90.0 - math.degrees(float(zenith)))


def horizontal_to_apparent(
    azimuth: float, altitude: float, when: Instant, site: Site, weather: Weather | None = Weather()
) -> tuple[float, float]:
    """Observed azimuth/altitude → apparent (ra_hours 0..24, dec_degrees) of date."""
    astrom, equation_of_origins = _observer(when, site, weather)
    cirs_ra, dec = _observed_to_cirs(
        "A", math.radians(azimuth), math.radians(90.0 - altitude), astrom, weather is not None
    )
    return _hours(cirs_ra - equation_of_origins), math.degrees(dec)


def apparent_to_hour_angle(
    ra_hours: float, dec_degrees: float, when: Instant, site: Site, weather: Weather | None = Weather()
) -> tuple[float, float]:
    """Apparent RA/Dec → observed local hour angle (hours, (−12, 12], west positive) and declination (degrees).

    This is where a polar-aligned (wedge) mount must point: diurnal aberration and, with ``weather``, refraction
    are included, so the hour angle is not simply LAST − RA.
    """
    astrom, equation_of_origins = _observer(when, site, weather)
    cirs_ra = ra_hours * _RADIANS_PER_HOUR + equation_of_origins
    _, _, hour_angle, dec, _ = erfa.atioq(cirs_ra, math.radians(dec_degrees), astrom)
    return _signed(float(hour_angle)) / _RADIANS_PER_HOUR, math.degrees(float(dec))


def hour_angle_to_apparent(
    hour_angle_hours: float, dec_degrees: float, when: Instant, site: Site, weather: Weather | None = Weather()
) -> tuple[float, float]:
    """Observed local hour angle/declination → apparent (ra_hours 0..24, dec_degrees) of date."""
    astrom, equation_of_origins = _observer(when, site, weather)
    cirs_ra, dec = _observed_to_cirs(
        "H", hour_angle_hours * _RADIANS_PER_HOUR, math.radians(dec_degrees), astrom, weather is not None
    )
    return _hours(cirs_ra - equation_of_origins), math.degrees(dec)


# --- catalogue place ⇄ apparent place -----------------------------------------------------------------------------


def j2000_to_apparent(ra_hours: float, dec_degrees: float, when: Instant) -> tuple[float, float]:
    """ICRS (≈ J2000 catalogue) place of a distant star → geocentric apparent place of date, (hours, degrees).

    Proper motion, parallax and radial velocity are taken as zero. TT stands in for TDB (they differ by < 2 ms).
    """
    tt1, tt2 = _terrestrial_time(when)
    cirs_ra, dec, equation_of_origins = erfa.atci13(
        ra_hours * _RADIANS_PER_HOUR, math.radians(dec_degrees), 0.0, 0.0, 0.0, 0.0, tt1, tt2
    )
    return _hours(float(cirs_ra) - float(equation_of_origins)), math.degrees(float(dec))


def apparent_to_j2000(ra_hours: float, dec_degrees: float, when: Instant) -> tuple[float, float]:
    """Geocentric apparent place of date → ICRS (≈ J2000) place, (hours, degrees)."""
    tt1, tt2 = _terrestrial_time(when)
    # eraAtic13 wants CIRS RA, so the equation of the origins is needed before the call, not from its result.
    cirs_ra = ra_hours * _RADIANS_PER_HOUR + equation_of_origins(tt1, tt2)
    ra, dec, _ = erfa.atic13(cirs_ra, math.radians(dec_degrees), tt1, tt2)
    return _hours(float(ra)), math.degrees(float(dec))


# --- time and geometry --------------------------------------------------------------------------------------------


def local_apparent_sidereal_time(when: Instant, site: Site) -> float:
    """Local apparent sidereal time in hours 0..24 (UT1 = UTC + the instant's dut1)."""
    ut1_1, ut1_2 = _erfa("utcut1", when.jd1, when.jd2, when.dut1)
    tt1, tt2 = _terrestrial_time(when)
    greenwich = float(erfa.gst06a(ut1_1, ut1_2, tt1, tt2))
    return _hours(greenwich + math.radians(site.longitude))


def parallactic_angle(hour_angle_hours: float, dec_degrees: float, site: Site) -> float:
    """Position angle of the zenith seen from the target (degrees, north through east), as in eraHd2pa."""
    return math.degrees(
        float(erfa.hd2pa(hour_angle_hours * _RADIANS_PER_HOUR, math.radians(dec_degrees), math.radians(site.latitude)))
    )


def angular_separation(ra1_hours: float, dec1_degrees: float, ra2_hours: float, dec2_degrees: float) -> float:
    """Great-circle distance between two RA/Dec positions, degrees."""
    return math.degrees(
        float(
            erfa.seps(
                ra1_hours * _RADIANS_PER_HOUR,
                math.radians(dec1_degrees),
                ra2_hours * _RADIANS_PER_HOUR,
                math.radians(dec2_degrees),
            )
        )
    )
