"""A weather parameter's state from its range vector, as libindi's WeatherInterface::checkParameterState gives it:
MIN_OK, MAX_OK, PERC_WARN and (libindi 2.1.3+) ALERT_TYPE, which flips Ok and Alert."""

from __future__ import annotations

import pytest

from indi_astrojolo.indi.definitions import load_vectors
from indi_astrojolo.indi.interfaces.weather import parameter_state
from indi_astrojolo.indi.properties import State


@pytest.mark.parametrize(
    "value, expected",
    [(-15.0, State.ALERT), (-9.0, State.BUSY), (0.0, State.OK), (27.0, State.BUSY), (31.0, State.ALERT)],
)
def test_outside_the_range_is_alert_and_the_margin_inside_each_edge_a_warning(value, expected) -> None:
    assert parameter_state(value, -10.0, 30.0, 10.0) is expected  # margin 4: -10…-6 and 26…30


@pytest.mark.parametrize(
    "value, expected",
    [(-15.0, State.OK), (-9.0, State.BUSY), (0.0, State.ALERT), (27.0, State.BUSY), (31.0, State.OK)],
)
def test_alert_type_1_flips_ok_and_alert_and_keeps_the_warnings(value, expected) -> None:
    assert parameter_state(value, -10.0, 30.0, 10.0, flipped=True) is expected


@pytest.mark.parametrize("value, expected", [(0.0, State.OK), (5.0, State.OK), (45.0, State.BUSY), (51.0, State.ALERT)])
def test_an_edge_at_zero_has_no_warning_margin_as_in_libindi(value, expected) -> None:
    # Cloud cover 0…50 % with 20 %: a clear sky is Ok, not a warning; the warning is 40…50 %.
    assert parameter_state(value, 0.0, 50.0, 20.0) is expected


def test_every_weather_range_vector_has_alert_type_0_or_1_defaulting_to_0() -> None:
    vectors = load_vectors("astrolink4_usb.xml", "AstroLink 4 USB")
    ranges = [vector for vector in vectors if "PERC_WARN" in vector.members]
    assert len(ranges) == 6
    for vector in ranges:
        alert_type = vector.members["ALERT_TYPE"]
        assert (alert_type.value, alert_type.min, alert_type.max, alert_type.step) == (0, 0, 1, 1), vector.name
