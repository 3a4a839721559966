"""Whether a satellite is in sunlight or in the Earth's shadow, sans-I/O.

A satellite shines only in sunlight: a visual or imaging pass is worth following only while it is lit, and an
observer sees it vanish where it enters the shadow. What is computed is the fraction of the Sun's disc that the
satellite sees above the Earth's limb: 1 in sunlight, 0 in the umbra, between in the penumbra (a few seconds of a
low orbit).

- The Sun: ERFA's ``epv00`` (the Earth's heliocentric position, so the Sun's geocentric one is its opposite) in
  GCRS axes, turned into the Earth-fixed frame the satellite's position is in (orbit.py's PEF, which equals the
  terrestrial intermediate frame to far better than needed here) by ``c2i06a`` and the Earth's rotation angle, UT1 =
  UTC and no polar motion.
  Light time (8.3 min, 20″ of the Sun's motion) is left out.
- The Earth: a sphere of the equatorial radius; flattening moves the limb by at most 21 km, a fraction of a second
  on the shadow's edge for a low orbit, and the atmosphere dims the Sun near the edge more than that anyway.
- Seen from the satellite the Earth's limb is a circle of tens of degrees and the Sun a disc of 0.27°: across the Sun
  the limb is taken as straight, and the hidden part of the disc is the circular segment beyond it.
"""

from __future__ import annotations

import erfa
import numpy as np

from .astrometry import julian_dates

EARTH_RADIUS_KM = 6378.137
SUN_RADIUS_KM = 695_700.0  # IAU 2015 nominal solar radius
# Instants spanning at most this long share one place of the Sun in GCRS: it moves 0.04°/h, which shifts the shadow's
# edge on a low orbit by under a second (the Earth's rotation, 15°/h, is applied at every instant).
SUN_STEADY_S = 3600.0
_AU_KM = erfa.DAU / 1000.0


def sun_earth_fixed(unix) -> np.ndarray:
    """The Sun's position from the Earth's centre in the Earth-fixed frame, km, shape (n, 3).

    The bias-precession-nutation matrix is taken at the middle instant (``c2i06a``, the costly part): it moves the
    pole by well under an arcsecond a day, against the Sun's 960″ radius. The Earth's rotation angle is exact at each
    instant (``era00``)."""
    times = np.atleast_1d(np.asarray(unix, dtype=float))
    utc1, utc2 = julian_dates(times)
    tai1, tai2 = erfa.utctai(utc1, utc2)
    tt1, tt2 = erfa.taitt(tai1, tai2)
    middle = len(utc1) // 2
    if times[-1] - times[0] <= SUN_STEADY_S:  # one pass: the Sun's place at its middle serves for all of it
        heliocentric, _barycentric = erfa.epv00(tt1[middle], tt2[middle])
    else:
        heliocentric, _barycentric = erfa.epv00(tt1, tt2)
    sun_gcrs = np.atleast_2d(-heliocentric["p"] * _AU_KM)
    sun_intermediate = sun_gcrs @ erfa.c2i06a(tt1[middle], tt2[middle]).T
    angle = erfa.era00(utc1, utc2)  # UT1 = UTC, as orbit.py takes it
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    x, y, z = sun_intermediate.T
    return np.column_stack((cos_a * x + sin_a * y, -sin_a * x + cos_a * y, np.broadcast_to(z, angle.shape)))


def sunlit_fraction(satellite_km: np.ndarray, sun_km: np.ndarray) -> np.ndarray:
    """The fraction of the Sun's disc seen from each satellite position (Earth-fixed km, shape (n, 3))."""
    to_sun = sun_km - satellite_km
    sun_distance = np.linalg.norm(to_sun, axis=1)
    earth_distance = np.linalg.norm(satellite_km, axis=1)
    sun_radius = np.arcsin(np.minimum(1.0, SUN_RADIUS_KM / sun_distance))
    earth_radius = np.arcsin(np.minimum(1.0, EARTH_RADIUS_KM / earth_distance))
    cosine = np.einsum("ni,ni->n", to_sun, -satellite_km) / (sun_distance * earth_distance)
    between = np.arccos(np.clip(cosine, -1.0, 1.0))  # Sun's centre to Earth's centre, seen from the satellite
    outside = np.clip((between - earth_radius) / sun_radius, -1.0, 1.0)  # Sun's centre beyond the limb, in radii
    hidden = (np.arccos(outside) - outside * np.sqrt(1.0 - outside * outside)) / np.pi
    return 1.0 - hidden
