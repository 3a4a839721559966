"""SAT_PASS_LIST and SAT_PASS_CHOICE: the coming passes, a line each, and choosing one to plan and track.

The real driver and emulator on trio's fake clock. The listed rises are checked against a plain scan of the
satellite's elevation every 5 s (not the driver's bisecting pass finder); the sunlight words against synthetic
sunlit fractions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import trio
from mount_sim import iso, request, start_mount, true_direction
from satellite_sim import EPOCH, ISS_TLE, prepare

from indi_astrojolo.nexstar.astrometry import Site
from indi_astrojolo.nexstar.orbit import Orbit, parse_tle
from indi_astrojolo.nexstar.passlist import sunlight_words

SITE = Site(50.0, 20.0, 300.0)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def listed_rises(driver) -> list[float]:
    rises = []
    for member in driver.props.text("SAT_PASS_LIST"):
        if member.value:
            when = datetime.strptime(member.value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            rises.append(when.timestamp())
    return rises


def scanned_rises(start: float, days: float, weather) -> list[float]:
    """Where the refracted elevation goes from below 0° to above it, sampled every 5 s."""
    orbit = Orbit(parse_tle(ISS_TLE, EPOCH))
    times = np.arange(start, start + days * 86400.0, 5.0)
    above = orbit.topocentric(SITE, times, weather).elevation > 0.0
    return [float(times[i + 1]) for i in np.flatnonzero(~above[:-1] & above[1:])]


async def test_the_list_shows_the_coming_passes_in_order_and_choosing_one_plans_and_tracks_it(autojump_clock) -> None:
    start = EPOCH + 600.0
    async with trio.open_nursery() as nursery:
        driver = await prepare(nursery, SITE, start)
        rises = listed_rises(driver)
        assert len(rises) == 10  # COUNT's default
        scanned = scanned_rises(start, 3.0, driver.weather())
        assert len(scanned) >= 10
        assert np.allclose(rises, scanned[:10], atol=5.0), (rises, scanned[:10])
        lines = [m.value for m in driver.props.text("SAT_PASS_LIST") if m.value]
        assert all(("sunlit" in line or "shadow" in line) and "highest" in line for line in lines)
        assert driver.props["SAT_PASS_LIST"].state.value == "Ok"

        await driver.handle_request(request("Switch", "SAT_PASS_CHOICE", PASS_3=True))
        assert driver.props.switch("SAT_PASS_CHOICE").selected() == "PASS_3"
        assert driver.props["SAT_PASS_CHOICE"].state.value == "Ok"
        shown = driver.props.text("SAT_PASS_TIMES")["RISE"].value
        rise = datetime.strptime(shown, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        assert abs(rise - rises[2]) <= 1.0
        driver.outbox.take()
        await driver.handle_request(request("Switch", "SAT_TRACKING_STAT", SAT_TRACK=True))
        assert f"Tracking the pass rising at {shown}".encode() in driver.outbox.take()
        await trio.sleep(1.0)  # the mount on its way to where the pass starts
        await driver.handle_request(request("Switch", "SAT_PASS_CHOICE", PASS_1=True))
        assert driver.props["SAT_PASS_CHOICE"].state.value == "Alert"  # not while a pass is followed
        assert driver.props.switch("SAT_PASS_CHOICE").selected() == "PASS_3"
        await driver.handle_request(request("Switch", "SAT_TRACKING_STAT", SAT_HALT=True))

        # none chosen: the window is emptied and the next pass is shown again
        await driver.handle_request(request("Switch", "SAT_PASS_CHOICE", PASS_3=False))
        assert driver.props.text("SAT_PASS_WINDOW")["SAT_PASS_WINDOW_START"].value == ""
        assert driver.props.switch("SAT_PASS_CHOICE").selected() is None
        nursery.cancel_scope.cancel()


async def test_a_shorter_list_and_a_choice_beyond_it_is_refused(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await prepare(nursery, SITE, EPOCH + 600.0)
        await driver.handle_request(request("Number", "SAT_PASS_LIST_SETTINGS", COUNT=3, DAYS=1))
        assert len(listed_rises(driver)) == 3
        window = dict((m.name, m.value) for m in driver.props.text("SAT_PASS_WINDOW"))
        driver.outbox.take()
        await driver.handle_request(request("Switch", "SAT_PASS_CHOICE", PASS_5=True))
        assert driver.props["SAT_PASS_CHOICE"].state.value == "Alert"
        assert b"the list has 3 passes; there is no pass 5" in driver.outbox.take()
        assert dict((m.name, m.value) for m in driver.props.text("SAT_PASS_WINDOW")) == window
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "fractions, words",
    [
        ([1.0, 1.0, 1.0], "sunlit"),
        ([0.0, 0.0], "in the Earth's shadow"),
        ([1.0, 1.0, 0.3, 0.0], "sunlit, enters the shadow at 00:00:20"),
        ([0.0, 0.7, 1.0], "in shadow, leaves the shadow at 00:00:10"),
    ],
)
def test_the_sunlight_of_a_pass_is_said_in_words(fractions, words) -> None:
    times = np.arange(len(fractions)) * 10.0
    assert sunlight_words(times, np.array(fractions)) == words


async def test_a_pass_this_mount_cannot_follow_is_listed_as_such_and_tracking_it_is_refused(autojump_clock) -> None:
    """A fork on a wedge never takes the tube above its highest allowed altitude: such passes are listed, with why,
    the TLE stays accepted, and Track refuses the pass before anything moves."""
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=SITE.latitude, longitude=SITE.longitude, geometry="EQ_WEDGE")
        await driver.handle_request(request("Text", "TIME_UTC", UTC=iso(EPOCH + 600.0), OFFSET="0"))
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=0, MAX_ALT=40))
        await driver.handle_request(request("Text", "SAT_TLE_TEXT", TLE=ISS_TLE))
        assert driver.props["SAT_TLE_TEXT"].state.value == "Ok"
        lines = [m.value for m in driver.props.text("SAT_PASS_LIST") if m.value]
        high = [i for i, line in enumerate(lines) if "cannot follow it: the pass climbs above" in line]
        assert high and len(high) < len(lines)  # the low passes are still followable
        await driver.handle_request(request("Switch", "SAT_PASS_CHOICE", **{f"PASS_{high[0] + 1}": True}))
        assert driver.props["SAT_PASS_TIMES"].state.value == "Alert"
        assert "cannot follow this pass" in driver.props.text("SAT_PASS_TIMES")["NOTES"].value
        where = true_direction(driver)
        await driver.handle_request(request("Switch", "SAT_TRACKING_STAT", SAT_TRACK=True))
        assert driver.props["SAT_TRACKING_STAT"].state.value == "Alert"
        assert driver.props.switch("SAT_TRACKING_STAT")["SAT_HALT"].on
        await trio.sleep(5)
        assert true_direction(driver) == pytest.approx(where, abs=1e-4)
        nursery.cancel_scope.cancel()
