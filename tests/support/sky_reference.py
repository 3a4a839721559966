"""Where a star is, computed by astropy: an independent check of where the driver points a mount.

The driver takes UT1 = UTC and no polar motion (README, Astrometry), so astropy is given the same Earth orientation:
an IERS table of zeros, with downloads off. Refraction uses the driver's default weather (astrometry.Weather()).
"""

from __future__ import annotations

import math
from contextlib import ExitStack

import numpy as np
from astropy import units as u
from astropy.coordinates import TETE, AltAz, EarthLocation, HADec, SkyCoord
from astropy.time import Time
from astropy.utils import data as astropy_data
from astropy.utils import iers

ELEVATION_M = 300.0  # what nexstar_rig.start_mount sends
# The driver refracts with the standard atmosphere's pressure at the site's elevation (ICAO: 1013.25 hPa, 288.15 K,
# 6.5 K/km at sea level), 10 °C and 50 % when no weather device is snooped.
STANDARD_PRESSURE_HPA = 1013.25 * (1.0 - 0.0065 * ELEVATION_M / 288.15) ** 5.25588
DRIVER_WEATHER = dict(
    pressure=STANDARD_PRESSURE_HPA * u.hPa, temperature=10.0 * u.deg_C, relative_humidity=0.5, obswl=0.55 * u.micron
)


def zero_earth_orientation() -> ExitStack:
    """Astropy offline, with UT1 = UTC and no polar motion, as the driver reckons (a context manager)."""
    mjd = np.arange(40000.0, 70001.0)
    zero = np.zeros_like(mjd)
    table = iers.IERS_B(
        {"MJD": mjd * u.d, "UT1_UTC": zero * u.s, "PM_x": zero * u.arcsec, "PM_y": zero * u.arcsec,
         "dX_2000A": zero * u.arcsec, "dY_2000A": zero * u.arcsec}
    )  # fmt: skip
    stack = ExitStack()
    stack.enter_context(astropy_data.conf.set_temp("allow_internet", False))
    stack.enter_context(iers.conf.set_temp("auto_download", False))
    stack.enter_context(iers.conf.set_temp("auto_max_age", None))
    if hasattr(iers.conf, "iers_degraded_accuracy"):
        stack.enter_context(iers.conf.set_temp("iers_degraded_accuracy", "ignore"))
    stack.enter_context(iers.earth_orientation_table.set(table))
    return stack


class Sky:
    """Conversions for one site, at Unix times, between the apparent place of date (TETE, what EQUATORIAL_EOD_COORD
    carries), the observed hour angle and declination, and the observed azimuth and altitude."""

    def __init__(self, latitude: float, longitude: float) -> None:
        self.location = EarthLocation.from_geodetic(longitude * u.deg, latitude * u.deg, ELEVATION_M * u.m)

    def _time(self, unix: float) -> Time:
        when = Time(unix, format="unix", scale="utc")
        assert when.delta_ut1_utc == 0.0
        return when

    def hour_angle(self, ra_hours: float, dec: float, unix: float) -> tuple[float, float]:
        """Observed (refracted) hour angle in degrees (west positive, -180…180) and declination of a star."""
        with zero_earth_orientation():
            when = self._time(unix)
            star = SkyCoord(ra_hours * u.hourangle, dec * u.deg, frame=TETE(obstime=when))
            place = star.transform_to(HADec(obstime=when, location=self.location, **DRIVER_WEATHER))
            return float(place.ha.wrap_at(180 * u.deg).deg), float(place.dec.deg)

    def star_at_hour_angle(self, hour_angle_deg: float, dec: float, unix: float) -> tuple[float, float]:
        """The apparent RA (hours) and Dec of a star seen at this observed hour angle and declination."""
        with zero_earth_orientation():
            when = self._time(unix)
            place = SkyCoord(hour_angle_deg * u.deg, dec * u.deg, frame=HADec(obstime=when, location=self.location, **DRIVER_WEATHER))
            star = place.transform_to(TETE(obstime=when))
            return float(star.ra.hour), float(star.dec.deg)

    def horizontal(self, ra_hours: float, dec: float, unix: float) -> tuple[float, float]:
        """Observed azimuth (0 north, 90 east) and altitude of a star."""
        with zero_earth_orientation():
            when = self._time(unix)
            star = SkyCoord(ra_hours * u.hourangle, dec * u.deg, frame=TETE(obstime=when))
            place = star.transform_to(AltAz(obstime=when, location=self.location, **DRIVER_WEATHER))
            return float(place.az.deg), float(place.alt.deg)

    def star_at(self, azimuth: float, altitude: float, unix: float) -> tuple[float, float]:
        """The apparent RA (hours) and Dec of what is seen at this azimuth and altitude."""
        with zero_earth_orientation():
            when = self._time(unix)
            place = SkyCoord(azimuth * u.deg, altitude * u.deg, frame=AltAz(obstime=when, location=self.location, **DRIVER_WEATHER))
            star = place.transform_to(TETE(obstime=when))
            return float(star.ra.hour), float(star.dec.deg)


def arcsec_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Angle between two directions given as (longitude-like, latitude-like) degrees."""
    a1, b1, a2, b2 = map(math.radians, (lon1, lat1, lon2, lat2))
    cosine = math.sin(b1) * math.sin(b2) + math.cos(b1) * math.cos(b2) * math.cos(a1 - a2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine)))) * 3600.0


def wrap180(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0
