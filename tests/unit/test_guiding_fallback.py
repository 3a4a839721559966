"""Guide pulses against controllers without a usable MC_AUX_GUIDE (issue 14 item 2), on trio's fake clock against the
emulator: a controller that never answers 0x26 gets its pulses as changes of the tracking rates for their duration,
remembered for the session, the pulse's motion done when the pulse ends; every pulse ends Idle with both members of
the vector at zero, so a client resending the whole vector guides the way it asked."""

from __future__ import annotations

import pytest
import trio

from mount_sim import goto_and_track, request, start_mount, target_for_altitude, true_direction

from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar.aux import Command


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def dec_here(driver) -> float:
    azimuth, altitude = true_direction(driver)
    return astro.horizontal_to_apparent(azimuth % 360, altitude, driver.instant(), driver.site(), driver.weather())[1]


async def pulse(driver, **members: float) -> float:
    """A pulse as a client that sends the whole vector sends it: the members it does not change as last shown.
    Returns how long the vector stayed Busy (seconds)."""
    guide = driver.props.number("TELESCOPE_TIMED_GUIDE_NS")
    values = {name: guide[name].value for name in ("TIMED_GUIDE_N", "TIMED_GUIDE_S")} | members
    started = trio.current_time()
    await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_NS", **values))
    with trio.fail_after(30):
        while guide.state.value == "Busy":
            await trio.sleep(0.01)
    return trio.current_time() - started


def sky_here(driver) -> tuple[float, float]:
    azimuth, altitude = true_direction(driver)
    return astro.horizontal_to_apparent(azimuth % 360, altitude, driver.instant(), driver.site(), driver.weather())


def aux_guide_packets(driver) -> int:
    return sum(1 for packet in driver.simulator.received if packet.cmd == Command.AUX_GUIDE)


@pytest.mark.parametrize("quirk", ["aux_guide_silent", "aux_guide_unsupported"])
async def test_pulses_are_run_by_the_tracking_rates_when_0x26_is_unanswered_or_refused(autojump_clock, quirk) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        if quirk == "aux_guide_silent":
            driver.simulator.config.aux_guide_silent = True
        else:
            driver.simulator.config.aux_guide_supported = False
        ra, dec = target_for_altitude(driver, 45.0, 140.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(20)
        start = dec_here(driver)
        driver.outbox.take()
        # The motion is done when the pulse ends (the guider's next exposure starts then), within 0.3″ of the 7.5″
        # a second at 0.5 × sidereal, and stays done: the tracking loop, held during the pulse, finds no error.
        busy = await pulse(driver, TIMED_GUIDE_N=1000)
        guide = driver.props.number("TELESCOPE_TIMED_GUIDE_NS")
        assert guide.state.value == "Idle" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        assert busy >= 1.0
        assert (dec_here(driver) - start) * 3600 == pytest.approx(7.5, abs=0.3)
        await trio.sleep(5)
        assert (dec_here(driver) - start) * 3600 == pytest.approx(7.5, abs=0.3)
        await pulse(driver, TIMED_GUIDE_S=1000)  # the whole vector, as the client last saw it
        assert guide.state.value == "Idle" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        assert (dec_here(driver) - start) * 3600 == pytest.approx(0.0, abs=0.3)  # back south
        said = driver.outbox.take()
        # a refusal is certain at once; no answer counts when it happens twice in a row (not an outage ending)
        assert b"run as changes of the tracking rates from now on" in said and b"Guide pulse failed" not in said
        tried = aux_guide_packets(driver)
        busy = await pulse(driver, TIMED_GUIDE_N=2000)
        assert guide.state.value == "Idle" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        assert 2.0 <= busy < 2.5  # 0x26 not waited for any more
        assert (dec_here(driver) - start) * 3600 == pytest.approx(15.0, abs=0.3)
        await trio.sleep(5)
        assert (dec_here(driver) - start) * 3600 == pytest.approx(15.0, abs=0.3)
        assert aux_guide_packets(driver) == tried  # remembered: 0x26 not tried again this session
        nursery.cancel_scope.cancel()


async def test_a_pulse_the_link_cannot_carry_ends_in_alert_with_both_members_zeroed(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 45.0, 140.0)
        await goto_and_track(driver, ra, dec)
        driver.simulator.faults.silent = True  # nothing answers any more: a link failure, not missing firmware
        await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_NS", TIMED_GUIDE_N=1000))
        guide = driver.props.number("TELESCOPE_TIMED_GUIDE_NS")
        with trio.fail_after(30):
            while guide.state.value == "Busy":
                await trio.sleep(0.05)
        assert guide.state.value == "Alert" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        # A dead link says nothing about the firmware: once the link is back, the next pulse is 0x26 again.
        driver.simulator.faults.silent = False
        await trio.sleep(5)
        tried = aux_guide_packets(driver)
        await pulse(driver, TIMED_GUIDE_N=1000)
        assert guide.state.value == "Idle" and guide.values() == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        assert aux_guide_packets(driver) > tried
        nursery.cancel_scope.cancel()


async def test_pulses_on_both_axes_at_once_add_up_on_the_rates_and_each_lands(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        driver.simulator.config.aux_guide_supported = False  # refused: every pulse runs on the rates
        ra, dec = target_for_altitude(driver, 45.0, 140.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(20)
        await pulse(driver, TIMED_GUIDE_N=1000)
        await trio.sleep(3)
        ra0, dec0 = sky_here(driver)
        # north for 2 s and west for 1 s, started together: on an alt-az mount both move both axes
        await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_NS", TIMED_GUIDE_N=2000, TIMED_GUIDE_S=0))
        await driver.handle_request(request("Number", "TELESCOPE_TIMED_GUIDE_WE", TIMED_GUIDE_W=1000, TIMED_GUIDE_E=0))
        with trio.fail_after(30):
            while "Busy" in (
                driver.props[name].state.value for name in ("TELESCOPE_TIMED_GUIDE_NS", "TELESCOPE_TIMED_GUIDE_WE")
            ):
                await trio.sleep(0.01)
        for _ in range(2):  # at the end of the pulses, and after the tracking loop has run again
            ra1, dec1 = sky_here(driver)
            assert (dec1 - dec0) * 3600 == pytest.approx(15.0, abs=0.3)
            assert (ra1 - ra0) * 15 * 3600 == pytest.approx(-7.5, abs=0.3)  # west: the hour angle grows
            await trio.sleep(5)
        assert not driver.guiding.rate_pulses  # the rates the pulses added are all taken off again
        nursery.cancel_scope.cancel()
