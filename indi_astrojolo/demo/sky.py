"""Which bright star to slew to: the one well up in the sky that is the shortest slew away, worked out with the
project's own astrometry (the same conversions the mount driver uses)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import erfa

from ..nexstar import astrometry as astro

# ICRS (≈ J2000) places: (name, RA hours, Dec degrees). Spread over the whole sky, so that at any latitude and time
# some of them are well up. No pole star: tracking one would show next to no motion.
BRIGHT_STARS = (
    ("Sirius", 6.752477, -16.716116),
    ("Canopus", 6.399197, -52.695661),
    ("Arcturus", 14.261020, 19.182409),
    ("Rigil Kentaurus", 14.660136, -60.833975),
    ("Vega", 18.615649, 38.783689),
    ("Capella", 5.278155, 45.997991),
    ("Rigel", 5.242298, -8.201640),
    ("Procyon", 7.655033, 5.224993),
    ("Achernar", 1.628571, -57.236753),
    ("Betelgeuse", 5.919529, 7.407064),
    ("Hadar", 14.063723, -60.373039),
    ("Altair", 19.846388, 8.868322),
    ("Acrux", 12.443311, -63.099092),
    ("Aldebaran", 4.598677, 16.509301),
    ("Antares", 16.490128, -26.432002),
    ("Spica", 13.419883, -11.161319),
    ("Pollux", 7.755264, 28.026199),
    ("Fomalhaut", 22.960847, -29.622236),
    ("Deneb", 20.690532, 45.280339),
    ("Regulus", 10.139531, 11.967208),
    ("Peacock", 20.427459, -56.735090),
    ("Mirfak", 3.405380, 49.861179),
    ("Dubhe", 11.062131, 61.751036),
    ("Alkaid", 13.792344, 49.313265),
)
# Well up: clear of the low-horizon murk, and below the zenith, where an alt-az mount has to spin in azimuth.
WELL_UP = (30.0, 75.0)


@dataclass(frozen=True)
class Star:
    name: str
    ra_j2000: float  # hours
    dec_j2000: float  # degrees
    ra: float  # apparent place of date (JNow), hours: what EQUATORIAL_EOD_COORD takes
    dec: float
    azimuth: float  # degrees, north 0, east 90
    altitude: float

    def slew_degrees(self, azimuth: float, altitude: float) -> float:
        """How far the longer-moving axis of an alt-az mount turns to get here from (azimuth, altitude)."""
        turn = (self.azimuth - azimuth + 180.0) % 360.0 - 180.0
        return max(abs(turn), abs(self.altitude - altitude))


def stars_now(when: astro.Instant, site: astro.Site) -> list[Star]:
    """Every star of the list with its apparent place and where it stands in the sky, highest first."""
    stars = []
    for name, ra_j2000, dec_j2000 in BRIGHT_STARS:
        ra, dec = astro.j2000_to_apparent(ra_j2000, dec_j2000, when)
        seen = astro.apparent_to_horizontal(ra, dec, when, site)
        stars.append(Star(name, ra_j2000, dec_j2000, ra, dec, seen.azimuth, seen.altitude))
    return sorted(stars, key=lambda star: -star.altitude)


def well_up(stars: list[Star]) -> list[Star]:
    return [star for star in stars if WELL_UP[0] <= star.altitude <= WELL_UP[1]]


def nearest(stars: list[Star], azimuth: float, altitude: float) -> Star:
    return min(stars, key=lambda star: star.slew_degrees(azimuth, altitude))


def format_ra(hours: float) -> str:
    _, (h, m, s, _) = erfa.a2tf(0, math.radians(hours * 15.0))
    return f"{h:02d}h{m:02d}m{s:02d}s"


def format_dec(degrees: float) -> str:
    sign, (d, m, s, _) = erfa.a2af(0, math.radians(degrees))
    return f"{sign.decode()}{d:02d}°{m:02d}′{s:02d}″"
