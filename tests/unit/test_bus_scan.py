"""The NexStar's bus scan on trio's fake clock against the emulator: CONNECTION is Ok once the motor controllers and
the focuser (which decides what the device offers) have answered; the other accessories are asked after it, the GPS
first, and MOUNT_INFO lists each as it answers, Busy until the last has had its chance."""

from __future__ import annotations

import pytest
import trio

from mount_sim import request

from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.properties import State
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.nexstar.driver import SCAN_TIMEOUT, NexStarDriver
from indi_astrojolo.nexstar.emulator import MountConfig, NexStarEmulator
from indi_astrojolo.nexstar.main import SPEC


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


@pytest.mark.parametrize("gps", [False, True])
async def test_connection_is_ok_before_the_accessories_are_scanned_and_each_shows_as_it_answers(
    autojump_clock, gps
) -> None:
    async with trio.open_nursery() as nursery:
        driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
        driver.runtime_nursery = nursery
        driver.simulator = NexStarEmulator(MountConfig(gps=gps, site=(-31.25, 289.25)), now=trio.current_time())
        await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
        started = trio.current_time()
        await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
        assert driver.props.switch("CONNECTION").state is State.OK
        # the motors, the model and the absent focuser's short wait, not the whole bus
        assert trio.current_time() - started < SCAN_TIMEOUT + 0.2
        info = driver.props.text("MOUNT_INFO")
        assert info.state is State.BUSY and info["BUS_DEVICES"].value == "scanning the bus…"
        seen = []
        with trio.fail_after(10):
            while info.state is State.BUSY:
                if info["BUS_DEVICES"].value not in seen:
                    seen.append(info["BUS_DEVICES"].value)
                await trio.sleep(0.01)
        assert info.state is State.OK
        listed = info["BUS_DEVICES"].value
        assert "NexStar+ hand controller" in listed and "Evolution WiFi" in listed
        assert ("GPS" in listed) is gps
        if gps:  # the GPS is asked first of those after Ok, and shown at once, before the scan ends
            assert seen[1].startswith("GPS")
            geo = driver.props.number("GEOGRAPHIC_COORD")  # and its fix set the site
            assert (geo["LAT"].value, geo["LONG"].value) == pytest.approx((-31.25, 289.25), abs=1e-4)
        said = driver.outbox.take()
        assert b"Other devices on the bus: " in said
        nursery.cancel_scope.cancel()
