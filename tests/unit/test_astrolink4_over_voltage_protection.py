"""OVER_VOLTAGE_PROTECTION (libindi's PowerInterface) on the AstroLink 4: the same device field as
OTHER_SETTINGS.SET_OVER_VOLT (n block, V × 10). Either property writes it through the one read-modify-write of the n
block; both always show what the device holds. The whole driver runs against its emulator on trio's fake clock; the
emulator's command log says what reached the device."""

from __future__ import annotations

import pytest
import trio

from astrolink_sim import messages, send, start_astrolink, writes
from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator, EmulatorConfig, Layout
from indi_astrojolo.indi.properties import State


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def shown(driver) -> tuple[float, float]:
    """The protection voltage as the two properties show it: (OVER_VOLTAGE_PROTECTION, OTHER_SETTINGS)."""
    return (
        driver.props.number("OVER_VOLTAGE_PROTECTION")["OVERVOLTAGE"].value,
        driver.props.number("OTHER_SETTINGS")["SET_OVER_VOLT"].value,
    )


@pytest.mark.parametrize("layout", [Layout.USB, Layout.MINI])
async def test_connecting_shows_the_devices_protection_voltage_in_both_and_writes_nothing(autojump_clock, layout) -> None:
    emulator = AstroLink4Emulator(EmulatorConfig(layout=layout), now=0.0)
    emulator.n = ["1077", "132", "100", "100"]  # set on the device earlier (the vendor's panel)
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, emulator)
        assert "OVER_VOLTAGE_PROTECTION" in driver.props.defined
        assert shown(driver) == (pytest.approx(13.2), pytest.approx(13.2))
        assert driver.props["OVER_VOLTAGE_PROTECTION"].state is State.OK
        assert writes(emulator.commands) == []
        nursery.cancel_scope.cancel()


async def test_over_voltage_protection_writes_the_device_and_both_properties_show_it(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        emulator.n[2] = "85"  # the over-current limit changed on the device since the driver read it
        mark = len(emulator.commands)
        await send(driver, "Number", "OVER_VOLTAGE_PROTECTION", OVERVOLTAGE=12.5)
        # read-modify-write from a fresh read: only the voltage changes, the device's other fields are kept
        assert writes(emulator.commands[mark:]) == ["N:1077:125:85:100:"]
        assert emulator.n == ["1077", "125", "85", "100"]
        assert shown(driver) == (pytest.approx(12.5), pytest.approx(12.5))
        assert driver.props.number("OTHER_SETTINGS")["SET_OVER_AMP"].value == pytest.approx(8.5)
        assert driver.props["OVER_VOLTAGE_PROTECTION"].state is State.OK
        assert driver.props["OTHER_SETTINGS"].state is State.OK
        nursery.cancel_scope.cancel()


async def test_other_settings_changes_show_in_over_voltage_protection(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        mark = len(driver.simulator.commands)
        await send(driver, "Number", "OTHER_SETTINGS", SET_OVER_VOLT=13.1)
        assert writes(driver.simulator.commands[mark:]) == ["N:1077:131:100:100:"]
        assert shown(driver) == (pytest.approx(13.1), pytest.approx(13.1))
        nursery.cancel_scope.cancel()


async def test_the_same_value_again_writes_nothing(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        mark = len(driver.simulator.commands)
        await send(driver, "Number", "OVER_VOLTAGE_PROTECTION", OVERVOLTAGE=14.0)
        assert writes(driver.simulator.commands[mark:]) == []
        assert driver.props["OVER_VOLTAGE_PROTECTION"].state is State.OK
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("volts", [9.9, 14.1, 16.0])
async def test_a_voltage_the_device_cannot_hold_is_refused_and_changes_nothing(autojump_clock, volts) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        mark = len(driver.simulator.commands)
        messages(driver)
        await send(driver, "Number", "OVER_VOLTAGE_PROTECTION", OVERVOLTAGE=volts)
        assert writes(driver.simulator.commands[mark:]) == []
        assert driver.simulator.n[1] == "140"
        assert shown(driver) == (pytest.approx(14.0), pytest.approx(14.0))
        assert driver.props["OVER_VOLTAGE_PROTECTION"].state is State.ALERT
        said = " ".join(messages(driver))
        assert "Request refused" in said and "internal error" not in said
        nursery.cancel_scope.cancel()


async def test_the_device_trips_at_the_voltage_set_through_over_voltage_protection(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        await send(driver, "Switch", "POWER_CHANNELS", POWER_CHANNEL_1=True)
        emulator.input_voltage_override = 12.8  # a charger on the battery
        await trio.sleep(3.0)
        assert driver.props["PROTECTION_STATUS"].state is State.OK  # below the default 14.0 V
        assert emulator.outputs[0]
        await send(driver, "Number", "OVER_VOLTAGE_PROTECTION", OVERVOLTAGE=12.5)
        with trio.fail_after(30):
            while driver.props["PROTECTION_STATUS"].state is not State.ALERT:
                await trio.sleep(0.5)
        assert driver.props.light("PROTECTION_STATUS")["OVER_VOLTAGE"].state is State.ALERT
        assert not emulator.outputs[0]
        nursery.cancel_scope.cancel()
