"""Every goto ends, and nothing carries on after it (issue 14 items 3 and 4), on trio's fake clock against the
emulator: a goto whose axes never settle ends in Alert within a limit reckoned from its distance and the slew speed
(never over 3 minutes); each goto leg is preceded by rate 0 on its axis, so a controller that keeps its tracking rate
through a goto does not drift after it."""

from __future__ import annotations

import pytest
import trio

from mount_sim import goto_and_track, request, start_mount, target_for_altitude, true_direction

from indi_astrojolo.nexstar.aux import Command
from indi_astrojolo.nexstar.aux import Device as AuxDevice
from indi_astrojolo.nexstar.motion import GOTO_MAX_S, Phase, goto_time_limit


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def test_the_time_limit_grows_with_the_distance_and_never_passes_three_minutes() -> None:
    limits = [goto_time_limit(distance, 2.8, 1.0) for distance in (0.0, 10.0, 90.0, 180.0, 360.0)]
    assert limits == sorted(limits) and limits[0] < limits[1] < limits[2]
    assert max(limits) == GOTO_MAX_S == 180.0
    assert goto_time_limit(10.0, 2.8, 1.0) < 60.0  # a short goto is not left Busy for minutes
    assert goto_time_limit(10.0, 0.5, 1.0) > goto_time_limit(10.0, 2.8, 1.0)


@pytest.mark.parametrize("target", ["sky", "horizontal", "park"])
async def test_a_goto_whose_axes_never_settle_ends_in_alert_within_its_limit(autojump_clock, target) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.simulator.config.goto_hunting_steps = 40  # the servo swings about the target forever
        if target == "sky":
            ra, dec = target_for_altitude(driver, 40.0, 30.0)
            await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
            started = trio.current_time()
            await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        elif target == "horizontal":
            await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
            started = trio.current_time()
            await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=30.0, ALT=40.0))
        else:
            await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=30.0, PARK_ALT=40.0))
            started = trio.current_time()  # (saving the park position above took a thread: the fake clock jumps)
            await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Busy"
        limit = goto_time_limit(40.0, 2.0, 1.0)  # 40° at the assumed speed, the default approach
        driver.outbox.take()
        with trio.fail_after(GOTO_MAX_S + 5):
            while driver.motion.phase is not Phase.IDLE or driver.motion.task_scope is not None:
                await trio.sleep(0.1)
        took = trio.current_time() - started
        assert took < limit + 2, f"{took:.0f} s against a limit of {limit:.0f} s"
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        said = driver.outbox.take()
        assert b"did not end within" in said
        assert b"could not be stopped then" not in said  # it was stopped then: no second, contradicting message
        if target == "park":
            assert driver.props["TELESCOPE_PARK"].state.value == "Alert" and not driver.motion.parked
        for axis in (AuxDevice.AZM, AuxDevice.ALT):
            assert driver.simulator.axes[axis].goto_target is None  # stopped in the controllers too
        nursery.cancel_scope.cancel()


async def test_a_controller_that_keeps_its_rate_through_a_goto_does_not_drift_after_it(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.simulator.config.goto_keeps_rate = True
        ra, dec = target_for_altitude(driver, 45.0, 120.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(10)  # tracking: both axes have a rate
        mark = len(driver.simulator.received)
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=125.0, ALT=40.0))
        with trio.fail_after(120):
            while driver.motion.phase is not Phase.IDLE or driver.motion.task_scope is not None:
                await trio.sleep(0.1)
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Idle"
        stopped = true_direction(driver)
        await trio.sleep(5)
        drift = [abs(a - b) * 3600 for a, b in zip(true_direction(driver), stopped)]
        assert max(drift) < 1.0, f"drifted {drift} arcsec in 5 s after the goto"
        last_to: dict[int, tuple[int, bytes]] = {}
        for packet in driver.simulator.received[mark:]:
            if packet.cmd in (Command.GOTO_FAST, Command.GOTO_SLOW):
                assert last_to.get(packet.dst) == (Command.SET_POS_GUIDERATE, b"\x00\x00\x00"), "a goto without rate 0 first"
            if packet.cmd not in (Command.GET_POSITION, Command.SLEW_DONE):
                last_to[packet.dst] = (packet.cmd, packet.data)
        nursery.cancel_scope.cancel()


def test_goto_park_and_home_properties_announce_the_drivers_own_time_limit_as_their_timeout() -> None:
    from indi_astrojolo.indi.definitions import load_vectors

    vectors = {vector.name: vector for vector in load_vectors("nexstar_aux.xml", "NexStar AUX")}
    for name in ("EQUATORIAL_EOD_COORD", "HORIZONTAL_COORD", "TELESCOPE_PARK", "TELESCOPE_HOME"):
        assert vectors[name].timeout == GOTO_MAX_S, name
