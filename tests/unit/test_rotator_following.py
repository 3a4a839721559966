"""The rotctld endpoint's policy on trio's fake clock: the real driver and emulator, requests handed to the rotator part
as its socket would (tests/support/rotator_sim.py). Following positions sent every second, the limits, the cord wrap,
stop, park. hamlib's real client over a real socket: tests/integration/test_rotator_rotctl.py."""

from __future__ import annotations

import itertools
import math
import socket

import pytest
import trio
from mount_sim import request, start_mount, true_direction, wait_idle
from rotator_sim import follow_track, say

from indi_astrojolo.nexstar.aux import Command
from indi_astrojolo.nexstar.motion import Phase
from indi_astrojolo.nexstar.mount import crosses, wrap180
from indi_astrojolo.nexstar.rotator import MAX_EXTRAPOLATION_S, AntennaTrack


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def rms(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values))


async def test_positions_every_second_are_followed_smoothly(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)

        def track(t: float) -> tuple[float, float]:  # a pass-like path: 0.6 °/s in azimuth, rising at 0.25 °/s
            return 100.0 + 0.6 * t, 20.0 + 0.25 * t

        errors, _ = await follow_track(driver, track, 60)
        settled = errors[3:]  # two positions give the motion; the loop then takes out the lag
        assert rms(settled) <= 0.1, f"{rms(settled):.3f}° RMS, worst {max(settled):.3f}°"
        # rates, not a goto per position: the gotos are the first approach's (fast then slow, on each axis)
        assert driver.simulator is not None
        gotos = [p for p in driver.simulator.received if p.cmd in (Command.GOTO_FAST, Command.GOTO_SLOW)]
        assert len(gotos) <= 4
        assert driver.motion.phase is Phase.SATELLITE
        assert driver.props["TELESCOPE_TRACK_STATE"].state.value == "Busy"
        assert driver.props.number("ROTATOR_STATUS")["TARGET_AZ"].value == pytest.approx(track(60.0)[0], abs=1.0)
        # the motion buttons, which nudge a satellite pass's aim, have nothing to nudge here: refused, not Busy
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_WE", MOTION_EAST=True))
        assert driver.props["TELESCOPE_MOTION_WE"].state.value == "Alert"
        assert not driver.props.switch("TELESCOPE_MOTION_WE")["MOTION_EAST"].on
        assert await say(driver, "S\n") == b"RPRT 0\n"
        await wait_idle(driver)
        nursery.cancel_scope.cancel()


async def test_a_position_outside_the_limits_is_refused_and_nothing_moves(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=10, MAX_ALT=85))
        before = true_direction(driver)
        assert await say(driver, "P 100 5\n") == b"RPRT -1\n"
        assert await say(driver, "+P 100 86\n") == b"set_pos: 100 86\nRPRT -1\n"
        assert await say(driver, "P 500 30\nP -181 30\nP nan 30\nP 100 x\n") == b"RPRT -1\n" * 4
        await trio.sleep(10.0)
        assert true_direction(driver) == pytest.approx(before, abs=1e-6)
        assert driver.motion.phase is Phase.IDLE
        text = driver.outbox.take()
        assert b"outside the altitude limits 10\xc2\xb0 \xe2\x80\xa6 85\xc2\xb0" in text
        assert text.count(b"refused: elevation 5") == 1  # said once, however often a client repeats it
        nursery.cancel_scope.cancel()


async def test_over_the_top_a_flipped_pass_from_gpredict_is_followed_past_the_zenith(autojump_clock) -> None:
    """Gpredict sends an overhead pass to a rotator whose elevation runs to 180° flipped: the azimuth held, the
    elevation running on past 90°. With SAT_FLIP on, the mount follows it with the altitude axis past the zenith,
    reads back in that form, and dump_state gives the highest elevation allowed over the top."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert await say(driver, "P 100 120\n") == b"RPRT -1\n"  # not allowed over the top: refused
        assert b"max_el=90.000000" in await say(driver, "\\dump_state\n")
        await driver.handle_request(request("Switch", "SAT_FLIP", SAT_FLIP_ON=True))
        await driver.handle_request(request("Number", "SAT_FLIP_LIMIT", MAX_AXIS_ALT=170.0))
        assert b"max_el=170.000000" in await say(driver, "\\dump_state\n")

        def track(t: float) -> tuple[float, float]:  # straight over the zenith at 1 °/s, 60° → 120°
            return 100.0, 60.0 + 1.0 * t

        errors, azimuths = await follow_track(driver, track, 60)
        settled = errors[3:]
        assert rms(settled) <= 0.1, f"{rms(settled):.3f}° RMS, worst {max(settled):.3f}°"
        assert max(azimuths) - min(azimuths) < 0.5  # the azimuth axis held: no swing at the zenith
        azimuth, elevation = true_direction(driver)
        assert azimuth == pytest.approx(100.0, abs=0.5) and elevation == pytest.approx(120.0, abs=1.5)
        read_az, read_el = (float(line) for line in (await say(driver, "p\n")).split())
        assert read_az == pytest.approx(azimuth, abs=0.01) and read_el == pytest.approx(elevation, abs=0.01)
        assert await say(driver, "S\n") == b"RPRT 0\n"
        await wait_idle(driver)
        # Over the top the antenna looks back at 180° − elevation: the limits hold there as anywhere.
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=15, MAX_ALT=90))
        assert await say(driver, "P 100 170\n") == b"RPRT -1\n"  # 10° up behind
        assert await say(driver, "P 100 171\n") == b"RPRT -1\n"  # past the highest angle allowed
        assert b"over the top looks 10\xc2\xb0 up, outside 15\xc2\xb0" in driver.outbox.take()
        nursery.cancel_scope.cancel()


async def test_a_parked_mount_rejects_positions(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert await say(driver, "K\n") == b"RPRT 0\n"
        with trio.fail_after(600):
            while not driver.motion.parked:
                await trio.sleep(0.5)
        assert await say(driver, "P 100 30\n") == b"RPRT -9\n"  # hamlib's "command rejected"
        assert await say(driver, "+K\n") == b"park:\nRPRT 0\n"
        nursery.cancel_scope.cancel()


async def test_stop_ends_following_at_once(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert await say(driver, "P 170 60\n") == b"RPRT 0\n"
        await trio.sleep(3.0)
        assert true_direction(driver)[0] > 1.0
        assert await say(driver, "S\n") == b"RPRT 0\n"
        assert driver.motion.phase is Phase.IDLE and not driver.rotator.following
        await trio.sleep(5.0)
        here = true_direction(driver)
        await trio.sleep(5.0)
        assert true_direction(driver) == pytest.approx(here, abs=1e-6)
        assert here[0] < 160.0
        nursery.cancel_scope.cancel()


async def test_a_track_through_the_cord_wrap_goes_round_the_other_way(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert driver.props.number("CORDWRAP_POS")["POSITION"].value == 180.0  # on by default, in the south
        await driver.handle_request(request("Number", "SIMULATION_GOTO_SPEED", FAST=8))  # round in well under 90 s

        def track(t: float) -> tuple[float, float]:
            return 170.0 + 0.5 * t, 40.0

        errors, azimuths = await follow_track(driver, track, 90)
        for before, after in itertools.pairwise(azimuths):
            assert not crosses(before, wrap180(after - before), 180.0), (before, after)
        assert max(errors) > 90.0  # it did go round
        assert rms(errors[-10:]) <= 0.1  # and follows again on the other side
        nursery.cancel_scope.cancel()


def test_the_target_moves_as_the_last_two_positions_say_for_a_while_then_holds() -> None:
    track = AntennaTrack()
    track.add(0.0, 359.5, 30.0)
    assert track.at(3.0) == (359.5, 30.0)  # one position: a fixed target
    track.add(1.0, 0.5, 30.5)  # across north: 1 °/s, not -359 °/s
    assert track.at(2.0) == pytest.approx((1.5, 31.0))
    assert track.at(31.0) == pytest.approx((0.5 + MAX_EXTRAPOLATION_S, 30.5 + 0.5 * MAX_EXTRAPOLATION_S))
    track.add(2.0, 90.0, 30.0)  # a new target, far away: nothing known of its motion
    assert track.velocity() == (0.0, 0.0)
    track.add(60.0, 90.5, 30.0)  # a minute later: that says nothing of its motion either
    assert track.velocity() == (0.0, 0.0)


async def test_a_port_in_use_is_reported(autojump_clock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with trio.open_nursery() as nursery:
            driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
            assert driver.props.switch("ROTATOR_SERVER")["DISABLE"].on  # off until switched on
            await driver.handle_request(request("Number", "ROTATOR_SERVER_PORT", PORT=port))
            await driver.handle_request(request("Switch", "ROTATOR_SERVER", ENABLE=True, DISABLE=False))
            await trio.sleep(1.0)
            assert driver.props["ROTATOR_SERVER"].state.value == "Alert"
            assert f"Cannot listen on 127.0.0.1:{port}: Address already in use".encode() in driver.outbox.take()
            await driver.handle_request(request("Switch", "ROTATOR_SERVER", ENABLE=False, DISABLE=True))
            assert driver.props["ROTATOR_SERVER"].state.value == "Idle"
            nursery.cancel_scope.cancel()
