"""The focuser on the AUX bus (0x12): its codec, and the real NexStar driver with the real emulator in one process on
trio's fake clock (tests/support/mount_sim.py with SIMULATION_FOCUSER): detection, DRIVER_INTERFACE, moves through
the position inversion, abort, limits, backlash, calibration, a silent focuser, and the mount working alongside."""

from __future__ import annotations

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from mount_sim import goto_and_track, pointing_error_arcsec, request, start_mount, target_for_altitude
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.properties import State
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.link.errors import ReplyError
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Command, Device, FocuserCommand
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.emulated_focuser import FocuserConfig
from indi_astrojolo.nexstar.emulator import MountConfig, NexStarEmulator
from indi_astrojolo.nexstar.focuser import range_problem
from indi_astrojolo.nexstar.main import SPEC

FOCUSER_ONLY = ("FOCUS_MOTION", "ABS_FOCUS_POSITION", "REL_FOCUS_POSITION", "FOCUS_MAX", "FOCUS_ABORT_MOTION")
CALIBRATION = ("FOCUS_HARD_STOPS", "FOCUS_CALIBRATE", "FOCUS_CALIBRATE_STATE")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


# --- codec -----------------------------------------------------------------------------------------------------------


@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_hard_stops_round_trip(low: int, high: int) -> None:
    assert aux.decode_hard_stops(aux.encode_hard_stops(low, high)) == (low, high)


def test_codec_refuses_wrong_lengths_and_reads_calibration_status() -> None:
    with pytest.raises(ReplyError):
        aux.decode_hard_stops(bytes(7))
    with pytest.raises(ReplyError):
        aux.decode_calibration_status(b"\x01")
    assert aux.decode_calibration_status(b"\x00\x05").running
    assert not aux.decode_calibration_status(b"\x00\x00").running  # stopped, or never run
    assert aux.decode_calibration_status(b"\x01\x00").done
    assert aux.passthrough_response_size(Device.FOCUSER, FocuserCommand.GET_HARD_STOPS) == 8
    assert aux.passthrough_response_size(Device.FOCUSER, FocuserCommand.CALIBRATION_STATUS) == 2
    assert aux.passthrough_response_size(Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE) == 0


@pytest.mark.parametrize(
    ("low", "high", "usable"),
    [(0, 60000, True), (1000, 3001, True), (1000, 3000, False), (0, 0, False), (0, 60001, False), (-5, 30000, False)],
)
def test_range_sanity(low: int, high: int, usable: bool) -> None:
    assert (range_problem(low, high) is None) is usable


# --- the driver ------------------------------------------------------------------------------------------------------


async def wait_for(condition, timeout: float, step: float = 0.05) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(step)


def state(driver: NexStarDriver, name: str) -> State:
    return driver.props[name].state


def position(driver: NexStarDriver) -> int:
    return int(driver.props.number("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"].value)


def true_raw(driver: NexStarDriver) -> int:
    emulator = driver.simulator
    assert emulator is not None and emulator.focuser is not None
    emulator.advance(trio.current_time())
    return emulator.focuser.raw_position()


def focuser_commands(driver: NexStarDriver, since: int = 0) -> list[str]:
    assert driver.simulator is not None
    return [line for line in driver.simulator.received_summary().splitlines()[since:] if line.split()[1] == "12"]


def interface(driver: NexStarDriver) -> str:
    return driver.props.text("DRIVER_INFO")["DRIVER_INTERFACE"].value


async def move(driver: NexStarDriver, target: int, timeout: float = 300.0) -> None:
    await driver.handle_request(request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=target))
    assert state(driver, "ABS_FOCUS_POSITION") is State.BUSY
    await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is not State.BUSY, timeout)


async def connect_with(nursery: trio.Nursery, focuser: FocuserConfig | None) -> NexStarDriver:
    """The simulated mount with this focuser on its bus (the emulator made beforehand, as SIMULATION would)."""
    driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
    driver.runtime_nursery = nursery
    driver.simulator = NexStarEmulator(MountConfig(focuser=focuser), now=trio.current_time())
    await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
    await driver.handle_request(request("Switch", "SIMULATION_FOCUSER", INDI_ENABLED=focuser is not None))
    await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
    assert driver.connected, driver.outbox.take()[-600:]
    return driver


async def test_a_calibrated_focuser_is_offered_with_its_range_and_the_interface_bit(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        assert interface(driver) == "13"
        assert b'name="DRIVER_INFO"' in driver.outbox.take()  # clients were told
        for name in FOCUSER_ONLY + CALIBRATION + ("FOCUS_BACKLASH_TOGGLE", "FOCUS_BACKLASH_STEPS"):
            assert driver.props.is_defined(name), name
        assert not driver.props.is_defined("FOCUS_SYNC") and "FOCUS_SYNC" not in driver.props
        assert driver.props.number("FOCUS_MAX")["FOCUS_MAX_VALUE"].value == 60000
        assert driver.props.number("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"].max == 60000
        assert position(driver) == 60000 - true_raw(driver) == 30000  # counted down from the high stop
        assert "focuser 1.4" in driver.props.text("MOUNT_INFO")["BUS_DEVICES"].value
        await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        assert interface(driver) == "5"
        for name in FOCUSER_ONLY + CALIBRATION:
            assert not driver.props.is_defined(name), name
        await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
        assert interface(driver) == "13" and driver.props.is_defined("ABS_FOCUS_POSITION")
        nursery.cancel_scope.cancel()


async def test_without_a_focuser_nothing_of_it_is_defined(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert interface(driver) == "5"
        for name in FOCUSER_ONLY + CALIBRATION:
            assert not driver.props.is_defined(name), name
        await trio.sleep(5.0)
        assert focuser_commands(driver) == ["GET_VERSION 12"]  # the scan's question, never polled
        nursery.cancel_scope.cancel()


async def test_absolute_and_relative_moves_arrive_through_the_inversion(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        mark = len(driver.simulator.received)
        driver.outbox.take()
        await move(driver, 34000)
        assert state(driver, "ABS_FOCUS_POSITION") is State.OK
        assert position(driver) == 34000 and true_raw(driver) == 60000 - 34000
        assert f"GOTO_FAST 12 {26000:06x}" in focuser_commands(driver, mark)
        busy_updates = driver.outbox.take().count(b'name="ABS_FOCUS_POSITION" state="Busy"')
        assert busy_updates >= 10  # 4000 steps at 300 steps/s, polled four times a second
        await driver.handle_request(request("Switch", "FOCUS_MOTION", FOCUS_OUTWARD=True, FOCUS_INWARD=False))
        await driver.handle_request(request("Number", "REL_FOCUS_POSITION", FOCUS_RELATIVE_POSITION=1500))
        assert state(driver, "REL_FOCUS_POSITION") is State.BUSY
        await wait_for(lambda: state(driver, "REL_FOCUS_POSITION") is not State.BUSY, 60)
        assert state(driver, "REL_FOCUS_POSITION") is State.OK and state(driver, "ABS_FOCUS_POSITION") is State.OK
        assert position(driver) == 35500 and true_raw(driver) == 24500
        await driver.handle_request(request("Switch", "FOCUS_MOTION", FOCUS_OUTWARD=False, FOCUS_INWARD=True))
        await driver.handle_request(request("Number", "REL_FOCUS_POSITION", FOCUS_RELATIVE_POSITION=5500))
        await wait_for(lambda: state(driver, "REL_FOCUS_POSITION") is not State.BUSY, 60)
        assert position(driver) == 30000 and true_raw(driver) == 30000
        nursery.cancel_scope.cancel()


async def test_abort_stops_the_focuser_and_leaves_it_idle(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        await driver.handle_request(request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=50000))
        await trio.sleep(5.0)
        await driver.handle_request(request("Switch", "FOCUS_ABORT_MOTION", ABORT=True))
        assert state(driver, "ABS_FOCUS_POSITION") is State.IDLE
        assert "MOVE_POS 12 00" in focuser_commands(driver)
        stopped = true_raw(driver)
        assert 60000 - 50000 < stopped < 30000  # on its way, not there
        await trio.sleep(10.0)
        assert true_raw(driver) == stopped
        assert position(driver) == 60000 - stopped
        assert state(driver, "ABS_FOCUS_POSITION") is State.IDLE
        assert not driver.focuser.busy()
        nursery.cancel_scope.cancel()


async def test_moves_outside_the_range_are_refused_and_nothing_is_sent(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        mark = len(driver.simulator.received)
        driver.outbox.take()
        await driver.handle_request(request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=60001))
        assert state(driver, "ABS_FOCUS_POSITION") is State.ALERT
        assert b"60001 is outside the allowed range 0 \xe2\x80\xa6 60000" in driver.outbox.take()
        await driver.handle_request(request("Switch", "FOCUS_MOTION", FOCUS_OUTWARD=True, FOCUS_INWARD=False))
        await driver.handle_request(request("Number", "REL_FOCUS_POSITION", FOCUS_RELATIVE_POSITION=30001))
        assert state(driver, "REL_FOCUS_POSITION") is State.ALERT
        assert b"would leave the range 0 \xe2\x80\xa6 60000" in driver.outbox.take()
        await driver.handle_request(request("Number", "FOCUS_MAX", FOCUS_MAX_VALUE=10000))
        assert b"FOCUS_MAX is read-only" in driver.outbox.take()
        await trio.sleep(2.0)
        assert not [c for c in focuser_commands(driver, mark) if not c.startswith(("GET_POSITION", "SLEW_DONE"))]
        assert true_raw(driver) == 30000
        nursery.cancel_scope.cancel()


async def test_backlash_overshoots_outward_moves_then_comes_back(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        await driver.handle_request(request("Switch", "FOCUS_BACKLASH_TOGGLE", INDI_ENABLED=True, INDI_DISABLED=False))
        await driver.handle_request(request("Number", "FOCUS_BACKLASH_STEPS", FOCUS_BACKLASH_VALUE=200))
        mark = len(driver.simulator.received)
        await move(driver, 31000)
        gotos = [c for c in focuser_commands(driver, mark) if c.startswith("GOTO_FAST")]
        assert gotos == [f"GOTO_FAST 12 {60000 - 31200:06x}", f"GOTO_FAST 12 {60000 - 31000:06x}"]
        assert position(driver) == 31000 and state(driver, "ABS_FOCUS_POSITION") is State.OK
        nursery.cancel_scope.cancel()


async def test_an_uncalibrated_focuser_is_calibrated_then_offered(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        focuser = FocuserConfig(low_stop=2000, high_stop=32000, start_position=12000, calibrated=False)
        driver = await connect_with(nursery, focuser)
        assert interface(driver) == "5"
        assert all(driver.props.is_defined(name) for name in CALIBRATION)
        assert not any(driver.props.is_defined(name) for name in FOCUSER_ONLY)
        assert b"cannot be moved yet" in driver.outbox.take()
        await driver.handle_request(request("Switch", "FOCUS_CALIBRATE", START=True))
        assert state(driver, "FOCUS_CALIBRATE") is State.BUSY and driver.busy()
        await trio.sleep(20.0)
        assert "stage" in driver.props.text("FOCUS_CALIBRATE_STATE")["STATE"].value
        await wait_for(lambda: state(driver, "FOCUS_CALIBRATE") is not State.BUSY, (10000 + 30000) / 300 + 10)
        assert state(driver, "FOCUS_CALIBRATE") is State.OK
        assert interface(driver) == "13"
        assert all(driver.props.is_defined(name) for name in FOCUSER_ONLY)
        assert driver.props.number("FOCUS_MAX")["FOCUS_MAX_VALUE"].value == 30000
        assert driver.props.number("FOCUS_HARD_STOPS").values() == {"LOW": 2000, "HIGH": 32000}
        await trio.sleep(1.0)
        assert position(driver) == 0 and true_raw(driver) == 32000  # calibration ends at the high stop
        await move(driver, 25000)
        assert true_raw(driver) == 7000
        await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        assert not any(driver.props.is_defined(name) for name in FOCUSER_ONLY + CALIBRATION)
        nursery.cancel_scope.cancel()


async def test_calibration_can_be_stopped_and_refuses_moves_while_it_runs(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        await driver.handle_request(request("Switch", "FOCUS_CALIBRATE", START=True))
        await trio.sleep(3.0)
        assert state(driver, "ABS_FOCUS_POSITION") is State.BUSY  # the motor moves by itself
        driver.outbox.take()
        await driver.handle_request(request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=1000))
        assert b"the focuser is calibrating" in driver.outbox.take()
        await driver.handle_request(request("Switch", "FOCUS_CALIBRATE", STOP=True))
        await wait_for(lambda: state(driver, "FOCUS_CALIBRATE") is not State.BUSY, 10)
        assert state(driver, "FOCUS_CALIBRATE") is State.IDLE
        assert b"Calibration stopped" in driver.outbox.take()
        stopped = true_raw(driver)
        await trio.sleep(5.0)
        assert true_raw(driver) == stopped
        assert state(driver, "ABS_FOCUS_POSITION") is State.OK and position(driver) == 60000 - stopped
        assert interface(driver) == "13"  # the hard stops known before stay
        await move(driver, 20000)
        assert true_raw(driver) == 40000
        nursery.cancel_scope.cancel()


async def test_a_silent_focuser_goes_alert_while_the_mount_carries_on(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        emulator = driver.simulator
        emulator.focuser.silent = True
        await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is State.ALERT, 10)
        assert b"The focuser does not answer" in driver.outbox.take()
        polls = driver.polls
        await trio.sleep(10.0)
        assert driver.polls >= polls + 8  # the mount is still polled about once a second
        assert state(driver, "EQUATORIAL_EOD_COORD") is not State.ALERT
        emulator.focuser.silent = False
        await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is State.OK, 5)
        assert b"The focuser answers again" in driver.outbox.take()
        await move(driver, 31000)
        assert true_raw(driver) == 29000
        nursery.cancel_scope.cancel()


async def test_a_goto_while_the_focuser_moves(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        await driver.handle_request(request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=45000))
        ra, dec = target_for_altitude(driver, 50.0, 120.0)
        await goto_and_track(driver, ra, dec)
        assert state(driver, "ABS_FOCUS_POSITION") is State.BUSY  # 15000 steps take longer than the goto
        await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is not State.BUSY, 120)
        assert state(driver, "ABS_FOCUS_POSITION") is State.OK and true_raw(driver) == 15000
        assert pointing_error_arcsec(driver, ra, dec) < 30
        nursery.cancel_scope.cancel()


async def test_the_simulated_focuser_comes_and_goes_with_the_option(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        await driver.handle_request(request("Switch", "SIMULATION_FOCUSER", INDI_DISABLED=True, INDI_ENABLED=False))
        assert state(driver, "SIMULATION_FOCUSER") is State.ALERT  # not while connected
        await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))
        await driver.handle_request(request("Switch", "SIMULATION_FOCUSER", INDI_DISABLED=True, INDI_ENABLED=False))
        await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected and interface(driver) == "5"
        assert not driver.props.is_defined("ABS_FOCUS_POSITION")
        nursery.cancel_scope.cancel()


async def test_a_move_made_by_the_hand_controller_shows_busy_then_ok(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0, focuser=True)
        emulator = driver.simulator
        hand_controller = aux.request(Device.FOCUSER, Command.MOVE_NEG, b"\x09", src=Device.HAND_CONTROLLER_PLUS)
        emulator.handle(hand_controller, trio.current_time())  # another master on the bus: raw steps go down
        await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is State.BUSY, 5)
        await trio.sleep(3.0)
        stop = aux.request(Device.FOCUSER, Command.MOVE_POS, b"\x00", src=Device.HAND_CONTROLLER_PLUS)
        emulator.handle(stop, trio.current_time())
        await wait_for(lambda: state(driver, "ABS_FOCUS_POSITION") is State.OK, 5)
        assert position(driver) == 60000 - true_raw(driver) > 30000 + 900
        nursery.cancel_scope.cancel()
