"""The Guider interface (indi/interfaces/guider.py) as a client sees it, on the real NexStar driver and its emulator on
trio's fake clock: how a request is read (libindi's rule, the first member wins; members not sent count as zero), the
states it goes through (Busy while the pulse runs, Idle after), and what it refuses. Checked on the wire: what the
driver sent to clients, what reached the emulated controllers, and where the emulated mount points."""

from __future__ import annotations

import pytest
import trio
from lxml import etree
from mount_sim import goto_and_track, request, start_mount, target_for_altitude, true_direction

from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar.aux import Command

GUIDE_NS = "TELESCOPE_TIMED_GUIDE_NS"
GUIDE_WE = "TELESCOPE_TIMED_GUIDE_WE"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def sent_updates(driver, name: str) -> list[tuple[str, dict[str, float], str]]:
    """The updates of a property the driver sent to clients since the last look: (state, values, message)."""
    root = etree.fromstring(b"<all>" + driver.outbox.take() + b"</all>")
    return [
        (
            element.get("state"),
            {member.get("name"): float(member.text) for member in element},
            element.get("message") or "",
        )
        for element in root
        if element.tag == "setNumberVector" and element.get("name") == name
    ]


def pulses_sent(driver) -> list[bytes]:
    """The guide pulses (0x26) the emulated controllers received that move something (a 0 ms pulse only stops)."""
    return [p.data for p in driver.simulator.received if p.cmd == Command.AUX_GUIDE and p.data[1:] != b"\x00"]


def dec_here(driver) -> float:
    azimuth, altitude = true_direction(driver)
    return astro.horizontal_to_apparent(azimuth % 360, altitude, driver.instant(), driver.site(), driver.weather())[1]


async def until_not_busy(driver, name: str) -> None:
    with trio.fail_after(30):
        while driver.props[name].state.value == "Busy":
            await trio.sleep(0.01)


async def second_request_during_a_pulse(driver, first: dict[str, float], second: dict[str, float]) -> float:
    """A North/South pulse, and 0.5 s into it another request: how long the vector stayed Busy (its updates are left
    in the outbox, for sent_updates)."""
    driver.outbox.take()
    began = trio.current_time()
    await driver.handle_request(request("Number", GUIDE_NS, **first))
    await trio.sleep(0.5)
    await driver.handle_request(request("Number", GUIDE_NS, **second))
    await until_not_busy(driver, GUIDE_NS)
    return trio.current_time() - began


async def tracking_mount(nursery):
    driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
    ra, dec = target_for_altitude(driver, 45.0, 140.0)
    await goto_and_track(driver, ra, dec)
    await trio.sleep(20)  # the tracking loop has taken out what the goto left
    return driver


async def test_the_first_member_wins_and_the_pulse_runs_busy_for_its_duration_then_idle(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await tracking_mount(nursery)
        start = dec_here(driver)
        driver.outbox.take()
        before = len(pulses_sent(driver))
        began = trio.current_time()
        await driver.handle_request(request("Number", GUIDE_NS, TIMED_GUIDE_N=1000, TIMED_GUIDE_S=700))
        guide = driver.props.number(GUIDE_NS)
        with trio.fail_after(30):
            while guide.state.value == "Busy":
                await trio.sleep(0.01)
        lasted = trio.current_time() - began
        assert 1.0 <= lasted < 1.5
        # libindi's reading: North is the pulse and South is shown zero while it runs; both zero once it has ended
        assert sent_updates(driver, GUIDE_NS) == [
            ("Busy", {"TIMED_GUIDE_N": 1000, "TIMED_GUIDE_S": 0}, ""),
            ("Idle", {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}, ""),
        ]
        assert [data[1] for data in pulses_sent(driver)[before:]]  # 0x26, timed by the controllers ...
        assert all(data[1] == 100 for data in pulses_sent(driver)[before:])  # ... for 1000 ms (10 ms ticks)
        await trio.sleep(5)
        assert (dec_here(driver) - start) * 3600 == pytest.approx(7.5, abs=1.0)  # 1 s at 0.5 × sidereal, north
        nursery.cancel_scope.cancel()


async def test_a_member_the_request_leaves_out_counts_as_zero(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await tracking_mount(nursery)
        # The vector shows a West duration (as it does while a pulse runs); a request naming only East guides East.
        driver.props.number(GUIDE_WE).apply({"TIMED_GUIDE_W": 2000})
        driver.outbox.take()
        await driver.handle_request(request("Number", GUIDE_WE, TIMED_GUIDE_E=500))
        assert sent_updates(driver, GUIDE_WE) == [("Busy", {"TIMED_GUIDE_W": 0, "TIMED_GUIDE_E": 500}, "")]
        with trio.fail_after(30):
            while driver.props[GUIDE_WE].state.value == "Busy":
                await trio.sleep(0.01)
        assert sent_updates(driver, GUIDE_WE) == [("Idle", {"TIMED_GUIDE_W": 0, "TIMED_GUIDE_E": 0}, "")]
        nursery.cancel_scope.cancel()


async def test_a_request_with_no_duration_shows_idle_and_moves_nothing(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await tracking_mount(nursery)
        driver.outbox.take()
        before = len(pulses_sent(driver))
        await driver.handle_request(request("Number", GUIDE_WE, TIMED_GUIDE_W=0, TIMED_GUIDE_E=0))
        assert sent_updates(driver, GUIDE_WE) == [("Idle", {"TIMED_GUIDE_W": 0, "TIMED_GUIDE_E": 0}, "")]
        await trio.sleep(3)
        assert len(pulses_sent(driver)) == before
        nursery.cancel_scope.cancel()


async def test_a_pulse_is_refused_while_parked_and_nothing_moves(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        with trio.fail_after(600):
            while driver.props["TELESCOPE_PARK"].state.value != "Ok":
                await trio.sleep(0.1)
        await trio.sleep(5)
        driver.outbox.take()
        before, where = len(pulses_sent(driver)), true_direction(driver)
        await driver.handle_request(request("Number", GUIDE_WE, TIMED_GUIDE_W=500, TIMED_GUIDE_E=0))
        assert sent_updates(driver, GUIDE_WE) == [
            ("Alert", {"TIMED_GUIDE_W": 0, "TIMED_GUIDE_E": 0}, "[ERROR] Request refused: the mount is parked")
        ]
        await trio.sleep(3)
        assert len(pulses_sent(driver)) == before
        assert true_direction(driver) == pytest.approx(where, abs=1e-6)
        nursery.cancel_scope.cancel()


async def test_a_pulse_sent_while_one_runs_replaces_it_and_the_vector_stays_busy_until_the_new_one_ends(
    autojump_clock,
) -> None:
    async with trio.open_nursery() as nursery:
        driver = await tracking_mount(nursery)
        start = dec_here(driver)
        lasted = await second_request_during_a_pulse(driver, {"TIMED_GUIDE_N": 1000}, {"TIMED_GUIDE_N": 2000})
        assert 2.5 <= lasted < 3.0  # the second pulse's 2 s from its start
        # no Idle between the two: the first pulse's end is not shown while the second runs
        assert sent_updates(driver, GUIDE_NS) == [
            ("Busy", {"TIMED_GUIDE_N": 1000, "TIMED_GUIDE_S": 0}, ""),
            ("Busy", {"TIMED_GUIDE_N": 2000, "TIMED_GUIDE_S": 0}, ""),
            ("Idle", {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}, ""),
        ]
        # the controllers ran half of the first and all of the second; the tracking loop makes up the rest, so the
        # mount ends where both corrections take it (3 s at 0.5 × sidereal)
        await trio.sleep(10)
        assert (dec_here(driver) - start) * 3600 == pytest.approx(22.5, abs=1.0)
        nursery.cancel_scope.cancel()


async def test_a_request_with_no_duration_during_a_pulse_changes_nothing_and_shows_the_pulse(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await tracking_mount(nursery)
        start = dec_here(driver)
        lasted = await second_request_during_a_pulse(
            driver, {"TIMED_GUIDE_S": 1500}, {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
        )
        assert 1.5 <= lasted < 2.0
        assert sent_updates(driver, GUIDE_NS) == [
            ("Busy", {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 1500}, ""),
            ("Busy", {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 1500}, ""),  # the answer to the empty request: as it was
            ("Idle", {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}, ""),
        ]
        await trio.sleep(5)
        assert (dec_here(driver) - start) * 3600 == pytest.approx(-11.25, abs=1.0)  # the whole 1.5 s, south
        nursery.cancel_scope.cancel()
