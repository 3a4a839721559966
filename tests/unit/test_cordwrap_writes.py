"""Connecting never writes settings: the azimuth controller's cord-wrap settings are read at connect and written
only before the first motion, and only where they differ from what the driver wants."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Device
from mount_sim import goto_and_track, request, start_mount, target_for_altitude

# Every command a connect may send: questions only.
READS = {"GET_VERSION", "GET_MODEL", "GET_POSITION", "GET_POS_BACKLASH", "GET_NEG_BACKLASH", "POLL_CORDWRAP",
         "GET_CORDWRAP_POS", "SLEW_DONE",
         # the focuser's own questions, which the summary names by number
         f"0x{aux.FocuserCommand.CALIBRATION_STATUS:02x}", f"0x{aux.FocuserCommand.GET_HARD_STOPS:02x}"}  # fmt: skip
CORDWRAP_WRITES = {"SET_CORDWRAP_POS", "ENABLE_CORDWRAP", "DISABLE_CORDWRAP"}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def commands(driver, since: int = 0) -> list[tuple[str, int, str]]:
    """(command name, destination, data hex) of every packet the emulated bus received since `since`."""
    lines = driver.simulator.received_summary().splitlines()[since:]
    return [(line.split()[0], int(line.split()[1], 16), (line.split() + [""])[2]) for line in lines]


async def reconnect(driver) -> int:
    await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
    assert not driver.connected
    mark = len(driver.simulator.received)
    await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
    assert driver.connected
    return mark


async def goto_somewhere(driver) -> None:
    ra, dec = target_for_altitude(driver, 40.0, 100.0)
    await goto_and_track(driver, ra, dec)


@pytest.mark.parametrize("focuser", [False, True], ids=["mount", "mount-and-focuser"])
async def test_connecting_sends_only_questions(autojump_clock, focuser) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=focuser)
        await trio.sleep(5.0)  # a few polls, the tracking task started, the config applied
        sent = {name for name, _, _ in commands(driver)}
        assert sent <= READS, f"connecting wrote {sorted(sent - READS)}"
        assert {"POLL_CORDWRAP", "GET_CORDWRAP_POS"} <= sent
        axis = driver.simulator.axes[Device.AZM]
        assert not axis.cordwrap_enabled and axis.cordwrap_position == 0  # untouched
        nursery.cancel_scope.cancel()


async def test_the_first_motion_writes_the_cord_wrap_before_moving(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        mark = len(driver.simulator.received)
        await goto_somewhere(driver)
        sent = commands(driver, mark)
        names = [name for name, _, _ in sent]
        first_goto = names.index("GOTO_FAST")
        assert ("SET_CORDWRAP_POS", Device.AZM, "800000") in sent[:first_goto]  # 180°, the default
        assert ("ENABLE_CORDWRAP", Device.AZM, "") in sent[:first_goto]
        assert sum(name in CORDWRAP_WRITES for name in names) == 2  # once, not at every step
        axis = driver.simulator.axes[Device.AZM]
        assert axis.cordwrap_enabled and axis.cordwrap_position == 0x800000
        nursery.cancel_scope.cancel()


async def test_a_controller_that_already_holds_the_settings_is_not_written(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await goto_somewhere(driver)  # the controller now holds them
        mark = await reconnect(driver)
        await goto_somewhere(driver)
        names = [name for name, _, _ in commands(driver, mark)]
        assert "GOTO_FAST" in names and "POLL_CORDWRAP" in names
        assert not CORDWRAP_WRITES & set(names)
        nursery.cancel_scope.cancel()


async def test_a_change_while_connected_is_written_at_the_next_motion_only(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await goto_somewhere(driver)
        mark = len(driver.simulator.received)
        await driver.handle_request(request("Number", "CORDWRAP_POS", POSITION=90.0))
        await driver.handle_request(request("Switch", "CORDWRAP", INDI_DISABLED=True))
        assert driver.props["CORDWRAP"].state.value == "Ok"
        assert not CORDWRAP_WRITES & {name for name, _, _ in commands(driver, mark)}
        await goto_somewhere(driver)
        sent = [(name, data) for name, _, data in commands(driver, mark) if name in CORDWRAP_WRITES]
        assert sent == [("DISABLE_CORDWRAP", "")]  # disabled: its position is not the controller's business
        assert not driver.simulator.axes[Device.AZM].cordwrap_enabled
        nursery.cancel_scope.cancel()


async def test_a_controller_that_cannot_report_them_gets_them_at_the_first_motion(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await goto_somewhere(driver)
        driver.simulator.config.cordwrap_unreadable = True
        mark = await reconnect(driver)
        assert driver.connected
        assert not CORDWRAP_WRITES & {name for name, _, _ in commands(driver, mark)}
        assert driver.controller_cordwrap == (None, None)
        await goto_somewhere(driver)
        names = [name for name, _, _ in commands(driver, mark)]
        assert {"SET_CORDWRAP_POS", "ENABLE_CORDWRAP"} <= set(names)
        assert names.index("ENABLE_CORDWRAP") < names.index("GOTO_FAST")
        nursery.cancel_scope.cancel()


async def test_a_stop_is_not_delayed_by_a_cord_wrap_write(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        mark = len(driver.simulator.received)
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        names = [name for name, _, _ in commands(driver, mark)]
        assert "MOVE_POS" in names or "SET_POS_GUIDERATE" in names  # the stop went out
        assert not CORDWRAP_WRITES & set(names)
        nursery.cancel_scope.cancel()
