"""Regression tests for what the reliability campaign (tests/campaign/device_faults.py) found: the real drivers against
their real emulators, in one process on trio's fake clock, with the emulator's fault switches."""

from __future__ import annotations

import pytest
import trio
from lxml import etree

from astrolink_sim import astrolink_request, start_astrolink
from mount_sim import goto_and_track, iso, request, start_mount, target_for_altitude, true_direction
from indi_astrojolo.indi.properties import State
from indi_astrojolo.nexstar.motion import Phase


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def wait_for(condition, timeout: float, step: float = 0.1) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(step)


async def test_a_goto_that_failed_on_a_silent_link_is_stopped_when_the_mount_answers_again(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=150.0, ALT=40.0))
        await trio.sleep(3.0)  # slewing at 2.8 °/s, far from the target
        emulator.faults.silent = True
        await wait_for(lambda: driver.motion.failed, 30)
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.ALERT
        await trio.sleep(5.0)  # longer than the driver keeps trying to stop the axes after the failure
        emulator.faults.silent = False
        await trio.sleep(5.0)  # a few polls
        here = true_direction(driver)
        await trio.sleep(10.0)
        assert true_direction(driver) == pytest.approx(here, abs=1e-4), "the abandoned goto went on by itself"
        assert true_direction(driver)[0] < 100.0  # stopped on the way, not at the stale target
        assert driver.motion.phase is Phase.IDLE
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.IDLE  # the failure was said; now it is at rest
        nursery.cancel_scope.cancel()


async def test_an_abort_that_could_not_reach_the_mount_is_delivered_when_it_answers_again(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=150.0, ALT=40.0))
        await trio.sleep(3.0)
        emulator.faults.silent = True
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        assert driver.props["TELESCOPE_ABORT_MOTION"].state is State.ALERT  # the stop did not get through
        assert driver.motion.phase is Phase.IDLE  # but nothing is meant to move any more
        await trio.sleep(5.0)
        emulator.faults.silent = False
        await trio.sleep(5.0)
        here = true_direction(driver)
        await trio.sleep(10.0)
        assert true_direction(driver) == pytest.approx(here, abs=1e-4), "the aborted goto went on by itself"
        assert true_direction(driver)[0] < 100.0
        nursery.cancel_scope.cancel()


def coordinate_states(sent: bytes) -> list[tuple[str, str]]:
    """(property, state) of each position update in what the driver sent."""
    root = etree.fromstring(b"<all>" + sent + b"</all>")
    names = ("EQUATORIAL_EOD_COORD", "HORIZONTAL_COORD")
    return [(e.get("name"), e.get("state")) for e in root.iter("setNumberVector") if e.get("name") in names]


async def test_positions_read_before_an_outage_are_never_sent_again_as_live(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        await goto_and_track(driver, *target_for_altitude(driver, 40.0, 150.0))
        driver.outbox.take()
        emulator.faults.silent = True
        await wait_for(lambda: driver.props["EQUATORIAL_EOD_COORD"].state is State.ALERT, 30)
        # A new time recomputes RA/Dec from the last encoder reading, which is no longer live.
        await driver.handle_request(request("Text", "TIME_UTC", UTC=iso(driver.now_unix()), OFFSET="0"))
        # An abort ends tracking, although the stop cannot reach the mount.
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        await trio.sleep(10.0)
        during = coordinate_states(driver.outbox.take())
        first_alert = next(i for i, (_, state) in enumerate(during) if state == "Alert")
        assert all(state == "Alert" for _, state in during[first_alert:]), during
        emulator.faults.silent = False
        await trio.sleep(5.0)
        after = coordinate_states(driver.outbox.take())
        assert after and after[-1][1] == "Idle", after
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.IDLE
        nursery.cancel_scope.cancel()


async def test_an_outage_during_a_move_is_said_once_not_on_every_poll(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await driver.handle_request(astrolink_request("Number", "ABS_FOCUS_POSITION", FOCUS_ABSOLUTE_POSITION=5000))
        await trio.sleep(1.0)
        driver.outbox.take()
        driver.simulator.faults.silent = True
        await trio.sleep(30.0)  # ten failed polls
        said = driver.outbox.take()
        assert said.count(b"The focuser position is unknown") == 1
        assert said.count(b"weather unknown") == 1
        assert said.count(b"does not answer") == 1
        driver.simulator.faults.silent = False
        await trio.sleep(30.0)
        said = driver.outbox.take()
        assert b"answers again" in said
        assert driver.props["ABS_FOCUS_POSITION"].state is State.OK and driver.focuser.position == 5000
        driver.simulator.faults.silent = True
        await trio.sleep(5.0)
        assert b"weather unknown" in driver.outbox.take()  # a new outage is said again
        nursery.cancel_scope.cancel()


async def test_guide_pulses_asked_for_during_an_outage_are_not_delivered_late(autojump_clock) -> None:
    from mount_sim import goto_and_track, target_for_altitude

    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        await goto_and_track(driver, *target_for_altitude(driver, 40.0, 120.0))

        async def pulse() -> None:
            await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_NS", TIMED_GUIDE_N=500, TIMED_GUIDE_S=0))

        emulator.faults.silent = True
        for _ in range(4):  # the guider goes on asking while the mount does not answer
            await pulse()
            await trio.sleep(1.5)
        emulator.faults.silent = False
        before = len(emulator.received)
        await trio.sleep(10.0)
        late = [p for p in emulator.received[before:] if p.cmd == 0x26 and p.data[1:] != b"\x00"]
        assert late == [], f"{len(late)} pulse command(s) sent after the outage for pulses asked for during it"
        await pulse()
        await trio.sleep(1.0)
        assert any(p.cmd == 0x26 for p in emulator.received[before:])  # a new pulse goes through
        assert driver.props["TELESCOPE_TIMED_GUIDE_NS"].state is State.IDLE
        nursery.cancel_scope.cancel()


async def test_another_master_driving_the_motors_during_tracking_is_reported_and_tracking_recovers(autojump_clock) -> None:
    from mount_sim import goto_and_track, pointing_error_arcsec, target_for_altitude

    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        ra, dec = target_for_altitude(driver, 40.0, 120.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(10.0)
        driver.outbox.take()
        emulator.faults.second_master = True
        await trio.sleep(10.0)
        assert b"Another controller on the AUX bus" in driver.outbox.take()
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.ALERT
        emulator.faults.second_master = False
        await trio.sleep(30.0)
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.OK
        assert driver.motion.phase is Phase.TRACKING
        assert pointing_error_arcsec(driver, ra, dec) < 10.0
        nursery.cancel_scope.cancel()


async def test_a_goto_another_master_interferes_with_fails_and_leaves_the_mount_at_rest(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        emulator = driver.simulator
        assert emulator is not None
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=150.0, ALT=40.0))
        await trio.sleep(2.0)
        driver.outbox.take()
        emulator.faults.second_master = True
        await trio.sleep(5.0)
        said = driver.outbox.take()
        assert b"Goto failed: another controller" in said
        assert driver.motion.phase is Phase.IDLE
        emulator.faults.second_master = False
        await trio.sleep(15.0)
        here = true_direction(driver)
        await trio.sleep(10.0)
        assert true_direction(driver) == pytest.approx(here, abs=1e-4), "the mount goes on moving after the failed goto"
        assert driver.props["EQUATORIAL_EOD_COORD"].state is State.IDLE
        nursery.cancel_scope.cancel()


async def test_the_settings_are_read_again_when_the_device_answers_again(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        emulator.faults.silent = True
        await driver.handle_request(astrolink_request("Number", "DEW_PWM_FREQUENCY", PRESCALER=3))
        assert driver.props["DEW_PWM_FREQUENCY"].state is State.ALERT  # refused: the device did not answer
        emulator.u[9] = "5"  # meanwhile the vendor panel (or a write whose answer was lost) changed the device
        await trio.sleep(5.0)
        emulator.faults.silent = False
        await trio.sleep(5.0)
        frequency = driver.props["DEW_PWM_FREQUENCY"]
        assert frequency.state is State.OK and frequency["PRESCALER"].value == 5  # what the device holds now
        nursery.cancel_scope.cancel()


async def test_a_settings_write_refused_in_a_brief_outage_is_caught_up_with_when_the_device_answers(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        emulator = driver.simulator
        await driver.handle_request(astrolink_request("Number", "POLLING_PERIOD", PERIOD_MS=600000))
        await driver.handle_request(astrolink_request("Switch", "DATA_LOG", INDI_DISABLED=True))  # it samples at 2 Hz
        await trio.sleep(2.0)  # the poll loop now waits ten minutes: no poll overlaps the outage below
        driver.outbox.take()
        emulator.faults.silent = True
        await driver.handle_request(astrolink_request("Number", "DEW_PWM_FREQUENCY", PRESCALER=3))
        assert driver.props["DEW_PWM_FREQUENCY"].state is State.ALERT  # refused: the device did not answer
        emulator.faults.silent = False
        emulator.u[9] = "5"  # what the device holds now (a write whose answer was lost, the vendor panel)
        driver.poll_soon()
        await trio.sleep(1.0)
        frequency = driver.props["DEW_PWM_FREQUENCY"]
        assert frequency.state is State.OK and frequency["PRESCALER"].value == 5
        assert b"does not answer" not in driver.outbox.take()  # no poll failed: the refused request alone did it
        nursery.cancel_scope.cancel()


async def test_a_park_position_is_saved_before_it_is_acknowledged(autojump_clock, tmp_path) -> None:
    import json

    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        park_file = tmp_path / ".indi" / "NexStar AUX_park.json"
        on_disk_when_acknowledged: list[float | None] = []

        def sent() -> None:  # the outbox's hook: called as each message is queued for the client
            if b'name="TELESCOPE_PARK_POSITION" state="Ok"' in driver.outbox._chunks[-1]:
                saved = json.loads(park_file.read_text())["axis1"] if park_file.exists() else None
                on_disk_when_acknowledged.append(saved)

        driver.outbox.notify = sent
        await driver.handle_request(request("Number", "TELESCOPE_PARK_POSITION", PARK_AZ=123.0, PARK_ALT=12.0))
        assert on_disk_when_acknowledged == [123.0]
        nursery.cancel_scope.cancel()
