"""Mount geometry: encoders ⇄ axis angles, the pointing model fitted from sync points, cord-wrap paths."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indi_astrojolo.files import StoreProblem
from indi_astrojolo.nexstar.aux import STEPS_PER_TURN
from indi_astrojolo.nexstar.mount import (
    AxisAngles,
    Geometry,
    PointingModel,
    PointingStore,
    SyncPoint,
    angles_to_encoders,
    azimuth_path,
    crosses,
    encoders_to_angles,
    fit_model,
    model_rms_arcsec,
    wrap180,
)


def test_power_on_position_is_north_and_level() -> None:
    assert encoders_to_angles(0, 0, Geometry.ALTAZ, southern=False) == AxisAngles(0.0, 0.0)


def test_azimuth_counts_up_north_east_south_west_and_altitude_is_signed() -> None:
    quarter = STEPS_PER_TURN // 4
    assert encoders_to_angles(quarter, 0, Geometry.ALTAZ, False).axis1 == pytest.approx(90.0)
    assert encoders_to_angles(3 * quarter, 0, Geometry.ALTAZ, False).axis1 == pytest.approx(270.0)
    below = encoders_to_angles(0, STEPS_PER_TURN - 84, Geometry.ALTAZ, False)  # FF FF AC: 84 steps below level
    assert below.axis2 == pytest.approx(-84 * 360 / STEPS_PER_TURN)


def test_wedge_in_the_south_is_mirrored() -> None:
    north = angles_to_encoders(AxisAngles(30.0, 20.0), Geometry.EQ_WEDGE, southern=False)
    south = angles_to_encoders(AxisAngles(30.0, 20.0), Geometry.EQ_WEDGE, southern=True)
    assert south == ((STEPS_PER_TURN - north[0]) % STEPS_PER_TURN, (STEPS_PER_TURN - north[1]) % STEPS_PER_TURN)


@given(
    st.floats(0, 359.999),
    st.floats(-89.9, 89.9),
    st.sampled_from(list(Geometry)),
    st.booleans(),
)
def test_encoder_round_trip_within_one_step(axis1: float, axis2: float, geometry: Geometry, southern: bool) -> None:
    angles = AxisAngles(axis1 if geometry is Geometry.ALTAZ else wrap180(axis1), axis2)
    back = encoders_to_angles(*angles_to_encoders(angles, geometry, southern), geometry, southern)
    step = 360 / STEPS_PER_TURN
    assert abs(wrap180(back.axis1 - angles.axis1)) <= step
    assert abs(back.axis2 - angles.axis2) <= step


@pytest.mark.parametrize("axis2", [-89.0, -10.0, 0.0, 45.0, 90.0, 135.0, 179.9, 180.0, 180.3])
def test_the_altaz_altitude_axis_reads_from_straight_down_to_past_the_zenith(axis2) -> None:
    """Over the top (a satellite pass) the altitude axis reaches 180° and may overshoot it a little: it reads on,
    never as -180° (which would turn a small overshoot into half a turn of error)."""
    angles = AxisAngles(30.0, axis2)
    back = encoders_to_angles(*angles_to_encoders(angles, Geometry.ALTAZ, False), Geometry.ALTAZ, False)
    assert back.axis2 == pytest.approx(axis2, abs=360 / STEPS_PER_TURN)


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 360), st.floats(-80, 80))
def test_model_is_invertible(o1, o2, tx, ty, a1, a2) -> None:
    model = PointingModel(o1, o2, tx, ty)
    sky = AxisAngles(a1, a2)
    back = model.to_sky(model.to_mount(sky))
    assert abs(wrap180(back.axis1 - sky.axis1)) * math.cos(math.radians(a2)) < 1e-9
    assert abs(back.axis2 - sky.axis2) < 1e-9


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 360), st.floats(95, 178))
def test_over_the_top_the_model_keeps_the_altitude_axis_past_the_zenith(o1, o2, tx, ty, a1, a2) -> None:
    """Axis angles past 90° (a satellite pass over the top) name the direction (a1 + 180°, 180° − a2); the model
    answers with the altitude axis still past the zenith and the azimuth axis where it was asked to be."""
    model = PointingModel(o1, o2, tx, ty)
    mount = model.to_mount(AxisAngles(a1, a2))
    assert mount.axis2 > 90.0  # still past the zenith (95° at least, moved by the offset and the tilt)
    assert abs(wrap180(mount.axis1 - a1)) < 2.0 + 1.5 / math.cos(math.radians(180.0 - a2 + 3.5))
    back = model.to_sky(mount)  # the direction, in the usual form
    assert abs(wrap180(back.axis1 - (a1 + 180.0))) * math.cos(math.radians(back.axis2)) < 1e-9
    assert abs(back.axis2 - (180.0 - a2)) < 1e-9


def make_points(model: PointingModel, skies: list[tuple[float, float]]) -> list[SyncPoint]:
    points = []
    for a1, a2 in skies:
        mount = model.to_mount(AxisAngles(a1, a2))
        points.append(SyncPoint(a1, a2, mount.axis1, mount.axis2))
    return points


def test_one_sync_point_gives_the_offsets() -> None:
    truth = PointingModel(1.25, -0.5)
    fitted = fit_model(make_points(truth, [(120.0, 35.0)]))
    assert (fitted.offset1, fitted.offset2) == pytest.approx((1.25, -0.5))


def test_three_or_more_points_recover_offsets_and_base_tilt() -> None:
    truth = PointingModel(2.0, -0.7, 0.35, -0.2)
    skies = [(10, 20), (95, 60), (200, 35), (280, 15), (330, 70)]
    fitted = fit_model(make_points(truth, skies))
    assert fitted.offset1 == pytest.approx(2.0, abs=1e-6)
    assert fitted.offset2 == pytest.approx(-0.7, abs=1e-6)
    assert fitted.tilt_x == pytest.approx(0.35, abs=1e-6)
    assert fitted.tilt_y == pytest.approx(-0.2, abs=1e-6)
    assert model_rms_arcsec(fitted, make_points(truth, skies)) < 0.01


def test_model_without_points_is_the_identity() -> None:
    assert fit_model([]) == PointingModel()


def test_pointing_store_round_trip_and_damage(tmp_path) -> None:
    path = tmp_path / "pointing.json"
    store = PointingStore(path, make_points(PointingModel(1, 0), [(10, 20), (30, 40)]))
    store.save()
    loaded = PointingStore.load(path)
    assert loaded.points == store.points
    path.write_text("{not json")
    with pytest.raises(StoreProblem, match="pointing.json: it is damaged: not valid JSON") as problem:
        PointingStore.load(path)
    assert problem.value.kept_aside is not None and problem.value.kept_aside.read_text() == "{not json"
    assert not path.exists()
    assert PointingStore.load(tmp_path / "missing.json").points == []


@pytest.mark.parametrize(
    "start, delta, position, expected",
    [(170, 20, 180, True), (170, 5, 180, False), (190, -20, 180, True), (180, 10, 180, False), (350, 20, 0, True), (10, -20, 0, True)],
)
def test_crosses(start, delta, position, expected) -> None:
    assert crosses(start, delta, position) is expected


def test_azimuth_path_goes_round_the_cord_wrap() -> None:
    assert azimuth_path(170.0, 190.0, None) == [190.0]
    assert azimuth_path(170.0, 160.0, 180.0) == [160.0]
    path = azimuth_path(170.0, 190.0, 180.0)
    assert path == [0.0, 190.0]
    # each leg, taken the short way, stays clear of the cord wrap
    start = 170.0
    for waypoint in path:
        assert not crosses(start, wrap180(waypoint - start), 180.0)
        start = waypoint
