"""Sunlight and the Earth's shadow on a satellite (nexstar/sunlight.py), against astropy.

The reference is written apart from the module: astropy turns sgp4's TEME position into GCRS and gives the Sun's
place there (get_sun, with its own ephemeris); the satellite is in shadow when the straight line from it to the Sun's
centre passes through the Earth (a sphere of the same radius). The module instead compares the angular radii of the
Earth and the Sun as the satellite sees them; the two agree wherever the Sun's centre is not within a few seconds of
the limb.
"""

from __future__ import annotations

import numpy as np
import pytest

from indi_astrojolo.nexstar.orbit import Orbit, parse_tle
from indi_astrojolo.nexstar.sunlight import EARTH_RADIUS_KM, sunlit_fraction

astropy_units = pytest.importorskip("astropy.units")
from astropy.coordinates import GCRS, TEME, CartesianRepresentation, get_sun  # noqa: E402
from astropy.time import Time  # noqa: E402
from sky_reference import zero_earth_orientation  # noqa: E402

u = astropy_units

# ISS (ZARYA), epoch 2020-01-01 19:42:47 UTC (sgp4's test suite); a 92.6-minute orbit.
ISS_TEXT = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   19366.82137887  .00016717  00000-0  10270-3 0  9129\n"
    "2 25544  51.6392  96.6358 0005156  88.7140 271.4601 15.49497216  6061\n"
)
ISS_EPOCH = 1577907767.134368
ORBIT_S = 92.6 * 60


@pytest.fixture(scope="module")
def iss() -> Orbit:
    return Orbit(parse_tle(ISS_TEXT, ISS_EPOCH))


def astropy_in_shadow(orbit: Orbit, times: np.ndarray) -> np.ndarray:
    """True where the segment from the satellite to the Sun's centre passes through the Earth."""
    with zero_earth_orientation():
        obstime = Time(times, format="unix", scale="utc")
        positions, _ = orbit.teme(times)
        satellite = TEME(CartesianRepresentation(positions.T * u.km), obstime=obstime).transform_to(
            GCRS(obstime=obstime)
        )
        r = satellite.cartesian.xyz.to_value(u.km).T
        s = get_sun(obstime).cartesian.xyz.to_value(u.km).T
    direction = (s - r) / np.linalg.norm(s - r, axis=1)[:, None]
    along = -np.einsum("ni,ni->n", r, direction)  # where on the line the Earth's centre is closest
    closest = np.linalg.norm(r + along[:, None] * direction, axis=1)
    return (along > 0) & (closest < EARTH_RADIUS_KM)


def test_sunlight_and_shadow_agree_with_astropy_over_a_day(iss: Orbit) -> None:
    times = ISS_EPOCH + np.arange(0.0, 86400.0, 10.0)
    fraction = iss.sunlit(times)
    shadow = astropy_in_shadow(iss, times)
    ours = fraction < 0.5  # the Sun's centre behind the limb
    # near an edge the two models may differ by the Sun's motion over light time and the frames (seconds)
    edge = (fraction > 0.0) & (fraction < 1.0)
    near_edge = np.convolve(edge, np.ones(3), mode="same") > 0
    assert np.array_equal(ours[~near_edge], shadow[~near_edge])
    # Each orbit has one passage through the shadow, entered and left once (about 16 a day).
    entries = np.count_nonzero(np.diff(ours.astype(int)) == 1)
    assert 14 <= entries <= 17, entries
    assert 0.25 < ours.mean() < 0.45, ours.mean()  # the ISS spends roughly a third of each orbit in shadow


def test_the_shadows_edge_takes_seconds_and_the_fraction_falls_steadily_through_it(iss: Orbit) -> None:
    coarse = ISS_EPOCH + np.arange(0.0, ORBIT_S * 2, 10.0)
    lit = iss.sunlit(coarse) == 1.0
    entry = coarse[np.flatnonzero(lit[:-1] & ~lit[1:])[0]]  # the last lit sample before the shadow
    times = entry + np.arange(0.0, 40.0, 0.1)
    fraction = iss.sunlit(times)
    start = np.flatnonzero(fraction < 1.0)[0]
    end = np.flatnonzero(fraction == 0.0)[0]
    penumbra_s = (end - start) * 0.1
    assert 3.0 < penumbra_s < 20.0, penumbra_s  # a low orbit crosses the penumbra in about ten seconds
    assert np.all(np.diff(fraction[start - 1 : end + 1]) <= 0.0)


def test_positions_far_from_the_earth_see_the_whole_sun_and_those_behind_it_none() -> None:
    sun = np.array([[1.496e8, 0.0, 0.0]] * 3)
    satellites = np.array([[7000.0, 0.0, 0.0], [-7000.0, 0.0, 0.0], [-7000.0, 6378.137, 0.0]])
    lit, dark, limb = sunlit_fraction(satellites, sun)
    assert lit == 1.0 and dark == 0.0
    assert limb == pytest.approx(0.5, abs=0.01)  # the Sun's centre on the limb: half its disc hidden
