"""AstroLink 4 settings that the user did not ask to change stay as they are: connecting, loading a config, the
factory reset. The whole driver runs against its emulator on trio's fake clock; the emulator's command log says
what reached the device."""

from __future__ import annotations

import pytest
import trio

from astrolink_sim import messages, send, start_astrolink, writes
from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator, EmulatorConfig, Environment
from indi_astrojolo.indi.properties import State


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def reconnect(driver) -> int:
    """Disconnect, then connect again; returns where the emulator's command log stood before connecting."""
    await send(driver, "Switch", "CONNECTION", DISCONNECT=True)
    return await reconnect_from_disconnected(driver)


async def reconnect_from_disconnected(driver) -> int:
    assert not driver.connected
    await trio.sleep(1.0)
    mark = len(driver.simulator.commands)
    messages(driver)
    await send(driver, "Switch", "CONNECTION", CONNECT=True)
    assert driver.connected, messages(driver)[-3:]
    return mark


async def heater_at_40_with_a_saved_config(driver) -> None:
    await send(driver, "Number", "DEW_DUTY_CYCLES", DEW_CHANNEL_1=40)
    await send(driver, "Switch", "DEW_CHANNELS", DEW_CHANNEL_1=True, DEW_CHANNEL_2=False)
    await send(driver, "Switch", "DEW_MODE_2", DEW_HEAT=True)
    assert driver.simulator.pwm_setting == [40, 0]
    await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_SAVE=True)


# --- item 6: connecting and loading a config --------------------------------------------------------------------


async def test_reconnecting_with_a_saved_config_sends_only_reads(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        await heater_at_40_with_a_saved_config(driver)
        await send(driver, "Switch", "COMP_ENABLE", INDI_DISABLED=True)
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_SAVE=True)
        # meanwhile, with the driver away, the heater keeps its duty and the vendor panel turns automatic
        # compensation on (compensation is disabled in the saved config)
        await send(driver, "Switch", "CONNECTION", DISCONNECT=True)
        emulator.pwm_setting = [35, 0]
        emulator.e[3] = "1"
        mark = len(emulator.commands)
        await send(driver, "Switch", "CONNECTION", CONNECT=True)
        assert driver.connected
        await trio.sleep(5.0)
        sent = emulator.commands[mark:]
        assert "u" in sent and "q" in sent
        assert writes(sent) == []
        assert emulator.pwm_setting == [35, 0] and emulator.e[3] == "1"
        assert driver.props.number("DEW_DUTY_CYCLES")["DEW_CHANNEL_1"].value == 35  # shown as the device runs it
        assert driver.props.switch("COMP_ENABLE")["INDI_ENABLED"].on  # the device compensates: shown so
        assert any("compensates by itself" in text for text in messages(driver))
        nursery.cancel_scope.cancel()


async def test_startup_duties_apply_only_where_set_and_are_announced(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await heater_at_40_with_a_saved_config(driver)
        await send(driver, "Number", "DEW_STARTUP", DEW_CHANNEL_1=30, DEW_CHANNEL_2=-1)
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_SAVE=True)
        mark = await reconnect(driver)
        await trio.sleep(3.0)
        assert writes(driver.simulator.commands[mark:]) == ["B:0:30"]  # channel 2 is left as it is
        assert driver.simulator.pwm_setting == [30, 0]
        assert any("PWM A: startup duty applied, 40 % -> 30 %" in text for text in messages(driver))
        nursery.cancel_scope.cancel()


async def test_a_startup_duty_is_not_sent_to_a_channel_in_another_mode(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await heater_at_40_with_a_saved_config(driver)
        await send(driver, "Number", "DEW_STARTUP", DEW_CHANNEL_2=50)
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_SAVE=True)
        mark = await reconnect(driver)
        await trio.sleep(3.0)
        assert writes(driver.simulator.commands[mark:]) == []
        assert any("PWM B: startup duty 50 % not applied" in text for text in messages(driver))
        nursery.cancel_scope.cancel()


async def test_a_heater_found_running_in_a_driver_mode_is_taken_over_with_a_message(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await heater_at_40_with_a_saved_config(driver)  # PWM B saved in HEAT mode
        await send(driver, "Switch", "CONNECTION", DISCONNECT=True)
        driver.simulator.pwm_setting = [40, 30]  # PWM B heating when the driver comes back
        mark = await reconnect_from_disconnected(driver)
        assert any("PWM B is heating (30 %) in HEAT (by humidity) mode: the driver takes over" in text for text in messages(driver))
        await trio.sleep(3.0)
        assert [command for command in writes(driver.simulator.commands[mark:]) if command.startswith("B:0")] == []
        nursery.cancel_scope.cancel()


async def test_loading_an_unchanged_config_changes_nothing_and_says_so(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await heater_at_40_with_a_saved_config(driver)
        mark = len(driver.simulator.commands)
        messages(driver)
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_LOAD=True)
        await trio.sleep(2.0)
        assert writes(driver.simulator.commands[mark:]) == []
        assert driver.simulator.pwm_setting == [40, 0]
        assert any("nothing changed" in text for text in messages(driver))
        nursery.cancel_scope.cancel()


async def test_loading_a_config_changes_only_what_differs_and_says_what(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await heater_at_40_with_a_saved_config(driver)
        await send(driver, "Switch", "DEW_MODE_1", DEW_DEVICE=True)
        await send(driver, "Text", "DEW_LABELS", DEW_CHANNEL_2="Guider")
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_SAVE=True)
        await send(driver, "Switch", "DEW_MODE_1", DEW_MANUAL=True)  # back to 40 %
        assert driver.simulator.pwm_setting == [40, 0]
        mark = len(driver.simulator.commands)
        messages(driver)
        await send(driver, "Switch", "CONFIG_PROCESS", CONFIG_LOAD=True)
        await trio.sleep(2.0)
        assert writes(driver.simulator.commands[mark:]) == ["B:0:255"]
        [loaded] = [text for text in messages(driver) if "Configuration loaded" in text]
        assert "PWM A mode (Manual % off, Device automatic on)" in loaded
        assert "Guider" not in loaded.split("changed:")[1]  # the labels were already as saved
        assert driver.props["CONFIG_PROCESS"].state is State.OK
        nursery.cancel_scope.cancel()


# --- item 7: the factory reset -------------------------------------------------------------------------------------


async def changed_protection_on_a_calibrated_unit(driver) -> None:
    emulator = driver.simulator
    assert emulator.n[0] == "1077"  # this unit's ADC reference, as printed on its box
    emulator.u[14] = "1"  # DC1 on at power-up
    await send(driver, "Number", "OTHER_SETTINGS", SET_OVER_VOLT=12.5)
    assert emulator.n == ["1077", "125", "100", "100"]


async def test_factory_reset_asks_for_confirmation_and_changes_nothing_first(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await changed_protection_on_a_calibrated_unit(driver)
        mark = len(driver.simulator.commands)
        messages(driver)
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)
        assert writes(driver.simulator.commands[mark:]) == []
        assert driver.props["FACTORY_DEFAULTS"].state is State.BUSY
        [asked] = [text for text in messages(driver) if "Factory reset would set" in text]
        assert "protection voltage 12.5 -> 14.0 V" in asked and "Press it again within 10 s" in asked
        assert "current" not in asked.split("(kept")[0]  # only what would change is listed
        await trio.sleep(11.0)  # not confirmed in time
        assert driver.props["FACTORY_DEFAULTS"].state is State.IDLE
        assert any("not confirmed; nothing changed" in text for text in messages(driver))
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)  # a new first press, not a confirmation
        assert writes(driver.simulator.commands[mark:]) == []
        assert driver.simulator.n == ["1077", "125", "100", "100"]
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=False)  # cancelled
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)
        assert writes(driver.simulator.commands[mark:]) == []
        nursery.cancel_scope.cancel()


async def test_confirmed_factory_reset_keeps_the_calibration_and_power_on_defaults(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        await changed_protection_on_a_calibrated_unit(driver)
        u_before, e_before, z_before = list(emulator.u), list(emulator.e), list(emulator.z)
        mark = len(emulator.commands)
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)
        await trio.sleep(3.0)
        messages(driver)
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)
        assert writes(emulator.commands[mark:]) == ["N:1077:140:100:100:"]
        assert emulator.n == ["1077", "140", "100", "100"]  # the ADC coefficient is the unit's own
        assert (emulator.u, emulator.e, emulator.z) == (u_before, e_before, z_before)
        assert emulator.u[14] == "1"  # DC1 still comes on at the next power-up
        assert driver.props["FACTORY_DEFAULTS"].state is State.OK
        [done] = [text for text in messages(driver) if "Factory defaults written" in text]
        assert done.startswith("[INFO] Factory defaults written: protection voltage 12.5 -> 14.0 V (kept: the ADC")
        assert driver.props.number("OTHER_SETTINGS")["SET_AREF_COEFF"].value == pytest.approx(1.077)
        # pressed again: already at the factory values, nothing to confirm or write
        await send(driver, "Switch", "FACTORY_DEFAULTS", RESET=True)
        assert writes(emulator.commands[mark:]) == ["N:1077:140:100:100:"]
        assert any("nothing changed" in text for text in messages(driver))
        nursery.cancel_scope.cancel()


# --- item 8: the compensation sign, end to end ----------------------------------------------------------------------

# Colder means further out: 12 steps out per degree colder (the fit's slope is -12 steps/°C).
POINTS_COLDER_IS_FURTHER_OUT = [(12.0, 10000), (10.0, 10024), (8.0, 10048), (6.0, 10072)]


class StillNight(Environment):
    """The air stays at start_temperature exactly (tests change it by hand): pending counts are then exact."""

    def temperature(self, hours: float) -> float:
        return self.start_temperature


def emulator_with_sign(sign: int) -> AstroLink4Emulator:
    emulator = AstroLink4Emulator(EmulatorConfig(compensation_sign=sign))
    emulator.environment = StillNight(start_temperature=12.0, noise=0.0)
    emulator.compensation_reference = 12.0
    return emulator


async def with_points_at_10000(driver) -> None:
    await send(driver, "Number", "FOCUS_SYNC", FOCUS_SYNC_VALUE=10000)
    for temperature, position in POINTS_COLDER_IS_FURTHER_OUT:
        await send(driver, "Number", "COMP_CALC_POINT", INDEX=0, TEMPERATURE=temperature, POSITION=position)
    assert driver.props.number("COMP_CALC_RESULT")["COEFFICIENT"].value == pytest.approx(-12.0)
    await trio.sleep(3.0)  # a few status lines at this temperature, for the driver to start from


async def apply(driver) -> None:
    await send(driver, "Switch", "COMP_CALC_ADD", APPLY=True)


async def compensate_now(driver) -> int:
    """COMP_NOW, then the position once the move is over."""
    await send(driver, "Switch", "COMP_NOW", COMP_NOW=True)
    await trio.sleep(3.0)
    assert driver.simulator.position == driver.simulator.target
    return driver.focuser.position


async def two_degrees_colder_moves_24_steps_out(driver) -> None:
    start = await compensate_now(driver)  # what built up before the coefficient was applied is taken up first
    driver.simulator.environment.start_temperature -= 2.0
    await trio.sleep(3.0)
    assert driver.props.number("COMP_STEPS")["COMP_VALUE"].value == 24
    assert await compensate_now(driver) == start + 24


@pytest.mark.parametrize("firmware_sign", [1, -1], ids=["manual-rule", "manual-example"])
async def test_apply_waits_for_the_learned_sign_then_moves_the_way_the_points_say(autojump_clock, firmware_sign) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, emulator_with_sign(firmware_sign))
        await with_points_at_10000(driver)
        assert driver.props.text("COMP_SIGN_STATUS")["STATE"].value == "unknown"
        mark = len(driver.simulator.commands)
        messages(driver)
        await apply(driver)  # no guess: the sign is not known and COMP_SIGN is not set
        assert driver.props["COMP_CALC_ADD"].state is State.ALERT
        assert writes(driver.simulator.commands[mark:]) == []
        assert any("compensation sign is not known yet" in text for text in messages(driver))
        # the device's own coefficient (12 steps/°C) and a degree of cooling show which way it counts
        driver.simulator.environment.start_temperature -= 1.0
        await trio.sleep(5.0)
        assert driver.props.number("COMP_STEPS")["COMP_VALUE"].value == -12 * firmware_sign
        status = driver.props.text("COMP_SIGN_STATUS")
        assert status["STATE"].value == "learned"
        assert ("inward" if firmware_sign == 1 else "outward") in status["RULE"].value
        await apply(driver)
        assert driver.props["COMP_CALC_ADD"].state is State.OK
        assert driver.simulator.e[1] == str(-1200 * firmware_sign)
        await two_degrees_colder_moves_24_steps_out(driver)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("firmware_sign", [1, -1], ids=["manual-rule", "manual-example"])
async def test_apply_uses_the_users_sign_setting_until_the_sign_is_learned(autojump_clock, firmware_sign) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, emulator_with_sign(firmware_sign))
        await with_points_at_10000(driver)
        await send(driver, "Switch", "COMP_SIGN", **{"COLDER_INWARD" if firmware_sign == 1 else "COLDER_OUTWARD": True})
        assert driver.props.text("COMP_SIGN_STATUS")["STATE"].value == "unknown"
        messages(driver)
        await apply(driver)
        assert any("sign from your COMP_SIGN setting" in text for text in messages(driver))
        assert driver.simulator.e[1] == str(-1200 * firmware_sign)
        await two_degrees_colder_moves_24_steps_out(driver)
        assert driver.props.text("COMP_SIGN_STATUS")["STATE"].value == "learned"  # and it agreed: no warning
        assert driver.props["COMP_SIGN_STATUS"].state is State.OK
        nursery.cancel_scope.cancel()


async def test_a_wrong_sign_setting_is_caught_once_the_sign_is_learned(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery, emulator_with_sign(-1))
        await with_points_at_10000(driver)
        await send(driver, "Switch", "COMP_SIGN", COLDER_INWARD=True)  # not what this firmware does
        await apply(driver)
        assert driver.simulator.e[1] == "-1200"
        await trio.sleep(3.0)
        messages(driver)
        driver.simulator.environment.start_temperature -= 1.0
        await trio.sleep(5.0)
        assert driver.props["COMP_SIGN_STATUS"].state is State.ALERT
        assert any("compensates the wrong way: press Apply again" in text for text in messages(driver))
        await apply(driver)  # the learned sign now wins over the setting
        assert driver.simulator.e[1] == "1200"
        await two_degrees_colder_moves_24_steps_out(driver)
        nursery.cancel_scope.cancel()


# --- item 9: the outlier warning agrees with OUTLIERS ---------------------------------------------------------------


@pytest.mark.parametrize(("sixth_point_error", "outliers"), [(-7, 0), (-150, 1)])
async def test_the_calculators_outlier_warning_agrees_with_its_outlier_count(autojump_clock, sixth_point_error, outliers) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        for i, noise in enumerate([2, -1, 1, 0, -1, sixth_point_error, 1, 0]):
            messages(driver)  # what the calculator says about the whole set is what counts
            await send(driver, "Number", "COMP_CALC_POINT", INDEX=0, TEMPERATURE=10.0 + i, POSITION=10000 - 12 * i + noise)
        result = driver.props.number("COMP_CALC_RESULT")
        assert result["OUTLIERS"].value == outliers
        warned = [text for text in messages(driver) if "far from the line" in text]
        if outliers:
            [warning] = warned
            assert "point 6 (15.0 °C, 9790)" in warning and result.state is State.BUSY
        else:
            assert warned == [] and result.state is State.OK  # 6 steps off at an RMS of 2.5: no warning
            assert result["RESIDUAL_RMS"].value == pytest.approx(2.5, abs=0.05)
        nursery.cancel_scope.cancel()


# --- item 12: the step size while the focuser moves -----------------------------------------------------------------


async def test_step_size_may_change_while_the_focuser_moves_but_speed_may_not(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await send(driver, "Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=5000)
        await trio.sleep(1.0)
        assert driver.focuser.moving
        await send(driver, "Number", "FOCUSER_SETTINGS", FS_STEP_SIZE=3.5)
        assert driver.props["FOCUSER_SETTINGS"].state is State.OK
        assert driver.simulator.u[8] == "350"
        await send(driver, "Number", "FOCUSER_SETTINGS", FS_SPEED=300)
        assert driver.props["FOCUSER_SETTINGS"].state is State.ALERT
        assert driver.simulator.u[1] == "220"  # the speed is refused while it moves
        assert driver.focuser.moving  # and the move goes on
        nursery.cancel_scope.cancel()
