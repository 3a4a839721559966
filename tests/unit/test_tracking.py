"""Goto and alt-az tracking run on trio's fake clock against the emulator's physics: the real driver, the real
emulator, simulated minutes in a few seconds."""

from __future__ import annotations

import math

import pytest
import trio

from mount_sim import goto_and_track, pointing_error_arcsec, request, start_mount, target_for_altitude

from indi_astrojolo.nexstar import astrometry as astro


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


@pytest.mark.parametrize(
    "latitude, longitude, altitude, azimuth",
    [(50.0, 20.0, 45.0, 120.0), (-33.9, 18.4, 30.0, 40.0), (35.0, -110.0, 75.0, 200.0)],
)
async def test_goto_lands_on_the_target_and_tracking_holds_it(
    autojump_clock, latitude, longitude, altitude, azimuth
) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=latitude, longitude=longitude)
        ra, dec = target_for_altitude(driver, altitude, azimuth)
        await goto_and_track(driver, ra, dec)
        landing = pointing_error_arcsec(driver, ra, dec)
        assert landing < 60, f"{landing:.1f} arcsec right after the goto"
        await trio.sleep(20)  # tracking settles
        errors = []
        for _ in range(60):  # ten simulated minutes
            await trio.sleep(10)
            errors.append(pointing_error_arcsec(driver, ra, dec))
        rms = math.sqrt(sum(e * e for e in errors) / len(errors))
        assert rms < 1.0, f"RMS {rms:.2f} arcsec, worst {max(errors):.2f}"
        nursery.cancel_scope.cancel()


async def test_goto_below_the_altitude_limit_is_refused(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, -5.0, 200.0)
        from mount_sim import request

        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        assert b"below the lowest allowed" in driver.outbox.take()
        assert driver.motion.phase.value == "idle"
        nursery.cancel_scope.cancel()


async def test_tracking_reads_each_axis_once_a_second_and_sends_only_rates_that_matter(autojump_clock) -> None:
    """The AUX bus is shared with the hand controller and accessories: while tracking, the loop takes the poll's
    reading instead of reading the axes again, and leaves a rate alone while the new one differs by less than
    TRACK_RATE_DEADBAND. Two minutes: at most 3 packets a second (the C++ driver sends 3.03), within 0.1″."""
    from indi_astrojolo.nexstar.aux import Command

    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 40.0, 200.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(20)  # the loop has taken out what the goto left
        assert driver.simulator is not None
        start = len(driver.simulator.received)
        errors = []
        for _ in range(120):
            await trio.sleep(1)
            errors.append(pointing_error_arcsec(driver, ra, dec))
        packets = driver.simulator.received[start:]
        positions = [p for p in packets if p.cmd == Command.GET_POSITION]
        rates = [p for p in packets if p.cmd in (Command.SET_POS_GUIDERATE, Command.SET_NEG_GUIDERATE)]
        assert len(positions) == pytest.approx(2 * 120, abs=2)  # each axis once a second: the poll's reading
        assert 0 < len(rates) < 120  # a rate only when it changed enough; two axes would be 240 otherwise
        assert len(packets) / 120 <= 3.0
        assert max(errors) < 0.1
        nursery.cancel_scope.cancel()


async def test_a_goto_asks_slew_done_only_near_the_end_and_reads_the_axes_at_1_5_hz(autojump_clock) -> None:
    """While the axes slew, the position is read at 1.5 Hz (the poll takes the goto's reading instead of polling
    fast) and SLEW_DONE is asked of an axis only from a second before it is due: at most 6 packets a second over the
    goto (the C++ driver sends 3.35), the position still shown Busy more than once a second."""
    from indi_astrojolo.nexstar.aux import Command

    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert driver.simulator is not None
        await trio.sleep(5)  # the accessories scanned
        ra, dec = target_for_altitude(driver, 60.0, 200.0)
        start, started = len(driver.simulator.received), trio.current_time()
        driver.outbox.take()
        await goto_and_track(driver, ra, dec)
        seconds = trio.current_time() - started
        packets = driver.simulator.received[start:]
        assert seconds > 20  # a long slew (2.8°/s on the emulator)
        assert len(packets) / seconds <= 6.0
        done_asked = [p for p in packets if p.cmd == Command.SLEW_DONE]
        assert 0 < len(done_asked) < seconds  # 3 Hz per axis throughout would be 6 a second
        shown = driver.outbox.take().count(
            b'<setNumberVector device="NexStar AUX" name="EQUATORIAL_EOD_COORD" state="Busy"'
        )
        assert shown >= seconds - 2
        assert pointing_error_arcsec(driver, ra, dec) < 60
        nursery.cancel_scope.cancel()


async def test_coordinates_are_sent_when_they_move_by_more_than_a_tenth_of_an_arcsecond_or_change_state(
    autojump_clock,
) -> None:
    """As libindi's Telescope sends EQUATORIAL_EOD_COORD: a poll that finds the same place (to 0.1″, one encoder step)
    in the same state sends nothing. Tracking a star holds RA/Dec; at rest, the altitude and azimuth hold."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 40.0, 200.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(20)  # the loop has taken out what the goto left
        driver.outbox.take()
        await trio.sleep(60)
        said = driver.outbox.take()
        # RA/Dec hold to well within 0.1″ while tracking; the altitude and azimuth move every second
        assert said.count(b'name="EQUATORIAL_EOD_COORD"') <= 3
        assert said.count(b'name="HORIZONTAL_COORD"') >= 55
        await driver.handle_request(request("Switch", "TELESCOPE_TRACK_STATE", TRACK_OFF=True))
        said = driver.outbox.take()
        assert b'name="EQUATORIAL_EOD_COORD" state="Idle"' in said  # a new state goes out at once
        await trio.sleep(5)
        driver.outbox.take()
        await trio.sleep(30)
        said = driver.outbox.take()
        # at rest: the axes and the horizontal place hold; RA moves with the sky (15″ a second)
        assert said.count(b'name="HORIZONTAL_COORD"') == 0 and said.count(b'name="TELESCOPE_ENCODER_STEPS"') == 0
        assert said.count(b'name="EQUATORIAL_EOD_COORD"') >= 28
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("geometry, altitude", [("ALTAZ", 35.0), ("ALTAZ", 88.0), ("EQ_WEDGE", 50.0)])
async def test_the_horizontal_coordinates_shown_are_the_shown_ra_dec_converted(autojump_clock, geometry, altitude):
    """An alt-az mount shows HORIZONTAL_COORD straight from its axes (no second conversion); a wedge converts the
    RA/Dec it shows. Either way the pair agrees with converting the shown RA/Dec at the same moment."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=19.9, geometry=geometry)
        await goto_and_track(driver, *target_for_altitude(driver, altitude, 150.0))
        await trio.sleep(3.0)
        driver.show_position()
        shown = driver.props.number("EQUATORIAL_EOD_COORD")
        horizontal = driver.props.number("HORIZONTAL_COORD")
        expected = astro.apparent_to_horizontal(
            shown["RA"].value, shown["DEC"].value, driver.instant(), driver.site(), driver.weather()
        )
        assert -90.0 <= horizontal["ALT"].value <= 90.0 and 0.0 <= horizontal["AZ"].value <= 360.0
        assert horizontal["ALT"].value == pytest.approx(expected.altitude, abs=1e-5)
        azimuth_error = (horizontal["AZ"].value - expected.azimuth + 180.0) % 360.0 - 180.0
        assert azimuth_error * math.cos(math.radians(expected.altitude)) == pytest.approx(0.0, abs=1e-5)
        nursery.cancel_scope.cancel()
