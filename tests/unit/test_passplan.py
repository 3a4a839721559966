"""The axes' path through a satellite pass: rate limits, the zenith swing, the cord wrap, altitude limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.nexstar.mount import Geometry, crosses
from indi_astrojolo.nexstar.passplan import CORDWRAP_MARGIN, plan_pass, rate_limited, separation

STEP = 0.5


def straight_pass(peak: float, azimuth_start: float = 200.0, seconds: float = 600.0):
    """A pass along a great circle through the point (azimuth_start + 90°, peak): what a satellite in a straight
    overhead-ish line looks like, rising at azimuth_start and setting opposite."""
    times = np.arange(0.0, seconds + STEP, STEP)
    # Parametrise the great circle by an angle running from horizon to horizon.
    angle = np.radians(np.linspace(-88.0, 88.0, len(times)))
    pole_tilt = np.radians(90.0 - peak)
    # Unit vectors in (east, north, up) of a circle tilted from the zenith by pole_tilt about the azimuth_start axis.
    x = np.sin(angle)
    y = np.cos(angle) * np.sin(pole_tilt)
    z = np.cos(angle) * np.cos(pole_tilt)
    base = np.radians(azimuth_start)
    # rotate so that the track runs along azimuth `azimuth_start` → opposite
    east = x * np.sin(base) + y * np.cos(base)
    north = x * np.cos(base) - y * np.sin(base)
    azimuth = np.degrees(np.arctan2(east, north)) % 360.0
    elevation = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    return times, azimuth, elevation


def plan(
    times, azimuth, elevation, *, cordwrap=None, max_rate=2.8, limits=(0.0, 90.0), geometry=Geometry.ALTAZ, flip=None
):
    return plan_pass(
        times, azimuth, elevation, geometry=geometry, latitude=50.0, altitude_limits=limits, cordwrap=cordwrap,
        max_rate=max_rate, over_the_top=flip,
    )  # fmt: skip


@given(
    values=st.lists(st.floats(-720, 720, allow_nan=False), min_size=2, max_size=60),
    max_rate=st.floats(0.1, 5.0),
    centred=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_a_rate_limited_path_never_moves_faster_than_allowed(values, max_rate, centred) -> None:
    path = rate_limited(np.array(values), STEP, max_rate, centred)
    assert np.all(np.abs(np.diff(path)) <= max_rate * STEP + 1e-9)


def test_a_swing_too_fast_for_the_axis_is_centred_on_when_it_is_needed() -> None:
    values = np.where(np.arange(201) < 100, 0.0, 100.0)  # a 100° jump at sample 100
    path = rate_limited(values, STEP, 2.0)
    assert path[100] == pytest.approx(50.0, abs=1.5)  # half-way at the moment of the jump
    moving = np.nonzero(np.diff(path))[0]
    assert (moving[-1] - moving[0] + 1) * STEP == pytest.approx(100.0 / 2.0, abs=1.0)  # at full speed throughout
    assert path[0] == 0.0 and path[-1] == 100.0


def test_a_low_pass_is_followed_exactly() -> None:
    result = plan(*straight_pass(peak=30.0))
    assert result.worst_error < 0.01
    assert result.worst_cause.startswith("none")
    assert result.notes == []


def test_an_overhead_pass_trails_only_near_the_zenith_and_says_why() -> None:
    times, azimuth, elevation = straight_pass(peak=89.5, seconds=400.0)
    result = plan(times, azimuth, elevation, max_rate=2.8)
    assert "azimuth swing near the zenith" in result.worst_cause
    worst = int(np.argmin(np.abs(times - result.worst_time)))
    assert elevation[worst] > 80.0
    # The error on the sky is the azimuth lead or lag times sin(zenith distance): at most about
    # ω·v·T²/16 for a swing of T = 180°/v at v °/s while the satellite crosses at ω rad/s.
    omega = np.radians(np.max(separation(azimuth[1:], elevation[1:], azimuth[:-1], elevation[:-1])) / STEP)
    swing = 180.0 / 2.8
    assert result.worst_error < 1.3 * omega * 2.8 * swing**2 / 16
    # ...and away from culmination the plan is on the satellite.
    errors = separation(result.axis1, result.axis2, result.azimuth, result.elevation)
    assert np.all(errors[elevation < 60.0] < 0.01)
    assert any("trails the satellite" in note for note in result.notes)


@pytest.mark.parametrize("cordwrap", [0.0, 90.0, 250.0, 300.0])
def test_the_azimuth_never_crosses_the_cord_wrap_position(cordwrap) -> None:
    times, azimuth, elevation = straight_pass(peak=60.0, azimuth_start=200.0)  # sweeps 200° → 20° through 290°
    result = plan(times, azimuth, elevation, cordwrap=cordwrap)
    path = result.axis1
    for a, b in zip(path[:-1], path[1:]):
        assert not crosses(a, b - a, cordwrap)
    low, high = cordwrap + CORDWRAP_MARGIN, cordwrap + 360 - CORDWRAP_MARGIN
    assert np.all((path >= low - 1e-9) & (path <= high + 1e-9))
    turns = [note for note in result.notes if "cord-wrap" in note]
    sweep = np.degrees(np.unwrap(np.radians(azimuth)))
    crossed = any(crosses(a, b - a, cordwrap) for a, b in zip(sweep[:-1], sweep[1:]))
    assert bool(turns) == crossed
    if crossed:
        assert result.worst_cause == "turning round at the cord-wrap position"
    else:
        assert result.worst_error < 0.01


def test_altitude_limits_hold_the_altitude_axis_inside_them() -> None:
    times, azimuth, elevation = straight_pass(peak=75.0)
    result = plan(times, azimuth, elevation, limits=(10.0, 60.0))
    assert result.axis2.min() >= 10.0 - 1e-9 and result.axis2.max() <= 60.0 + 1e-9
    assert "highest allowed altitude" in result.worst_cause
    assert any("highest allowed altitude" in note for note in result.notes)


def test_on_a_wedge_the_axes_are_hour_angle_and_declination() -> None:
    times, azimuth, elevation = straight_pass(peak=50.0)
    result = plan(times, azimuth, elevation, geometry=Geometry.EQ_WEDGE)
    pointed = [result.pointing(a1, a2) for a1, a2 in zip(result.axis1[::40], result.axis2[::40])]
    for (az, el), true_az, true_el in zip(pointed, azimuth[::40], elevation[::40]):
        assert separation(az, el, true_az, true_el) < 0.05


def test_a_wedge_refuses_a_pass_above_its_highest_altitude() -> None:
    with pytest.raises(ValueError, match="highest allowed altitude"):
        plan(*straight_pass(peak=80.0), geometry=Geometry.EQ_WEDGE, limits=(0.0, 70.0))


def along_and_across(track_az, track_el, at: int, pointed_az: float, pointed_el: float) -> tuple[float, float]:
    """The pointed direction's offset from the track at sample `at`: degrees along the motion and to its side, in the
    tangent plane there (written apart from the module: unit vectors rather than bearings)."""

    def unit(az, el):
        az, el = np.radians(az), np.radians(el)
        return np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])

    here = unit(track_az[at], track_el[at])
    motion = unit(track_az[at + 1], track_el[at + 1]) - unit(track_az[at - 1], track_el[at - 1])
    motion -= here * (motion @ here)
    motion /= np.linalg.norm(motion)
    side = np.cross(here, motion)
    offset = unit(pointed_az, pointed_el) - here
    return float(np.degrees(offset @ motion)), float(np.degrees(offset @ side))


@pytest.mark.parametrize("geometry", [Geometry.ALTAZ, Geometry.EQ_WEDGE], ids=["alt-az", "wedge"])
@pytest.mark.parametrize("cross", [0.5, -2.0])
def test_a_cross_track_offset_moves_the_aim_square_to_the_track_towards_the_inside_of_the_arc(geometry, cross) -> None:
    times, azimuth, elevation = straight_pass(45.0)
    keep = elevation > 5.0
    made = plan(times[keep], azimuth[keep], elevation[keep], geometry=geometry, limits=(0.0, 90.0))
    track_az, track_el = made.azimuth, made.elevation
    culmination = int(np.argmax(track_el))
    sides = []
    for at in (20, culmination, len(made.times) - 20):
        pointed = made.pointing(*made.position(float(made.times[at]), cross))
        assert separation(*pointed, track_az[at], track_el[at]) == pytest.approx(abs(cross), abs=1e-3)
        along, across = along_and_across(track_az, track_el, at, *pointed)
        assert abs(along) < 0.01 * abs(cross)  # square to the motion
        sides.append(np.sign(across))
    assert len(set(sides)) == 1  # one side of the track throughout the pass
    at_culmination = made.pointing(*made.position(float(made.times[culmination]), cross))[1]
    assert (at_culmination > track_el[culmination]) == (cross > 0)  # positive: towards the zenith


def test_no_cross_track_offset_leaves_the_plan_as_it_is() -> None:
    times, azimuth, elevation = straight_pass(45.0)
    made = plan(times, np.mod(azimuth, 360.0), np.clip(elevation, 0.0, 90.0))
    for unix in (0.0, 123.4, 600.0):
        assert made.position(unix, 0.0) == made.position(unix)


@pytest.mark.parametrize("peak", [30.0, 89.5])
def test_the_inside_of_the_arc_is_found_for_a_plan_that_starts_after_culmination(peak) -> None:
    def unit(az, el):
        az, el = np.radians(az), np.radians(el)
        return np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])

    times, azimuth, elevation = straight_pass(peak)
    culmination = int(np.argmax(elevation))
    pole = np.cross(unit(azimuth[0], elevation[0]), unit(azimuth[culmination], elevation[culmination]))
    pole *= np.sign(pole[2])  # the track's pole above the horizon: the inside of the arc is towards it
    keep = (np.arange(len(times)) > culmination + 40) & (elevation > 5.0)  # the descending half only
    made = plan(times[keep], azimuth[keep], elevation[keep])
    for at in made.times[:: len(made.times) // 5]:
        track = unit(*made.satellite(float(at)))
        assert unit(*made.aim(float(at), 0.5)) @ pole > track @ pole
        assert unit(*made.aim(float(at), -0.5)) @ pole < track @ pole


# --- over the top ---------------------------------------------------------------------------------------------------


def pointing_errors(result) -> np.ndarray:
    """Degrees between where the planned axes point and the satellite, at every sample."""
    pointed = np.array([result.pointing(a1, a2) for a1, a2 in zip(result.axis1, result.axis2)])
    return separation(pointed[:, 0], pointed[:, 1], result.azimuth, result.elevation)


@pytest.mark.parametrize("peak", [90.0, 89.5, 88.0])
def test_over_the_top_follows_an_overhead_pass_with_the_azimuth_held(peak) -> None:
    times, azimuth, elevation = straight_pass(peak=peak, seconds=400.0)
    swing = plan(times, azimuth, elevation)
    result = plan(times, azimuth, elevation, flip=180.0)
    assert result.over_the_top and not swing.over_the_top
    assert np.ptp(swing.axis1) > 150.0  # the azimuth swing: half a turn, trailing the satellite by degrees
    assert swing.worst_error > 5.0
    assert np.ptp(result.axis1) < 40.0  # over the top: the azimuth axis hardly turns...
    assert result.axis2.max() > 170.0  # ...the altitude axis goes from one horizon to the other
    # The gap is the pass's distance from the zenith, at most: none for a pass straight overhead.
    errors = pointing_errors(result)
    assert result.worst_error == pytest.approx(errors.max(), abs=1e-6)
    assert errors.max() <= (90.0 - peak) + 0.05
    assert np.all(errors[elevation < 60.0] < 0.01)  # away from the zenith it is on the satellite
    for path in (result.axis1, result.axis2):
        assert np.all(np.abs(np.diff(path)) <= 2.8 * STEP + 1e-9)
    assert result.notes[0].startswith("over the top: the altitude axis passes the zenith")


@pytest.mark.parametrize("peak", [30.0, 60.0, 80.0])
def test_a_pass_the_swing_follows_as_well_is_not_flipped(peak) -> None:
    times, azimuth, elevation = straight_pass(peak=peak)
    swing = plan(times, azimuth, elevation)
    result = plan(times, azimuth, elevation, flip=180.0)
    assert not result.over_the_top
    assert np.array_equal(result.axis1, swing.axis1) and np.array_equal(result.axis2, swing.axis2)
    assert result.notes == swing.notes


def test_the_altitude_axis_never_passes_the_highest_angle_allowed_over_the_top() -> None:
    times, azimuth, elevation = straight_pass(peak=89.5, seconds=400.0)
    result = plan(times, azimuth, elevation, flip=175.0)
    assert result.over_the_top  # still better than the swing: the tube waits at 175° for the last of the pass
    assert result.highest_axis == 175.0
    assert result.axis2.max() <= 175.0 + 1e-9
    assert "waits at the highest angle allowed (175°)" in result.worst_cause
    # Lower, waiting there would lose the setting satellite by more than the swing does: no flip then.
    assert not plan(times, azimuth, elevation, flip=170.0).over_the_top
    assert result.worst_error < plan(times, azimuth, elevation).worst_error


def test_a_plan_that_starts_after_culmination_or_on_a_wedge_never_goes_over_the_top() -> None:
    times, azimuth, elevation = straight_pass(peak=89.5, seconds=400.0)
    after = int(np.argmax(elevation)) + 4
    late = plan(times[after:], azimuth[after:], elevation[after:], flip=180.0)
    assert not late.over_the_top and late.axis2.max() <= 90.0
    times, azimuth, elevation = straight_pass(peak=60.0)
    wedge = plan(times, azimuth, elevation, geometry=Geometry.EQ_WEDGE, flip=180.0)
    assert not wedge.over_the_top


def test_a_cross_track_offset_over_the_top_moves_the_aim_as_below_the_zenith() -> None:
    times, azimuth, elevation = straight_pass(peak=88.0, seconds=400.0)
    result = plan(times, azimuth, elevation, flip=180.0)
    late = float(times[int(len(times) * 0.8)])  # after culmination: the altitude axis past 90°
    assert result.position(late)[1] > 90.0
    aimed = result.aim(late, 0.5)
    assert separation(*result.pointing(*result.position(late, 0.5)), *aimed) < 0.02
    assert separation(*aimed, *result.satellite(late)) == pytest.approx(0.5, abs=1e-6)


def test_over_the_top_a_satellite_low_behind_is_aimed_at_low_behind() -> None:
    """Past the zenith the altitude axis comes down to the horizon behind at 180°; a satellite a little below that
    horizon (the lowest allowed altitude is below 0°) is at 181°, not at -179° on the other side."""
    times, azimuth, elevation = straight_pass(peak=89.5, seconds=400.0)
    result = plan(times, azimuth, elevation - 3.0, limits=(-5.0, 90.0), flip=182.0)
    assert result.over_the_top and result.axis2[-1] == pytest.approx(181.0, abs=0.1)
    assert np.all(pointing_errors(result)[-100:] < 0.01)
