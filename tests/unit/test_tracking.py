"""Goto and alt-az tracking run on trio's fake clock against the emulator's physics: the real driver, the real
emulator, simulated minutes in a few seconds."""

from __future__ import annotations

import math

import pytest
import trio

from mount_sim import goto_and_track, pointing_error_arcsec, start_mount, target_for_altitude


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


@pytest.mark.parametrize(
    "latitude, longitude, altitude, azimuth",
    [(50.0, 20.0, 45.0, 120.0), (-33.9, 18.4, 30.0, 40.0), (35.0, -110.0, 75.0, 200.0)],
)
async def test_goto_lands_on_the_target_and_tracking_holds_it(autojump_clock, latitude, longitude, altitude, azimuth) -> None:
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
