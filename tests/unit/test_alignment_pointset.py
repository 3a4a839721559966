"""libindi's alignment point-set properties over the NexStar pointing model (issue 15, item 3), on trio's fake clock
against the emulator: Ekos's Clear Model (ACTION member at index 4, then COMMIT) clears the model exactly as
POINTING_CLEAR does and moves nothing, even while tracking; DELETE removes one point; the actions this driver does
not offer are refused and change nothing; all of it works on the file while disconnected."""

from __future__ import annotations

import json

import pytest
import trio
from mount_sim import goto_and_track, pointing_error_arcsec, request, start_mount, target_for_altitude, true_direction

from indi_astrojolo.files import indi_home
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.nexstar import astrometry as astro
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC
from indi_astrojolo.nexstar.motion import Phase
from indi_astrojolo.nexstar.mount import PointingStore, SyncPoint

ACTION, COMMIT = "ALIGNMENT_POINTSET_ACTION", "ALIGNMENT_POINTSET_COMMIT"
SIZE, ENTRY = "ALIGNMENT_POINTSET_SIZE", "ALIGNMENT_POINTSET_CURRENT_ENTRY"
REFUSED = ["APPEND", "INSERT", "EDIT", "READ", "READ INCREMENT", "LOAD DATABASE"]
POINTS = [SyncPoint(120.0, 35.0, 120.2, 35.1, 1.0e9), SyncPoint(200.0, 50.0, 200.3, 50.05, 1.0e9 + 60)]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def pointing_file():
    return indi_home() / "NexStar AUX_pointing.json"


def saved_points() -> list[dict]:
    return json.loads(pointing_file().read_text())["points"]


def save_points(points: list[SyncPoint]) -> None:
    indi_home().mkdir(parents=True, exist_ok=True)
    PointingStore(pointing_file(), list(points)).save()


async def select_by_index(driver, index: int) -> None:
    """ALIGNMENT_POINTSET_ACTION as KStars 3.6.2's Mount::clearAlignmentModel sends it: every member, the one at
    `index` On (it uses 4 and means CLEAR)."""
    members = list(driver.props.switch(ACTION).members)
    await driver.handle_request(request("Switch", ACTION, **{name: i == index for i, name in enumerate(members)}))


async def commit(driver, action: str | None = None) -> bytes:
    """Select `action` by name (None: leave the selection), then COMMIT; returns what the driver said."""
    if action is not None:
        await driver.handle_request(request("Switch", ACTION, **{action: True}))
    driver.outbox.take()
    await driver.handle_request(request("Switch", COMMIT, ALIGNMENT_POINTSET_COMMIT=True))
    return driver.outbox.take()


def sky_here(driver) -> tuple[float, float]:
    azimuth, altitude = true_direction(driver)
    return astro.horizontal_to_apparent(azimuth % 360, altitude, driver.instant(), driver.site(), driver.weather())


async def test_ekos_clear_model_while_tracking_clears_it_and_the_mount_stays_on_the_same_sky(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 45.0, 160.0)
        await goto_and_track(driver, ra, dec)
        await trio.sleep(5)
        # a sync that puts the star 0.3° away from where the perfect mount would be: a model with real offsets
        await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra + 0.01, DEC=dec - 0.3))
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 1
        assert driver.props.number(SIZE)[SIZE].value == 1
        await trio.sleep(5)
        held = sky_here(driver)
        await select_by_index(driver, 4)
        assert driver.props.switch(ACTION).selected() == "CLEAR"  # libindi's order: index 4 is CLEAR
        said = await commit(driver)
        assert b"Pointing model cleared" in said
        assert driver.props[COMMIT].state.value == "Ok" and driver.props.switch(COMMIT).selected() is None
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        assert driver.props.number(SIZE)[SIZE].value == 0
        assert driver.props.text("POINTING_POINTS")["POINTS"].value == ""
        assert saved_points() == []
        assert driver.props.switch(ACTION).selected() == "APPEND"  # a later bare COMMIT cannot clear again
        assert driver.motion.phase is Phase.TRACKING
        for wait in (1, 3, 30):
            await trio.sleep(wait)
            drift = pointing_error_arcsec(driver, *held)
            assert drift < 5.0, f"clearing the model moved the mount {drift:.0f} arcsec"
        nursery.cancel_scope.cancel()


async def test_pointing_clear_is_the_same_clear(autojump_clock) -> None:
    save_points(POINTS)
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert driver.props.number(SIZE)[SIZE].value == 2 and driver.props[SIZE].state.value == "Ok"
        await driver.handle_request(request("Switch", "POINTING_CLEAR", CLEAR=True))
        assert driver.props["POINTING_CLEAR"].state.value == "Ok"
        assert driver.props.number(SIZE)[SIZE].value == 0 and driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        assert saved_points() == []
        nursery.cancel_scope.cancel()


async def test_actions_this_driver_does_not_offer_are_refused_and_change_nothing(autojump_clock) -> None:
    save_points(POINTS)
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        before = pointing_file().read_bytes()
        model = driver.props.number("POINTING_MODEL").values()
        for action in REFUSED:
            said = await commit(driver, action)
            assert driver.props[COMMIT].state.value == "Alert", action
            assert f"{action}: ".encode() in said and b"nothing changed" in said, said
            assert driver.props.switch(ACTION).selected() == action  # the selection is kept too
            assert driver.props.switch(COMMIT).selected() is None
        assert pointing_file().read_bytes() == before
        assert driver.props.number("POINTING_MODEL").values() == model
        assert driver.props.number(SIZE)[SIZE].value == 2
        # SAVE DATABASE: already done at every change
        said = await commit(driver, "SAVE DATABASE")
        assert driver.props[COMMIT].state.value == "Ok" and b"Nothing to save" in said
        assert pointing_file().read_bytes() == before
        # COMMIT sent Off asks for nothing
        await driver.handle_request(request("Switch", ACTION, CLEAR=True))
        await driver.handle_request(request("Switch", COMMIT, ALIGNMENT_POINTSET_COMMIT=False))
        assert driver.props[COMMIT].state.value == "Idle" and driver.props.number(SIZE)[SIZE].value == 2
        nursery.cancel_scope.cancel()


async def test_delete_removes_the_point_at_the_current_entry(autojump_clock) -> None:
    save_points(POINTS)
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Number", ENTRY, ALIGNMENT_POINTSET_CURRENT_ENTRY=2))
        said = await commit(driver, "DELETE")
        assert driver.props[COMMIT].state.value == "Alert" and b"there is no entry 2; the set has 2" in said
        assert len(saved_points()) == 2
        await driver.handle_request(request("Number", ENTRY, ALIGNMENT_POINTSET_CURRENT_ENTRY=0))
        said = await commit(driver)
        assert driver.props[COMMIT].state.value == "Ok" and b"Sync point 0 deleted (1 left)" in said
        assert [point["sky1"] for point in saved_points()] == [200.0]
        assert driver.props.number(SIZE)[SIZE].value == 1 and driver.props.number("POINTING_MODEL")["POINTS"].value == 1
        assert driver.props.switch(ACTION).selected() == "APPEND"
        nursery.cancel_scope.cancel()


async def test_clearing_while_the_mount_slews_is_refused_and_the_goto_goes_on(autojump_clock) -> None:
    save_points(POINTS[:1])
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        ra, dec = target_for_altitude(driver, 50.0, 200.0)
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        await trio.sleep(3)
        assert driver.motion.phase is Phase.SLEWING
        said = await commit(driver, "CLEAR")
        assert driver.props[COMMIT].state.value == "Alert" and b"the mount is moving" in said
        await driver.handle_request(request("Switch", "POINTING_CLEAR", CLEAR=True))
        assert driver.props["POINTING_CLEAR"].state.value == "Alert"
        assert len(saved_points()) == 1 and driver.props.number(SIZE)[SIZE].value == 1
        with trio.fail_after(300):
            while driver.motion.phase is not Phase.TRACKING:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


async def test_clear_works_on_the_file_while_disconnected() -> None:
    save_points(POINTS)
    driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
    assert {ACTION, COMMIT, SIZE, ENTRY} <= set(driver.props.defined)  # defined before connecting, as libindi does
    assert driver.props[SIZE].state.value == "Idle"  # not read yet
    said = await commit(driver, "CLEAR")
    assert driver.props[COMMIT].state.value == "Ok", said
    assert saved_points() == []
    assert driver.props.number(SIZE)[SIZE].value == 0 and driver.props[SIZE].state.value == "Ok"
