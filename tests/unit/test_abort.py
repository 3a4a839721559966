"""Abort wins and reports truthfully (issue 14 item 5), on trio's fake clock against the emulator: once the abort is
handled only stop commands reach the motors until motion is asked for again (a tracking update under way when the
abort came included), and the coordinates stay Busy while the axes coast to rest, then Idle where they stopped."""

from __future__ import annotations

import pytest
import trio

from mount_sim import goto_and_track, request, start_mount, target_for_altitude, true_direction, wait_idle

from indi_astrojolo.nexstar.aux import Command
from indi_astrojolo.nexstar.motion import Phase, is_stop


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def motion_commands_since(driver, mark: int) -> list[str]:
    return [
        f"{packet.cmd:02x} to {packet.dst:02x} {packet.data.hex()}"
        for packet in driver.simulator.received[mark:]
        if packet.dst in (0x10, 0x11) and not is_stop(packet.cmd, packet.data)
    ]


@pytest.mark.parametrize("offset", [0.0, 0.2, 0.4, 0.6, 0.8])
async def test_a_tracking_update_under_way_cannot_restart_the_mount_after_an_abort(autojump_clock, offset) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 50.0, 100.0)
        await goto_and_track(driver, ra, dec)
        driver.simulator.faults.late_reply_s = 0.3  # a slow link: each tracking update takes longer than a second
        await trio.sleep(10 + offset)
        assert driver.motion.phase is Phase.TRACKING
        mark = len(driver.simulator.received)
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        await wait_idle(driver)
        await trio.sleep(5)
        assert motion_commands_since(driver, mark) == []
        for axis in driver.simulator.axes.values():
            assert axis.rate == 0.0 and axis.goto_target is None
        at_rest = true_direction(driver)
        await trio.sleep(10)
        assert true_direction(driver) == pytest.approx(at_rest, abs=1e-6)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Idle"
        # asked again, the mount moves again
        driver.simulator.faults.late_reply_s = 0.0
        await driver.handle_request(request("Switch", "TELESCOPE_TRACK_STATE", TRACK_ON=True))
        await trio.sleep(5)
        assert true_direction(driver) != pytest.approx(at_rest, abs=1e-4)
        nursery.cancel_scope.cancel()


async def test_coordinates_stay_busy_while_the_axes_coast_and_end_idle_where_they_stopped(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.simulator.config.stop_deceleration_deg_per_s2 = 0.5  # a loaded tube coasts for seconds
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=150.0, ALT=60.0))
        await trio.sleep(4)  # at full speed
        start = true_direction(driver)
        driver.outbox.take()
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Busy"
        assert driver.props["TELESCOPE_ABORT_MOTION"].state.value == "Busy"
        assert b"All motion stopped" not in driver.outbox.take()
        await trio.sleep(2)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Busy"  # still coasting
        await wait_idle(driver)
        stopped = true_direction(driver)
        assert abs(stopped[0] - start[0]) > 4.0  # it did coast, degrees
        await trio.sleep(5)
        assert true_direction(driver) == pytest.approx(stopped, abs=1e-6)  # Idle came when it was at rest
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Idle"
        abort = driver.props["TELESCOPE_ABORT_MOTION"]
        assert abort.state.value == "Ok" and b"All motion stopped" in driver.outbox.take()
        shown = driver.props.number("HORIZONTAL_COORD")
        assert driver.props["HORIZONTAL_COORD"].state.value == "Idle"
        assert shown["AZ"].value == pytest.approx(stopped[0] % 360, abs=0.02)
        assert shown["ALT"].value == pytest.approx(stopped[1], abs=0.02)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("offset", [0.0, 0.25, 0.5, 0.75])
async def test_an_abort_on_a_slow_link_stops_the_axes_once_and_warns_of_nothing(autojump_clock, offset) -> None:
    """The position polls go on while the abort's stop commands wait for their answers; a poll must not take the
    stop under way for one that failed, send a second one after the abort is answered and warn of a failed motion."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.simulator.faults.late_reply_s = 0.3  # the four stop commands take longer than a polling period
        await trio.sleep(3 + offset)
        mark = len(driver.simulator.received)
        driver.outbox.take()
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        await wait_idle(driver)
        await trio.sleep(5)
        stop_commands = (Command.SET_POS_GUIDERATE, Command.MOVE_POS)
        stops = [
            (packet.dst, packet.cmd)
            for packet in driver.simulator.received[mark:]
            if packet.dst in (0x10, 0x11) and packet.cmd in stop_commands
        ]
        assert sorted(stops) == sorted(set(stops)), f"stop commands sent more than once: {stops}"
        assert len(stops) == 4  # a zero rate and MOVE_POS 0 for each axis
        assert b"could not be stopped" not in driver.outbox.take()
        nursery.cancel_scope.cancel()
