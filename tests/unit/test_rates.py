"""The closed-loop rate law (nexstar/rates.py) that tracking and satellite following share: feed-forward, the bounded
correction, the lag extrapolation, the rate limit and the short way round on axis 1."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.nexstar import motion, satellite
from indi_astrojolo.nexstar.mount import AxisAngles
from indi_astrojolo.nexstar.rates import MAX_CORRECTION, AxisRate, closed_loop, correction, feed_forward


def test_feed_forward_is_the_motion_over_the_step() -> None:
    assert feed_forward(AxisAngles(10.0, 20.0), AxisAngles(10.5, 19.0), 2.0) == (0.25, -0.5)


def test_feed_forward_takes_the_short_way_across_north() -> None:
    rate1, rate2 = feed_forward(AxisAngles(359.5, 0.0), AxisAngles(0.5, 0.0), 1.0)
    assert rate1 == pytest.approx(1.0)
    assert rate2 == 0.0


def test_correction_takes_the_error_out_over_the_correction_time() -> None:
    assert correction(0.1, 2.0) == pytest.approx(0.05)
    assert correction(-0.1, 1.0) == pytest.approx(-0.1)


def test_correction_is_bounded() -> None:
    assert correction(30.0, 2.0) == MAX_CORRECTION
    assert correction(-30.0, 1.0) == -MAX_CORRECTION
    assert correction(3.0, 1.0, max_correction=0.2) == 0.2


def test_on_target_the_rate_is_the_feed() -> None:
    here = AxisAngles(100.0, 40.0)
    axis1, axis2 = closed_loop(here, AxisAngles(100.01, 40.02), 2.0, here, correction_time_s=2.0)
    assert axis1 == AxisRate(feed=axis1.feed, error=0.0, rate=axis1.feed)
    assert axis1.feed == pytest.approx(0.005)
    assert axis2.rate == pytest.approx(0.01)
    assert axis2.error == 0.0


def test_an_error_is_corrected_towards_the_target() -> None:
    wanted = AxisAngles(100.0, 40.0)
    behind = AxisAngles(99.9, 40.1)  # short of the target in azimuth, past it in altitude
    axis1, axis2 = closed_loop(wanted, wanted, 1.0, behind, correction_time_s=2.0)
    assert axis1.error == pytest.approx(0.1)
    assert axis1.rate == pytest.approx(0.05)
    assert axis2.error == pytest.approx(-0.1)
    assert axis2.rate == pytest.approx(-0.05)


def test_the_correction_time_is_the_callers() -> None:
    # The one constant in which tracking and satellite following differ, each passing its own.
    wanted, measured = AxisAngles(0.0, 0.0), AxisAngles(0.0, -0.2)
    slow = closed_loop(wanted, wanted, 1.0, measured, correction_time_s=motion.CORRECTION_TIME)[1]
    fast = closed_loop(wanted, wanted, 1.0, measured, correction_time_s=satellite.CORRECTION_TIME)[1]
    assert (motion.CORRECTION_TIME, satellite.CORRECTION_TIME) == (2.0, 1.0)
    assert slow.rate == pytest.approx(0.1)
    assert fast.rate == pytest.approx(0.2)


def test_the_error_wraps_across_north() -> None:
    axis1, _ = closed_loop(
        AxisAngles(0.1, 0.0), AxisAngles(0.1, 0.0), 1.0, AxisAngles(359.9, 0.0), correction_time_s=1.0
    )
    assert axis1.error == pytest.approx(0.2)
    assert axis1.rate == pytest.approx(0.2)


def test_the_lag_moves_the_target_on_to_when_the_encoders_were_read() -> None:
    # The target moves at 0.01°/s; the encoders, read 0.5 s after it was computed, show the axis exactly where the
    # target has got to by then: no error.
    wanted, ahead = AxisAngles(50.0, 30.0), AxisAngles(50.02, 30.02)
    measured = AxisAngles(50.005, 30.005)
    axis1, axis2 = closed_loop(wanted, ahead, 2.0, measured, correction_time_s=2.0, lag_s=0.5)
    assert axis1.error == pytest.approx(0.0, abs=1e-12)
    assert axis2.error == pytest.approx(0.0, abs=1e-12)
    assert axis1.rate == pytest.approx(0.01)


def test_the_rate_limit_bounds_the_commanded_rate_correction_included() -> None:
    wanted, ahead = AxisAngles(0.0, 10.0), AxisAngles(3.0, 7.0)  # 3°/s and -3°/s
    axis1, axis2 = closed_loop(wanted, ahead, 1.0, AxisAngles(-1.0, 11.0), correction_time_s=1.0, max_rate=2.0)
    assert (axis1.feed, axis2.feed) == (3.0, -3.0)
    assert (axis1.rate, axis2.rate) == (2.0, -2.0)
    assert (axis1.error, axis2.error) == (1.0, -1.0)


def test_without_a_limit_the_rate_is_feed_plus_correction() -> None:
    axis1, _ = closed_loop(
        AxisAngles(0.0, 0.0), AxisAngles(3.0, 0.0), 1.0, AxisAngles(-1.0, 0.0), correction_time_s=1.0
    )
    assert axis1.rate == 3.0 + MAX_CORRECTION


angles = st.floats(-180.0, 180.0, allow_nan=False)
small = st.floats(-5.0, 5.0, allow_nan=False)


@settings(deadline=None)  # the suite shares two cores with other runs; a slow example is not a failure
@given(angles, st.floats(-80.0, 80.0), small, small, small, small, st.floats(0.1, 5.0), st.floats(0.0, 3.0))
def test_the_correction_never_exceeds_its_bound_and_points_at_the_target(
    a1: float, a2: float, step1: float, step2: float, off1: float, off2: float, correction_time: float, lag: float
) -> None:
    wanted, ahead = AxisAngles(a1, a2), AxisAngles(a1 + step1, a2 + step2)
    measured = AxisAngles(a1 - off1, a2 - off2)
    for law in closed_loop(wanted, ahead, 1.0, measured, correction_time_s=correction_time, lag_s=lag):
        added = law.rate - law.feed
        assert abs(added) <= MAX_CORRECTION + 1e-9
        assert math.copysign(1.0, added) == math.copysign(1.0, law.error) or abs(added) < 1e-12
