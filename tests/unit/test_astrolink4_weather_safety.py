"""Safety of the AstroLink's weather signal, whole driver against its emulator on trio's fake clock: a sensor that
disappears (present flag, filler values, nan, a silent device, a stale status) never leaves its last reading on screen
as Ok, unknown weather is unsafe (WEATHER_STATUS and SAFETY_STATUS Alert, with a message naming the sensor), a change
of the sensor feeding a parameter is said, and WEATHER_OVERRIDE stays the user's escape. WEATHER_UPDATE shows the
period used, and 0 means libindi's "no periodic updates"."""

from __future__ import annotations

import pytest
import trio
from lxml import etree

from astrolink_sim import astrolink_request, sent, start_astrolink
from indi_astrojolo.astrolink4.emulator import EmulatorConfig
from indi_astrojolo.indi.properties import State

POLL = 1.5  # a little more than one polling period (1 s): "at once" is by the next poll, whatever WEATHER_UPDATE says
SKY = ("WEATHER_SKY_TEMPERATURE", "WEATHER_CLOUD_COVER")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def messages(elements: list[etree._Element]) -> list[str]:
    return [e.get("message") for e in elements if e.get("message")]


def state(driver, name: str) -> State:
    return driver.props[name].state


def light(driver, vector: str, member: str) -> State:
    return driver.props.light(vector)[member].state


def assert_safe(driver) -> None:
    assert state(driver, "WEATHER_STATUS") is State.OK, driver.props["WEATHER_STATUS"]
    assert state(driver, "SAFETY_STATUS") is State.OK
    assert light(driver, "SAFETY_STATUS", "SAFETY") is State.OK


def assert_unsafe(driver) -> None:
    assert state(driver, "WEATHER_STATUS") is State.ALERT, driver.props["WEATHER_STATUS"]
    assert state(driver, "SAFETY_STATUS") is State.ALERT
    assert light(driver, "SAFETY_STATUS", "SAFETY") is State.ALERT


async def connected(nursery, config: EmulatorConfig | None = None):
    driver = await start_astrolink(nursery, config)
    await trio.sleep(POLL)
    assert driver.props.number("WEATHER_UPDATE")["PERIOD"].value == 60  # libindi's default: nothing below waits for it
    assert_safe(driver)
    assert state(driver, "WEATHER_PARAMETERS") is State.OK
    driver.outbox.take()
    return driver


@pytest.mark.parametrize(
    "how",
    [
        {},  # the present flag goes to 0
        {"absent_flag_kept": True},  # the flag stays set: only the filler (1037.50) tells
        {"absent_flag_kept": True, "absent_filler": "nan"},
    ],
    ids=["flag", "filler", "nan"],
)
async def test_an_unplugged_sky_sensor_makes_clouds_unknown_and_the_weather_unsafe_at_once(autojump_clock, how) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        emulator = driver.simulator
        for attribute, value in how.items():
            setattr(emulator.config, attribute, value)
        emulator.config.sky_sensor = False
        await trio.sleep(POLL)
        said = sent(driver)
        assert state(driver, "WEATHER_PARAMETERS") is State.IDLE
        for name in SKY:
            assert state(driver, name) is State.IDLE  # the parameter's own range vector: its light
        assert light(driver, "WEATHER_STATUS", "WEATHER_CLOUD_COVER") is State.IDLE
        assert state(driver, "SKY_SENSOR") is State.IDLE
        assert state(driver, "SKY_CONDITION") is State.IDLE
        assert_unsafe(driver)
        text = " | ".join(messages(said))
        assert "Sky temperature sensor is not connected" in text
        assert "Unsafe, weather unknown: Cloud cover (Sky temperature sensor is not connected)" in text
        parameters = driver.props.number("WEATHER_PARAMETERS")
        assert parameters["WEATHER_CLOUD_COVER"].value < 1000 and parameters["WEATHER_SKY_TEMPERATURE"].value < 1000
        # It stays so (no flapping back to Ok on later polls or periodic updates) until the sensor is back.
        await trio.sleep(70.0)
        assert_unsafe(driver)
        emulator.config.sky_sensor = True
        await trio.sleep(POLL)
        assert "Cloud cover reads again, from Sky temperature sensor" in " | ".join(messages(sent(driver)))
        assert_safe(driver)
        assert state(driver, "WEATHER_PARAMETERS") is State.OK and state(driver, "SKY_SENSOR") is State.OK
        nursery.cancel_scope.cancel()


async def test_sensor_1_unplugged_temperature_goes_idle_and_the_switch_to_sensor_2_is_said(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        driver.simulator.config.sensor1 = False
        await trio.sleep(POLL)
        text = " | ".join(messages(sent(driver)))
        assert state(driver, "SENSOR_1") is State.IDLE
        assert state(driver, "WEATHER_TEMPERATURE") is State.IDLE
        assert state(driver, "WEATHER_PARAMETERS") is State.IDLE  # one of its readings is not live
        assert "Temperature is unknown: Sensor 1 is not connected" in text
        assert "Humidity now comes from Sensor 2 (it came from Sensor 1)" in text
        assert "Dew point now comes from Sensor 2 (it came from Sensor 1)" in text
        humidity = driver.props.number("WEATHER_PARAMETERS")["WEATHER_HUMIDITY"].value
        assert humidity == pytest.approx(driver.props.number("SENSOR_2")["HUM_2"].value)
        assert state(driver, "WEATHER_HUMIDITY") is State.OK
        assert_safe(driver)  # humidity is still known, from sensor 2
        # Sensor 2 goes too: humidity, a critical parameter, is unknown.
        driver.simulator.config.sensor2 = False
        await trio.sleep(POLL)
        text = " | ".join(messages(sent(driver)))
        assert state(driver, "SENSOR_2") is State.IDLE
        assert light(driver, "WEATHER_STATUS", "WEATHER_HUMIDITY") is State.IDLE
        assert_unsafe(driver)
        assert "Humidity (Sensor 1 and Sensor 2 are not connected)" in text
        # Sensor 1 back: humidity comes from it again, and that is said.
        driver.simulator.config.sensor1 = True
        await trio.sleep(POLL)
        text = " | ".join(messages(sent(driver)))
        assert "Humidity reads again, from Sensor 1" in text
        assert_safe(driver)
        nursery.cancel_scope.cancel()


async def test_a_silent_device_makes_every_reading_idle_and_the_weather_unsafe_within_10_s(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        driver.simulator.faults.silent = True
        started = trio.current_time()
        while state(driver, "SAFETY_STATUS") is not State.ALERT:
            await trio.sleep(0.1)
            assert trio.current_time() - started < 10.0, "still not unsafe 10 s after the device fell silent"
        said = sent(driver)
        assert_unsafe(driver)
        assert state(driver, "WEATHER_PARAMETERS") is State.IDLE
        for name in ("WEATHER_TEMPERATURE", "WEATHER_HUMIDITY", "WEATHER_DEWPOINT", *SKY, "WEATHER_SKY_BRIGHTNESS"):
            assert state(driver, name) is State.IDLE
        for name in ("SENSOR_1", "SENSOR_2", "SKY_SENSOR", "SKY_QUALITY", "FOCUS_TEMPERATURE"):
            assert state(driver, name) is State.IDLE
        assert sum("weather unknown" in text for text in messages(said)) == 1
        driver.simulator.faults.silent = False
        await trio.sleep(5.0)
        assert_safe(driver)
        assert state(driver, "WEATHER_PARAMETERS") is State.OK
        nursery.cancel_scope.cancel()


async def test_readings_go_stale_without_a_complete_status(autojump_clock) -> None:
    """Firmware that shortens its status line while the focuser moves gives no sensor readings meanwhile."""
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        driver.simulator.config.short_status_while_moving = True
        await driver.handle_request(astrolink_request("Number", "FOCUSER_SETTINGS", FS_SPEED=100))
        await driver.handle_request(astrolink_request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=2000))
        await trio.sleep(3.0)
        assert_safe(driver)  # a few polls without readings are tolerated (the last full one is at most 4 s old)
        await trio.sleep(4.0)  # now at least 6 s old: more than STALE_MINIMUM_S and the watch's half-second tick
        assert_unsafe(driver)
        assert state(driver, "WEATHER_PARAMETERS") is State.IDLE and state(driver, "SENSOR_1") is State.IDLE
        assert any("no complete status from the device" in text for text in messages(sent(driver)))
        while driver.focuser.moving:
            await trio.sleep(1.0)
        await trio.sleep(POLL)
        assert_safe(driver)
        nursery.cancel_scope.cancel()


async def test_the_override_still_reports_safe_with_a_sensor_gone(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        driver.simulator.config.sky_sensor = False
        await trio.sleep(POLL)
        assert_unsafe(driver)
        await driver.handle_request(astrolink_request("Switch", "WEATHER_OVERRIDE", OVERRIDE=True))
        assert_safe(driver)
        assert state(driver, "WEATHER_OVERRIDE") is State.BUSY  # as libindi: an override on is not a normal state
        assert any("override is on" in text for text in messages(sent(driver)))
        await trio.sleep(70.0)  # polls and a periodic update do not undo it
        assert_safe(driver)
        assert light(driver, "WEATHER_STATUS", "WEATHER_CLOUD_COVER") is State.IDLE  # the light still tells the truth
        await driver.handle_request(astrolink_request("Switch", "WEATHER_OVERRIDE", OVERRIDE=False))
        assert_unsafe(driver)
        nursery.cancel_scope.cancel()


async def test_bad_weather_is_unsafe_in_safety_status_too(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        driver.simulator.environment.cloudiness = 0.9
        await driver.handle_request(astrolink_request("Switch", "WEATHER_REFRESH", REFRESH=True))
        await trio.sleep(POLL)
        await driver.handle_request(astrolink_request("Switch", "WEATHER_REFRESH", REFRESH=True))
        assert light(driver, "WEATHER_STATUS", "WEATHER_CLOUD_COVER") is State.ALERT
        assert_unsafe(driver)
        nursery.cancel_scope.cancel()


# --- WEATHER_UPDATE -------------------------------------------------------------------------------------------------


def weather_publications(elements: list[etree._Element]) -> int:
    return sum(e.tag == "setNumberVector" and e.get("name") == "WEATHER_PARAMETERS" for e in elements)


@pytest.mark.parametrize("requested, used", [(0.2, 1), (0.6, 1), (2.4, 2), (60, 60)])
async def test_weather_update_shows_the_period_it_runs_at(autojump_clock, requested, used) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        await driver.handle_request(astrolink_request("Number", "WEATHER_UPDATE", PERIOD=requested))
        vector = driver.props.number("WEATHER_UPDATE")
        assert vector["PERIOD"].value == used and vector.state is State.OK
        await trio.sleep(0.01)  # the new period starts with a publication
        said = sent(driver)
        if used != requested:
            assert any(f"{used} s is used" in text for text in messages(said))
        await trio.sleep(used * 10.5)  # publications at 1..10 periods, none at the moment the test looks
        assert weather_publications(sent(driver)) == 10
        nursery.cancel_scope.cancel()


async def test_weather_update_0_means_no_periodic_updates(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connected(nursery)
        await driver.handle_request(astrolink_request("Number", "WEATHER_UPDATE", PERIOD=0))
        assert driver.props.number("WEATHER_UPDATE")["PERIOD"].value == 0
        await trio.sleep(0.01)
        assert any("Periodic weather updates are off" in text for text in messages(sent(driver)))
        await trio.sleep(200.0)
        assert weather_publications(sent(driver)) == 0
        await driver.handle_request(astrolink_request("Switch", "WEATHER_REFRESH", REFRESH=True))
        assert weather_publications(sent(driver)) == 1
        driver.simulator.config.sky_sensor = False  # safety changes are published all the same
        await trio.sleep(POLL)
        assert weather_publications(sent(driver)) == 1
        assert_unsafe(driver)
        nursery.cancel_scope.cancel()


async def test_a_sky_sensor_absent_at_connect_is_unsafe_from_the_start_and_said(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, EmulatorConfig(sky_sensor=False))
        text = " | ".join(messages(sent(driver)))
        assert_unsafe(driver)
        assert "Unsafe, weather unknown: Cloud cover (Sky temperature sensor is not connected)" in text
        assert state(driver, "WEATHER_CLOUD_COVER") is State.IDLE and state(driver, "WEATHER_PARAMETERS") is State.IDLE
        await trio.sleep(POLL)
        assert "Sky temperature sensor is not connected" in " | ".join(messages(sent(driver)))
        assert_unsafe(driver)
        nursery.cancel_scope.cancel()
