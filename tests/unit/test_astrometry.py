"""Astrometry for the NexStar driver: apparent place of date ⇄ alt-az / hour angle, catalogue ⇄ apparent, LAST.

Reference values come from astropy, used as an independent computation path: astropy starts from an ICRS position
and walks its own frame graph (ICRS → AltAz, ICRS → HADec, ICRS → TETE), with its own time-scale handling, Earth
ephemeris call and CIO/equinox bookkeeping. The module under test instead starts from astropy's TETE place (true
equator and equinox of date, geocentric — exactly INDI's "JNow" apparent place) and must land on astropy's AltAz /
HADec position. Both ultimately use the IAU 2006/2000A models, so they agree to milli-arcseconds when the inputs agree.

Making the inputs agree: the driver takes UT1 = UTC and no polar motion (it cannot know either). Astropy is given
the same Earth orientation by temporarily installing an IERS table whose UT1−UTC, polar motion and CIP offsets are
all zero (``iers.earth_orientation_table.set``); a Time created under it has ``delta_ut1_utc == 0`` and the
coordinate transforms read zero polar motion from it. Astropy is never allowed to touch the network: internet access,
IERS auto-download and the table age check are switched off for the duration (``conf.set_temp``), so no bundled or
cached IERS data — and no download — influences the result.

Round trips are property-tested with hypothesis; refraction, parallactic angle, separation and time conversions are
checked against known values and symmetries.
"""

from __future__ import annotations

import math
import subprocess
import sys
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Iterator

import erfa
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from indi_astrojolo.nexstar import astrometry
from indi_astrojolo.nexstar.astrometry import Horizontal, Instant, Site, Weather

astropy_units = pytest.importorskip("astropy.units")
from astropy.coordinates import TETE, AltAz, EarthLocation, HADec, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402
from astropy.utils import data as astropy_data  # noqa: E402
from astropy.utils import iers  # noqa: E402

u = astropy_units

# Dates past ERFA's leap-second horizon (here up to 2041) are flagged "dubious year". The module silences that in
# the driver, but pytest restores the warning filters after collecting, so the tests say it again.
pytestmark = pytest.mark.filterwarnings("ignore:ERFA function.*dubious year:erfa.ErfaWarning")

REFERENCE_TOLERANCE = 0.05  # arcsec, against astropy
ROUND_TRIP_TOLERANCE = 0.001  # arcsec

# Sites in both hemispheres and all around the globe; one longitude given in the 0..360 convention.
SITES = [
    Site(-60.0, -68.3, 40.0),
    Site(-33.9, 18.5, 10.0),
    Site(0.0, 100.0, 0.0),
    Site(35.0, 240.0, 1200.0),  # = -120° east
    Site(52.0, 0.5, 80.0),
    Site(70.0, 179.9, 0.0),
    Site(-12.0, -179.5, 2400.0),
]

# UTC times spread over 2000…2040, at different times of day; one on a leap-second day just before the leap.
TIMES = [
    "2000-01-01T00:00:00",
    "2008-06-21T05:31:12.5",
    "2016-12-31T23:59:59.5",
    "2027-09-09T14:02:40",
    "2040-11-30T19:45:00.125",
]


def instant(iso: str) -> Instant:
    return Instant.from_datetime(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc))


def arcsec_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance between two (longitude-like, latitude-like) points in degrees, in arcsec."""
    separation = erfa.seps(math.radians(lon1), math.radians(lat1), math.radians(lon2), math.radians(lat2))
    return math.degrees(separation) * 3600


def sky_sample() -> SkyCoord:
    """About 300 ICRS positions spread evenly over the sphere (a Fibonacci lattice)."""
    count = 300
    index = np.arange(count) + 0.5
    dec = np.degrees(np.arcsin(1 - 2 * index / count))
    ra = np.degrees(np.pi * (1 + 5**0.5) * index) % 360
    return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")


@pytest.fixture(scope="module")
def zero_earth_orientation() -> Iterator[None]:
    """Astropy with UT1 = UTC, no polar motion and no network (see module docstring)."""
    mjd = np.arange(40000.0, 70001.0)  # 1968 … 2050
    zero = np.zeros_like(mjd)
    table = iers.IERS_B(
        {
            "MJD": mjd * u.d,
            "UT1_UTC": zero * u.s,
            "PM_x": zero * u.arcsec,
            "PM_y": zero * u.arcsec,
            "dX_2000A": zero * u.arcsec,
            "dY_2000A": zero * u.arcsec,
        }
    )
    with ExitStack() as stack:
        stack.enter_context(astropy_data.conf.set_temp("allow_internet", False))
        stack.enter_context(iers.conf.set_temp("auto_download", False))
        stack.enter_context(iers.conf.set_temp("auto_max_age", None))
        if hasattr(iers.conf, "iers_degraded_accuracy"):
            stack.enter_context(iers.conf.set_temp("iers_degraded_accuracy", "ignore"))
        stack.enter_context(iers.earth_orientation_table.set(table))
        yield


def astropy_time(iso: str) -> Time:
    time = Time(iso, scale="utc")
    assert time.delta_ut1_utc == 0.0  # the zero IERS table is really in use
    return time


def location(site: Site) -> EarthLocation:
    return EarthLocation.from_geodetic(site.longitude * u.deg, site.latitude * u.deg, site.elevation * u.m)


# --- against astropy ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("zero_earth_orientation")
@pytest.mark.parametrize("site", SITES, ids=lambda site: f"{site.latitude:+.0f}{site.longitude:+.0f}")
@pytest.mark.parametrize("refraction", [False, True], ids=["geometric", "refracted"])
def test_horizontal_matches_astropy(site: Site, refraction: bool) -> None:
    weather = Weather(pressure_hpa=990.0, temperature_c=4.0, relative_humidity=0.7, wavelength_um=0.6)
    frame_weather = (
        dict(pressure=990.0 * u.hPa, temperature=4.0 * u.deg_C, relative_humidity=0.7, obswl=0.6 * u.micron)
        if refraction
        else dict(pressure=0.0 * u.hPa)
    )
    # Refraction models part company near the horizon; keep the refracted comparison well above it.
    lowest = 15.0 if refraction else 10.0
    stars = sky_sample()
    compared = 0
    for iso in TIMES:
        obstime = astropy_time(iso)
        reference = stars.transform_to(AltAz(obstime=obstime, location=location(site), **frame_weather))
        apparent = stars.transform_to(TETE(obstime=obstime))
        when = instant(iso)
        for index in np.nonzero(reference.alt.deg > lowest)[0]:
            got = astrometry.apparent_to_horizontal(
                apparent.ra.hour[index], apparent.dec.deg[index], when, site, weather if refraction else None
            )
            miss = arcsec_between(got.azimuth, got.altitude, reference.az.deg[index], reference.alt.deg[index])
            assert miss <= REFERENCE_TOLERANCE, (iso, index, got, miss)
            compared += 1
    assert compared > 100


@pytest.mark.usefixtures("zero_earth_orientation")
@pytest.mark.parametrize("site", SITES[::2], ids=lambda site: f"{site.latitude:+.0f}{site.longitude:+.0f}")
@pytest.mark.parametrize("refraction", [False, True], ids=["geometric", "refracted"])
def test_hour_angle_matches_astropy(site: Site, refraction: bool) -> None:
    # Weather() defaults, spelled out for astropy
    frame_weather = dict(
        pressure=(1013.25 if refraction else 0.0) * u.hPa,
        temperature=10.0 * u.deg_C,
        relative_humidity=0.5,
        obswl=0.55 * u.micron,
    )
    stars = sky_sample()
    for iso in TIMES[::2]:
        obstime = astropy_time(iso)
        frame = dict(obstime=obstime, location=location(site))
        reference = stars.transform_to(HADec(**frame, **frame_weather))
        altitude = stars.transform_to(AltAz(**frame)).alt.deg
        apparent = stars.transform_to(TETE(obstime=obstime))
        when = instant(iso)
        for index in np.nonzero(altitude > 15.0)[0]:
            hour_angle, dec = astrometry.apparent_to_hour_angle(
                apparent.ra.hour[index], apparent.dec.deg[index], when, site, Weather() if refraction else None
            )
            miss = arcsec_between(hour_angle * 15, dec, reference.ha.deg[index], reference.dec.deg[index])
            assert miss <= REFERENCE_TOLERANCE, (iso, index, miss)


@pytest.mark.usefixtures("zero_earth_orientation")
@pytest.mark.parametrize("iso", TIMES)
def test_catalogue_to_apparent_matches_astropy_tete(iso: str) -> None:
    stars = sky_sample()
    reference = stars.transform_to(TETE(obstime=astropy_time(iso)))
    when = instant(iso)
    for index in range(len(stars)):
        ra, dec = astrometry.j2000_to_apparent(stars.ra.hour[index], stars.dec.deg[index], when)
        assert arcsec_between(ra * 15, dec, reference.ra.deg[index], reference.dec.deg[index]) <= REFERENCE_TOLERANCE
        back_ra, back_dec = astrometry.apparent_to_j2000(reference.ra.hour[index], reference.dec.deg[index], when)
        assert arcsec_between(back_ra * 15, back_dec, stars.ra.deg[index], stars.dec.deg[index]) <= REFERENCE_TOLERANCE


@pytest.mark.usefixtures("zero_earth_orientation")
@pytest.mark.parametrize("iso", TIMES)
def test_local_apparent_sidereal_time_matches_astropy(iso: str) -> None:
    when = instant(iso)
    obstime = astropy_time(iso)
    for site in SITES:
        reference = obstime.sidereal_time("apparent", site.longitude * u.deg).hour
        got = astrometry.local_apparent_sidereal_time(when, site)
        assert 0.0 <= got < 24.0
        difference_seconds = ((got - reference + 12.0) % 24.0 - 12.0) * 3600.0
        assert abs(difference_seconds) <= 0.01


@pytest.mark.usefixtures("zero_earth_orientation")
@pytest.mark.parametrize("dut1", [-0.7, 0.45])
def test_a_given_ut1_minus_utc_matches_astropy(dut1: float) -> None:
    """UT1 = UTC + DUT1 turns the Earth by DUT1 seconds of time: astropy told the same (Time.delta_ut1_utc) agrees,
    and leaving DUT1 out would miss by several arcseconds (so the comparison can tell)."""
    site = SITES[4]
    weather = Weather(pressure_hpa=990.0, temperature_c=4.0, relative_humidity=0.7, wavelength_um=0.6)
    frame_weather = dict(pressure=990.0 * u.hPa, temperature=4.0 * u.deg_C, relative_humidity=0.7, obswl=0.6 * u.micron)
    stars = sky_sample()
    compared = 0
    for iso in TIMES[1::2]:
        obstime = astropy_time(iso)
        obstime.delta_ut1_utc = dut1
        reference = stars.transform_to(AltAz(obstime=obstime, location=location(site), **frame_weather))
        hour_angles = stars.transform_to(HADec(obstime=obstime, location=location(site), **frame_weather))
        apparent = stars.transform_to(TETE(obstime=obstime))
        when = Instant.from_datetime(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc), dut1)
        assert when.plus(10.0).dut1 == dut1
        last = obstime.sidereal_time("apparent", site.longitude * u.deg).hour
        got_last = astrometry.local_apparent_sidereal_time(when, site)
        assert abs(((got_last - last + 12.0) % 24.0 - 12.0) * 3600.0) <= 0.01
        for index in np.nonzero(reference.alt.deg > 15.0)[0]:
            ra, dec = apparent.ra.hour[index], apparent.dec.deg[index]
            got = astrometry.apparent_to_horizontal(ra, dec, when, site, weather)
            miss = arcsec_between(got.azimuth, got.altitude, reference.az.deg[index], reference.alt.deg[index])
            assert miss <= REFERENCE_TOLERANCE, (iso, index, miss)
            hour_angle, declination = astrometry.apparent_to_hour_angle(ra, dec, when, site, weather)
            miss = arcsec_between(hour_angle * 15, declination, hour_angles.ha.deg[index], hour_angles.dec.deg[index])
            assert miss <= REFERENCE_TOLERANCE, (iso, index, miss)
            without = astrometry.apparent_to_hour_angle(ra, dec, instant(iso), site, weather)
            assert abs(without[0] - hour_angle) * 15 * 3600 == pytest.approx(abs(dut1) * 15.04, rel=0.01)
            compared += 1
    assert compared > 50


# --- round trips --------------------------------------------------------------------------------------------------

unix_times = st.floats(min_value=946_684_800.0, max_value=2_240_524_800.0)  # 2000 … 2041
sites = st.builds(
    Site,
    latitude=st.floats(min_value=-89.9, max_value=89.9),
    longitude=st.floats(min_value=-180.0, max_value=360.0),
    elevation=st.floats(min_value=-50.0, max_value=4500.0),
)
weathers = st.one_of(
    st.none(),
    st.builds(
        Weather,
        pressure_hpa=st.floats(min_value=500.0, max_value=1050.0),
        temperature_c=st.floats(min_value=-30.0, max_value=35.0),
        relative_humidity=st.floats(min_value=0.0, max_value=1.0),
        wavelength_um=st.floats(min_value=0.35, max_value=1.0),
    ),
)
right_ascensions = st.floats(min_value=0.0, max_value=24.0, exclude_max=True)
declinations = st.floats(min_value=-89.999, max_value=89.999)


def round_trip_miss(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    return astrometry.angular_separation(ra1, dec1, ra2, dec2) * 3600


@settings(max_examples=300, deadline=None)
@given(unix_times, sites, weathers, right_ascensions, declinations)
def test_apparent_horizontal_round_trip(
    seconds: float, site: Site, weather: Weather | None, ra: float, dec: float
) -> None:
    when = Instant.from_unix(seconds)
    horizontal = astrometry.apparent_to_horizontal(ra, dec, when, site, weather)
    assume(horizontal.altitude > 5.0)
    assert 0.0 <= horizontal.azimuth < 360.0
    back_ra, back_dec = astrometry.horizontal_to_apparent(horizontal.azimuth, horizontal.altitude, when, site, weather)
    assert 0.0 <= back_ra < 24.0
    assert round_trip_miss(ra, dec, back_ra, back_dec) <= ROUND_TRIP_TOLERANCE


@settings(max_examples=200, deadline=None)
@given(
    unix_times,
    sites,
    weathers,
    st.floats(min_value=0.0, max_value=360.0, exclude_max=True),
    st.floats(min_value=5.0, max_value=90.0),
)
def test_horizontal_apparent_round_trip(
    seconds: float, site: Site, weather: Weather | None, azimuth: float, altitude: float
) -> None:
    when = Instant.from_unix(seconds)
    ra, dec = astrometry.horizontal_to_apparent(azimuth, altitude, when, site, weather)
    back = astrometry.apparent_to_horizontal(ra, dec, when, site, weather)
    # compared as points, so the azimuth may wander freely at the zenith
    assert arcsec_between(azimuth, altitude, back.azimuth, back.altitude) <= ROUND_TRIP_TOLERANCE


@settings(max_examples=300, deadline=None)
@given(unix_times, sites, weathers, right_ascensions, declinations)
def test_apparent_hour_angle_round_trip(
    seconds: float, site: Site, weather: Weather | None, ra: float, dec: float
) -> None:
    when = Instant.from_unix(seconds)
    assume(astrometry.apparent_to_horizontal(ra, dec, when, site, weather).altitude > 5.0)
    hour_angle, observed_dec = astrometry.apparent_to_hour_angle(ra, dec, when, site, weather)
    assert -12.0 < hour_angle <= 12.0
    back_ra, back_dec = astrometry.hour_angle_to_apparent(hour_angle, observed_dec, when, site, weather)
    assert round_trip_miss(ra, dec, back_ra, back_dec) <= ROUND_TRIP_TOLERANCE


@settings(max_examples=300, deadline=None)
@given(unix_times, right_ascensions, declinations)
def test_catalogue_apparent_round_trip(seconds: float, ra: float, dec: float) -> None:
    when = Instant.from_unix(seconds)
    apparent_ra, apparent_dec = astrometry.j2000_to_apparent(ra, dec, when)
    assert 0.0 <= apparent_ra < 24.0
    back_ra, back_dec = astrometry.apparent_to_j2000(apparent_ra, apparent_dec, when)
    assert round_trip_miss(ra, dec, back_ra, back_dec) <= ROUND_TRIP_TOLERANCE


@pytest.mark.parametrize("weather", [None, Weather()], ids=["geometric", "refracted"])
@pytest.mark.parametrize("site", SITES, ids=lambda site: f"{site.latitude:+.0f}{site.longitude:+.0f}")
def test_round_trip_through_the_zenith(site: Site, weather: Weather | None) -> None:
    when = instant("2024-05-04T22:10:00")
    for altitude in (90.0, 89.9999999, 89.99):
        for azimuth in (0.0, 123.4, 359.9):
            ra, dec = astrometry.horizontal_to_apparent(azimuth, altitude, when, site, weather)
            horizontal = astrometry.apparent_to_horizontal(ra, dec, when, site, weather)
            assert horizontal.altitude == pytest.approx(altitude, abs=1e-9)
            back_ra, back_dec = astrometry.horizontal_to_apparent(
                horizontal.azimuth, horizontal.altitude, when, site, weather
            )
            assert round_trip_miss(ra, dec, back_ra, back_dec) <= ROUND_TRIP_TOLERANCE


# --- refraction ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("site", [SITES[1], SITES[4]], ids=["south", "north"])
@pytest.mark.parametrize(("altitude", "low", "high"), [(10.0, 4.5, 6.0), (45.0, 0.9, 1.05)])
def test_refraction_lifts_objects(site: Site, altitude: float, low: float, high: float) -> None:
    when = instant("2031-02-14T03:00:00")
    ra, dec = astrometry.horizontal_to_apparent(200.0, altitude, when, site, weather=None)
    geometric = astrometry.apparent_to_horizontal(ra, dec, when, site, weather=None)
    refracted = astrometry.apparent_to_horizontal(ra, dec, when, site, weather=Weather())
    assert geometric.altitude == pytest.approx(altitude, abs=1e-9)
    assert geometric.azimuth == pytest.approx(200.0, abs=1e-9)
    lift_arcmin = (refracted.altitude - geometric.altitude) * 60
    assert low <= lift_arcmin <= high
    assert refracted.azimuth == pytest.approx(geometric.azimuth, abs=1e-9)  # refraction is purely vertical


def test_refraction_is_on_by_default() -> None:
    when, site = instant("2022-08-01T21:00:00"), SITES[4]
    assert astrometry.apparent_to_horizontal(3.0, 40.0, when, site) == astrometry.apparent_to_horizontal(
        3.0, 40.0, when, site, Weather()
    )
    assert astrometry.apparent_to_hour_angle(3.0, 40.0, when, site) == astrometry.apparent_to_hour_angle(
        3.0, 40.0, when, site, Weather()
    )
    assert astrometry.apparent_to_horizontal(3.0, 40.0, when, site) != astrometry.apparent_to_horizontal(
        3.0, 40.0, when, site, None
    )


def test_thinner_air_refracts_less() -> None:
    when, site = instant("2022-08-01T21:00:00"), SITES[3]
    ra, dec = astrometry.horizontal_to_apparent(90.0, 20.0, when, site, weather=None)
    sea_level = astrometry.apparent_to_horizontal(ra, dec, when, site, Weather(pressure_hpa=1013.25)).altitude
    mountain = astrometry.apparent_to_horizontal(ra, dec, when, site, Weather(pressure_hpa=700.0)).altitude
    assert 20.0 < mountain < sea_level
    assert (mountain - 20.0) / (sea_level - 20.0) == pytest.approx(700.0 / 1013.25, rel=0.01)


def test_hour_angle_without_refraction_follows_sidereal_time() -> None:
    # Without refraction the observed hour angle is LAST − RA up to diurnal aberration (≤ 0.32″).
    when, site = instant("2019-10-10T02:30:00"), SITES[2]
    last = astrometry.local_apparent_sidereal_time(when, site)
    for ra, dec in ((1.0, 10.0), (last, 0.0), (last + 3.0, -40.0)):
        hour_angle, observed_dec = astrometry.apparent_to_hour_angle(ra % 24, dec, when, site, None)
        expected = (last - ra + 12.0) % 24.0 - 12.0
        assert arcsec_between(hour_angle * 15, observed_dec, expected * 15, dec) <= 0.33


# --- geometry -----------------------------------------------------------------------------------------------------


def reference_parallactic_angle(hour_angle_hours: float, dec: float, latitude: float) -> float:
    """The textbook formula, tan q = sin H / (tan φ cos δ − sin δ cos H), written out independently of ERFA."""
    h, d, phi = math.radians(hour_angle_hours * 15), math.radians(dec), math.radians(latitude)
    return math.degrees(math.atan2(math.sin(h), math.tan(phi) * math.cos(d) - math.sin(d) * math.cos(h)))


@pytest.mark.parametrize("latitude", [-60.0, -33.0, 0.0, 35.0, 52.0, 70.0])
def test_parallactic_angle(latitude: float) -> None:
    site = Site(latitude, 10.0)
    for hour_angle in (-9.0, -5.5, -1.0, -0.1, 0.1, 2.0, 6.0, 11.0):
        for dec in (-75.0, -20.0, 0.0, 15.0, 60.0, 85.0):
            angle = astrometry.parallactic_angle(hour_angle, dec, site)
            assert angle == pytest.approx(reference_parallactic_angle(hour_angle, dec, latitude), abs=1e-9)
            # east and west of the meridian mirror each other
            assert astrometry.parallactic_angle(-hour_angle, dec, site) == pytest.approx(-angle, abs=1e-9)
            # the other hemisphere is the mirror image: q(H, δ, φ) = 180° − q(H, −δ, −φ)
            mirrored = astrometry.parallactic_angle(hour_angle, -dec, Site(-latitude, 10.0))
            assert (180.0 - mirrored - angle + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-9)
    # On the equator six hours from the meridian the zenith lies 90° − φ from north.
    assert astrometry.parallactic_angle(6.0, 0.0, site) == pytest.approx(90.0 - latitude, abs=1e-9)


@pytest.mark.parametrize(
    ("latitude", "dec", "expected"), [(52.0, 20.0, 0.0), (52.0, 70.0, 180.0), (-33.0, -60.0, 0.0), (-33.0, 10.0, 180.0)]
)
def test_parallactic_angle_on_the_meridian(latitude: float, dec: float, expected: float) -> None:
    # Zenith north of the object (object culminating south of it) → 0; zenith south of the object → 180.
    assert abs(astrometry.parallactic_angle(0.0, dec, Site(latitude, 0.0))) == pytest.approx(expected, abs=1e-12)


def test_angular_separation() -> None:
    assert astrometry.angular_separation(0.0, 0.0, 6.0, 0.0) == pytest.approx(90.0, abs=1e-12)
    assert astrometry.angular_separation(23.0, 0.0, 1.0, 0.0) == pytest.approx(30.0, abs=1e-12)
    assert astrometry.angular_separation(3.0, 89.0, 15.0, 89.0) == pytest.approx(2.0, abs=1e-12)
    assert astrometry.angular_separation(5.0, -30.0, 5.0, 60.0) == pytest.approx(90.0, abs=1e-12)
    assert astrometry.angular_separation(5.0, -90.0, 17.0, 90.0) == pytest.approx(180.0, abs=1e-12)
    assert astrometry.angular_separation(1.5, 20.0, 1.5, 20.0) == 0.0


def test_results_are_plain_floats() -> None:
    when, site = instant("2024-01-01T00:00:00"), SITES[4]
    horizontal = astrometry.apparent_to_horizontal(1.0, 50.0, when, site)
    values = [
        horizontal.azimuth,
        horizontal.altitude,
        *astrometry.horizontal_to_apparent(100.0, 40.0, when, site),
        *astrometry.apparent_to_hour_angle(1.0, 50.0, when, site),
        *astrometry.hour_angle_to_apparent(1.0, 50.0, when, site),
        *astrometry.j2000_to_apparent(1.0, 50.0, when),
        *astrometry.apparent_to_j2000(1.0, 50.0, when),
        astrometry.local_apparent_sidereal_time(when, site),
        astrometry.parallactic_angle(1.0, 50.0, site),
        astrometry.angular_separation(1.0, 50.0, 2.0, 40.0),
        when.jd1,
        when.jd2,
        Instant.from_unix(1.7e9).jd2,
    ]
    assert all(type(value) is float for value in values)
    assert isinstance(horizontal, Horizontal)


def test_longitude_conventions_agree() -> None:
    when = instant("2033-03-03T03:03:03")
    east, west = Site(-20.0, 250.0, 300.0), Site(-20.0, -110.0, 300.0)
    from_east = astrometry.apparent_to_horizontal(7.0, -30.0, when, east)
    from_west = astrometry.apparent_to_horizontal(7.0, -30.0, when, west)
    assert arcsec_between(from_east.azimuth, from_east.altitude, from_west.azimuth, from_west.altitude) < 1e-6
    assert astrometry.local_apparent_sidereal_time(when, east) == pytest.approx(
        astrometry.local_apparent_sidereal_time(when, west), abs=1e-12
    )


# --- time ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iso",
    ["2016-12-31T23:59:59.500000", "2016-12-31T12:00:00", "2017-01-01T00:00:00.250000", "2024-02-29T18:30:15.123456"],
)
def test_instant_from_datetime_and_unix_agree(iso: str) -> None:
    moment = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc)
    from_datetime = Instant.from_datetime(moment)
    from_unix = Instant.from_unix(moment.timestamp())
    difference_days = (from_datetime.jd1 - from_unix.jd1) + (from_datetime.jd2 - from_unix.jd2)
    assert abs(difference_days) * 86400 < 1e-6


def test_instant_honours_the_leap_second() -> None:
    # 2016-12-31 had a 61st second: one UTC second apart on paper, two SI seconds apart in reality.
    before = Instant.from_datetime(datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    after = Instant.from_datetime(datetime(2017, 1, 1, 0, 0, 0, tzinfo=timezone.utc))
    tai_before = erfa.utctai(before.jd1, before.jd2)
    tai_after = erfa.utctai(after.jd1, after.jd2)
    elapsed = ((tai_after[0] - tai_before[0]) + (tai_after[1] - tai_before[1])) * 86400
    assert elapsed == pytest.approx(2.0, abs=1e-6)


def test_instant_from_datetime_uses_the_timezone() -> None:
    local = datetime(2024, 7, 1, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    utc = datetime(2024, 7, 1, 0, 30, tzinfo=timezone.utc)
    assert Instant.from_datetime(local) == Instant.from_datetime(utc)
    with pytest.raises(ValueError):
        Instant.from_datetime(datetime(2024, 7, 1, 0, 30))


def test_instant_plus_keeps_precision() -> None:
    start = Instant.from_unix(1_700_000_000.0)
    later = start.plus(0.000_001)
    assert later.jd1 == start.jd1
    assert (later.jd2 - start.jd2) * 86400 == pytest.approx(1e-6, rel=1e-6)
    step = start.plus(3600.25)
    expected = Instant.from_unix(1_700_003_600.25)
    assert ((step.jd1 - expected.jd1) + (step.jd2 - expected.jd2)) * 86400 == pytest.approx(0.0, abs=1e-6)


def test_sidereal_time_advances_at_the_sidereal_rate() -> None:
    start, site = instant("2025-06-01T00:00:00"), SITES[0]
    first = astrometry.local_apparent_sidereal_time(start, site)
    second = astrometry.local_apparent_sidereal_time(start.plus(3600.0), site)
    assert (second - first) % 24 == pytest.approx(1.00273791, abs=1e-7)


def test_far_future_dates_do_not_warn_in_the_driver() -> None:
    # Run in a fresh interpreter where every warning is an error: the module's own filter must keep ERFA's
    # "dubious year" (dates past the known leap seconds) out of the driver's log.
    script = """
from datetime import datetime, timezone
from indi_astrojolo.nexstar import astrometry as a
when = a.Instant.from_datetime(datetime(2040, 6, 1, tzinfo=timezone.utc))
later = a.Instant.from_unix(2_240_000_000.0)
site = a.Site(50.0, 10.0)
ra, dec = a.horizontal_to_apparent(120.0, 30.0, when, site)
a.apparent_to_horizontal(ra, dec, later, site)
a.hour_angle_to_apparent(*a.apparent_to_hour_angle(ra, dec, when, site), when, site)
a.apparent_to_j2000(*a.j2000_to_apparent(ra, dec, later), later)
a.local_apparent_sidereal_time(when, site)
"""
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_interpolated_equation_of_the_origins_stays_within_a_microarcsecond_of_erfa() -> None:
    """Interpolated between values 10 minutes apart (eraEo06a is most of a conversion's cost): 2,000 random instants
    over 20 years, each within 1 µas of ERFA's own value, and the same instant always gives the same value."""
    rng = np.random.default_rng(7)
    worst = 0.0
    for tt in 2461000.5 + rng.uniform(-3650.0, 3650.0, 2000):
        whole = math.floor(tt)
        ours = astrometry.equation_of_origins(whole, tt - whole)
        worst = max(worst, abs(ours - float(erfa.eo06a(whole, tt - whole))))
        assert astrometry.equation_of_origins(whole, tt - whole) == ours
    assert math.degrees(worst) * 3600e6 < 1.0
