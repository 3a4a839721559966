"""The AstroLink 4 family, whole driver against its emulator on trio's fake clock: with the baud rate left at its
default the driver finds the device at 38400 or 115200 baud (the last that worked first), shows the speed it found,
and connects within 5 s; a device that answers at neither says so. On a mini, hardware it does not have is never shown
as an Ok reading and settings it lacks are not offered."""

from __future__ import annotations

import pytest
import trio

from astrolink_sim import astrolink_request, sent, start_astrolink
from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator, EmulatorConfig
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.astrolink4.protocol import Layout
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.properties import State
from indi_astrojolo.indi.spec import prepare_properties

CONNECT_WITHIN = 5.0
MINI_ABSENT = {"WEATHER_SKY_TEMPERATURE", "WEATHER_CLOUD_COVER", "WEATHER_SKY_BRIGHTNESS", "HUM_2", "DEW_2",
               "FS_CURRENT", "FS_MODE_MICRO_H", "PRESET_MICRO_32", "SKY_TEMP", "SKY_DIFF", "CLOUD_COVER",
               "SKY_BRIGHTNESS"}  # fmt: skip


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def not_understood(emulator: AstroLink4Emulator) -> int:
    return sum("not understood" in command for command in emulator.commands)


def config(layout: str, baud: int, noise: bool) -> EmulatorConfig:
    chosen = EmulatorConfig.mini() if layout == "mini" else EmulatorConfig()
    chosen.baud, chosen.wrong_baud_noise = baud, noise
    return chosen


@pytest.mark.parametrize("noise", [False, True], ids=["silent", "noise"])
@pytest.mark.parametrize("layout, baud", [("usb", 38400), ("usb", 115200), ("mini", 115200), ("mini", 38400)])
async def test_the_device_is_found_at_either_speed_within_5_s(autojump_clock, layout, baud, noise) -> None:
    async with trio.open_nursery() as nursery:
        started = trio.current_time()
        driver = await start_astrolink(nursery, config(layout, baud, noise))
        assert trio.current_time() - started < CONNECT_WITHIN
        assert driver.layout is (Layout.MINI if layout == "mini" else Layout.USB)
        assert driver.props.text("DEVICE_INFO")["MODEL"].value == driver.layout.model
        rates = driver.props.switch("DEVICE_BAUD_RATE")
        assert rates.selected() == str(baud)
        said = sent(driver)
        if baud != 38400:  # not the default: found by trying, and shown
            assert not_understood(driver.simulator) >= 1
            assert rates.state is State.OK
            assert any(
                e.get("name") == "DEVICE_BAUD_RATE" and "answered at 115200 baud" in (e.get("message") or "") for e in said
            )
        else:
            assert not_understood(driver.simulator) == 0
        # The last speed that worked is tried first next time.
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", DISCONNECT=True))
        mark = len(driver.simulator.commands)
        started = trio.current_time()
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected and trio.current_time() - started < 1.0
        assert not any("not understood" in command for command in driver.simulator.commands[mark:])
        nursery.cancel_scope.cancel()


async def test_a_device_that_answers_at_neither_speed_says_so(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())
        driver.runtime_nursery = nursery
        driver.simulator = AstroLink4Emulator(config("usb", 57600, False), now=trio.current_time())
        await driver.handle_request(astrolink_request("Switch", "SIMULATION", ENABLE=True))
        driver.outbox.take()
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert not driver.connected
        assert driver.props["CONNECTION"].state is State.ALERT
        text = " | ".join(e.get("message") or "" for e in sent(driver))
        assert "Connection failed: no AstroLink 4 answered on /dev/ttyUSB0 at 38400 or 115200 baud" in text
        assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "38400"  # nothing found, nothing changed
        nursery.cancel_scope.cancel()


async def test_a_speed_chosen_on_purpose_is_the_only_one_tried(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())
        driver.runtime_nursery = nursery
        driver.simulator = AstroLink4Emulator(config("usb", 38400, False), now=trio.current_time())
        await driver.handle_request(astrolink_request("Switch", "SIMULATION", ENABLE=True))
        await driver.handle_request(astrolink_request("Switch", "DEVICE_BAUD_RATE", **{"9600": True}))
        driver.outbox.take()
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert not driver.connected
        text = " | ".join(e.get("message") or "" for e in sent(driver))
        assert "no AstroLink 4 answered on /dev/ttyUSB0 at 9600 baud" in text
        nursery.cancel_scope.cancel()


# --- the mini -------------------------------------------------------------------------------------------------------


async def test_the_mini_shows_no_reading_and_offers_no_setting_for_hardware_it_lacks(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, EmulatorConfig.mini())
        await trio.sleep(1.5)
        elements = sent(driver)
        assert driver.layout is Layout.MINI
        named = {member.get("name") for e in elements for member in e}
        assert not named & MINI_ABSENT, named & MINI_ABSENT  # never defined, never sent
        props = driver.props
        assert list(props.number("WEATHER_PARAMETERS").members) == ["WEATHER_TEMPERATURE", "WEATHER_HUMIDITY", "WEATHER_DEWPOINT"]
        assert list(props.light("WEATHER_STATUS").members) == ["WEATHER_HUMIDITY"]
        assert list(props.number("SENSOR_2").members) == ["TEMP_2"]
        assert "FS_CURRENT" not in props.number("FOCUSER_SETTINGS")
        assert "FS_MODE_MICRO_H" not in props.switch("FOCUSER_MODE")
        assert "PRESET_MICRO_32" not in props.switch("MOTOR_PRESET")
        for name in ("WEATHER_SKY_TEMPERATURE", "WEATHER_CLOUD_COVER", "WEATHER_SKY_BRIGHTNESS", "SKY_SENSOR", "MOTOR_HOLD"):
            assert not props.is_defined(name)
        # What it has is live and Ok; the weather is judged on humidity alone.
        assert props["WEATHER_PARAMETERS"].state is State.OK
        assert props["SENSOR_2"].state is State.OK
        assert props["WEATHER_STATUS"].state is State.OK and props["SAFETY_STATUS"].state is State.OK
        # Settings it lacks are refused with a reason, and nothing is written.
        mark = len(driver.simulator.commands)
        await driver.handle_request(astrolink_request("Number", "FOCUSER_SETTINGS", FS_CURRENT=800))
        assert props["FOCUSER_SETTINGS"].state is State.ALERT
        assert b"has no member 'FS_CURRENT'" in driver.outbox.take()
        await driver.handle_request(astrolink_request("Switch", "FOCUSER_MODE", FS_MODE_MICRO_H=True))
        assert props["FOCUSER_MODE"].state is State.ALERT
        assert not [c for c in driver.simulator.commands[mark:] if c[0] in "UZ"]
        # Its sensor 1 unplugged: humidity unknown, unsafe, said.
        driver.simulator.config.sensor1 = False
        await trio.sleep(1.5)
        assert props["WEATHER_STATUS"].state is State.ALERT and props["SAFETY_STATUS"].state is State.ALERT
        assert b"Humidity (Sensor 1 is not connected)" in driver.outbox.take()
        nursery.cancel_scope.cancel()


async def test_a_usb_after_a_mini_offers_everything_again(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, EmulatorConfig.mini())
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", DISCONNECT=True))
        driver.simulator = AstroLink4Emulator(EmulatorConfig(), now=trio.current_time())
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected and driver.layout is Layout.USB
        assert "FS_CURRENT" in driver.props.number("FOCUSER_SETTINGS")
        assert "WEATHER_CLOUD_COVER" in driver.props.light("WEATHER_STATUS")
        assert driver.props.is_defined("WEATHER_CLOUD_COVER")
        assert len(driver.props.number("WEATHER_PARAMETERS").members) == 6
        await trio.sleep(1.5)
        assert driver.props["WEATHER_PARAMETERS"].state is State.OK
        nursery.cancel_scope.cancel()
