"""A WEATHER_UPDATE period just above 0 (found by the client-input campaign): the weather loop published in a tight
loop and flooded indiserver, which then delivered nothing else from the driver."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties


@pytest.mark.parametrize("period, expected", [(1e-200, 10), (0.3, 10), (2.0, 5)])
async def test_weather_is_published_at_most_once_a_second(autojump_clock, tmp_path, monkeypatch, period, expected) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    driver = AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())
    weather = driver.sensors.weather
    driver.props.number("WEATHER_UPDATE")["PERIOD"].value = period
    published = 0

    def counted() -> None:
        nonlocal published
        published += 1
        assert published <= expected, f"published {published} times within 10.5 s"

    monkeypatch.setattr(weather, "publish", counted)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(weather.run)
        await trio.sleep(10.5)
        nursery.cancel_scope.cancel()
    assert published == expected
