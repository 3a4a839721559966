"""Satellite passes made to order, for tests and emulator scenarios.

A site is placed beside the satellite's ground track so that the pass reaches a chosen culmination elevation: the
sub-satellite point comes from the Earth-fixed position (``Orbit.earth_fixed``) and ``erfa.gc2gd``, and the site is
moved perpendicular to the track by the Earth-central angle that geometry gives for that elevation. The pass is then
predicted for real and the offset and time corrected until the pass is what was asked for.
"""

from __future__ import annotations

import math

import erfa
import numpy as np

from indi_astrojolo.nexstar.astrometry import Site
from indi_astrojolo.nexstar.orbit import Orbit, Pass, predict_passes

EARTH_RADIUS_M = 6378137.0  # WGS84 equatorial; only scales a direction onto the surface for erfa.gc2gd
ELEVATION_TOLERANCE = 0.1  # degrees the culmination may miss the request by
RISE_TOLERANCE = 2.0  # seconds the rise may miss the requested time by
ATTEMPTS = 12


def subsatellite_point(orbit: Orbit, unix: float) -> tuple[float, float, float]:
    """Geodetic (latitude, longitude, height km) under the satellite, WGS84."""
    position, _ = orbit.earth_fixed(unix)
    longitude, latitude, height = erfa.gc2gd(1, position[0] * 1000.0)
    return math.degrees(latitude), math.degrees(longitude), float(height) / 1000.0


def _central_angle(culmination_elevation: float, satellite_radius_km: float) -> float:
    """Earth-central angle (radians) between a site and the point under a satellite seen at this elevation."""
    elevation = math.radians(culmination_elevation)
    earth_radius_km = EARTH_RADIUS_M / 1000.0
    return math.acos(earth_radius_km * math.cos(elevation) / satellite_radius_km) - elevation


def _track(orbit: Orbit, unix: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors, Earth-fixed: towards the satellite, and the pole of its ground track (left of the motion)."""
    position, velocity = orbit.earth_fixed(unix)
    pole = np.cross(position[0], velocity[0])
    return position[0] / np.linalg.norm(position[0]), pole / np.linalg.norm(pole)


def _site_beside_track(orbit: Orbit, unix: float, central_angle: float) -> Site:
    """Site at ``central_angle`` from the sub-satellite point, perpendicular to the track (positive: left of it)."""
    nadir, pole = _track(orbit, unix)
    direction = math.cos(central_angle) * nadir + math.sin(central_angle) * pole
    longitude, latitude, _ = erfa.gc2gd(1, direction * EARTH_RADIUS_M)
    return Site(round(math.degrees(latitude), 9), round(math.degrees(longitude), 9), 0.0)


def _pass_around(orbit: Orbit, site: Site, unix: float, min_elevation: float) -> Pass | None:
    passes = predict_passes(orbit, site, unix - 1800.0, unix + 1800.0, min_elevation)
    complete = [p for p in passes if not p.in_progress_at_start and not p.clipped_at_end]
    return min(complete, key=lambda p: abs(p.culmination.unix - unix), default=None)


def pass_scenario(
    orbit: Orbit,
    start_unix: float,
    culmination_elevation: float,
    *,
    side: int = 1,
    lead_seconds: float = 60.0,
    min_elevation: float = 0.0,
) -> tuple[Site, Pass]:
    """A site and its pass that rises above ``min_elevation`` about ``lead_seconds`` after ``start_unix`` (within
    2 s) and culminates at ``culmination_elevation`` (within 0.1°). ``side`` +1 puts the site left of the ground
    track, −1 right of it (which way round the sky the azimuth sweeps)."""
    if not min_elevation < culmination_elevation < 90.0:
        raise ValueError("the culmination must lie between min_elevation and 90°")
    rise_wanted = start_unix + lead_seconds
    culmination_unix = rise_wanted + 300.0  # a LEO pass takes ~10 min; corrected below
    radius = float(np.linalg.norm(orbit.earth_fixed(culmination_unix)[0]))
    wanted_angle = _central_angle(culmination_elevation, radius)
    angle = side * wanted_angle
    for _ in range(ATTEMPTS):
        site = _site_beside_track(orbit, culmination_unix, angle)
        found = _pass_around(orbit, site, culmination_unix, min_elevation)
        if found is None:  # too far from the track to rise: move closer
            angle /= 2.0
            continue
        elevation_error = found.culmination.elevation - culmination_elevation
        rise_error = found.rise.unix - rise_wanted
        if abs(elevation_error) <= ELEVATION_TOLERANCE and abs(rise_error) <= RISE_TOLERANCE:
            return site, found
        # Which side of the track the site ended up on, from the track at the culmination, so that a near-zenith
        # pass that overshot to the other side is pulled back rather than pushed further.
        _, pole = _track(orbit, found.culmination.unix)
        site_position = np.asarray(erfa.gd2gc(1, math.radians(site.longitude), math.radians(site.latitude), 0.0))
        achieved_side = 1.0 if float(np.dot(site_position, pole)) >= 0.0 else -1.0
        achieved_angle = achieved_side * _central_angle(found.culmination.elevation, radius)
        angle += side * wanted_angle - achieved_angle
        culmination_unix -= rise_error
    raise RuntimeError(f"no pass culminating at {culmination_elevation}° found near {start_unix}")


def _wrapped_difference(azimuth: np.ndarray, target: float) -> np.ndarray:
    return (azimuth - target + 180.0) % 360.0 - 180.0


def azimuth_crossing_times(orbit: Orbit, site: Site, found: Pass, azimuth: float) -> list[float]:
    """Instants (to 1 ms) during the pass at which the satellite's azimuth goes through ``azimuth``."""
    times = np.arange(found.rise.unix, found.set.unix, 1.0)
    difference = _wrapped_difference(orbit.topocentric(site, times).azimuth, azimuth)
    # a sign change across ±180° is the opposite azimuth, not this one
    changes = np.flatnonzero((np.sign(difference[:-1]) != np.sign(difference[1:])) & (np.abs(difference[:-1]) < 90.0))
    crossings = []
    for index in changes:
        low, high = float(times[index]), float(times[index + 1])
        low_sign = np.sign(difference[index])
        while high - low > 1e-3:
            middle = (low + high) / 2.0
            middle_azimuth = np.array([orbit.topocentric(site, middle).azimuth])
            if np.sign(_wrapped_difference(middle_azimuth, azimuth)[0]) == low_sign:
                low = middle
            else:
                high = middle
        crossings.append((low + high) / 2.0)
    return crossings


def site_for_azimuth_crossing(
    orbit: Orbit,
    start_unix: float,
    azimuth: float,
    *,
    culmination_elevation: float = 45.0,
    min_crossing_elevation: float = 15.0,
    lead_seconds: float = 60.0,
) -> tuple[Site, Pass]:
    """A site and pass (as ``pass_scenario`` makes them) whose azimuth sweeps through ``azimuth`` while the satellite
    is at least ``min_crossing_elevation`` up: for cord-wrap tests. The pass rises within about one orbit of
    ``start_unix`` + ``lead_seconds``; the earliest that fits is returned."""
    for offset in np.arange(0.0, 6000.0, 300.0):
        for side in (1, -1):
            site, found = pass_scenario(
                orbit, start_unix + offset, culmination_elevation, side=side, lead_seconds=lead_seconds
            )
            for unix in azimuth_crossing_times(orbit, site, found, azimuth):
                if orbit.topocentric(site, unix).elevation >= min_crossing_elevation:
                    return site, found
    raise RuntimeError(f"no pass through azimuth {azimuth}° found within an orbit of {start_unix}")
