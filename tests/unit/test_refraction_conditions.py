"""Refraction's temperature, pressure and humidity: the standard atmosphere at the site's elevation by default, a
weather device's reading where one is given (set_ambient, the hook a snooped ACTIVE_WEATHER device feeds), shown in
REFRACTION_CONDITIONS and REFRACTION_SOURCE."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.nexstar import astrometry as astro
from mount_sim import request, start_mount


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


@pytest.mark.parametrize(
    "elevation, pressure",
    [(0.0, 1013.25), (1000.0, 898.76), (2000.0, 794.95), (3000.0, 701.12)],  # ICAO table (hPa)
)
def test_standard_pressure_follows_the_icao_table(elevation, pressure) -> None:
    assert astro.standard_pressure_hpa(elevation) == pytest.approx(pressure, abs=0.1)


def test_without_a_weather_device_the_standard_atmosphere_is_used() -> None:
    weather, source = astro.refraction_conditions(2000.0)
    assert weather.pressure_hpa == pytest.approx(794.95, abs=0.1)
    assert (weather.temperature_c, weather.relative_humidity) == (10.0, 0.5)
    assert source == "no weather device: pressure of the standard atmosphere at 2000 m, 10 °C, 50 % humidity"


def test_a_weather_device_gives_what_it_measures_and_the_rest_is_assumed() -> None:
    weather, source = astro.refraction_conditions(2000.0, astro.Ambient("AstroLink 4 USB", -3.5, None, 85.0))
    assert (weather.temperature_c, weather.relative_humidity) == (-3.5, 0.85)
    assert weather.pressure_hpa == pytest.approx(794.95, abs=0.1)
    assert source == (
        "weather device AstroLink 4 USB: temperature, humidity; assumed: pressure of the standard atmosphere at 2000 m"
    )
    weather, source = astro.refraction_conditions(2000.0, astro.Ambient("Station", 1.0, 801.0, 40.0))
    assert weather.pressure_hpa == 801.0
    assert source == "weather device Station: temperature, pressure, humidity"


def refraction_of(driver, ra: float, dec: float) -> float:
    """How far refraction lifts a star now, in degrees, as the driver computes it."""
    refracted = driver.sky_to_ideal_axes(ra, dec).axis2
    geometric = astro.apparent_to_horizontal(ra, dec, driver.instant(), driver.site(), None).altitude
    return refracted - geometric


async def test_a_mountain_site_refracts_with_its_lower_pressure(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = astro.horizontal_to_apparent(120.0, 20.0, driver.instant(), driver.site(), None)
        sea_level = refraction_of(driver, ra, dec)
        assert driver.props.number("REFRACTION_CONDITIONS")["PRESSURE"].value == pytest.approx(1013.25)
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=50.0, LONG=20.0, ELEV=2000.0))
        mountain = refraction_of(driver, ra, dec)
        assert mountain / sea_level == pytest.approx(794.95 / 1013.25, rel=0.01)  # 20 % less, not the same
        shown = driver.props.number("REFRACTION_CONDITIONS")
        assert shown["PRESSURE"].value == pytest.approx(794.95, abs=0.1)
        assert shown.state.value == "Idle"  # an assumption, not a reading
        assert "standard atmosphere at 2000 m" in driver.props.text("REFRACTION_SOURCE")["SOURCE"].value
        assert b'name="REFRACTION_CONDITIONS"' in driver.outbox.take()  # clients are told
        nursery.cancel_scope.cancel()


async def test_a_weather_reading_is_used_until_it_is_stale(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.set_ambient(astro.Ambient("AstroLink 4 USB", temperature_c=-5.0, humidity_percent=90.0))
        weather = driver.weather()
        assert weather is not None and (weather.temperature_c, weather.relative_humidity) == (-5.0, 0.9)
        shown = driver.props.number("REFRACTION_CONDITIONS")
        assert (shown["TEMPERATURE"].value, shown["HUMIDITY"].value) == (-5.0, 90.0)
        assert shown.state.value == "Ok"
        assert driver.props.text("REFRACTION_SOURCE")["SOURCE"].value.startswith("weather device AstroLink 4 USB")
        await trio.sleep(11 * 60.0)  # no new reading: the polls notice
        weather = driver.weather()
        assert weather is not None and (weather.temperature_c, weather.relative_humidity) == (10.0, 0.5)
        assert (shown["TEMPERATURE"].value, shown.state.value) == (10.0, "Idle")
        assert "AstroLink 4 USB is over 10 min old" in driver.props.text("REFRACTION_SOURCE")["SOURCE"].value
        nursery.cancel_scope.cancel()


async def test_refraction_off_is_said(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "ATMOSPHERIC_REFRACTION", INDI_DISABLED=True))
        assert driver.weather() is None
        assert driver.props.text("REFRACTION_SOURCE")["SOURCE"].value.startswith("refraction is off")
        assert driver.props.number("REFRACTION_CONDITIONS").state.value == "Idle"
        nursery.cancel_scope.cancel()
