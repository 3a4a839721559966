"""What a client sees when a device connects, in libindi's order: CONNECTION Ok first, then the connected
properties' definitions, then "<device> is connected".

KStars marks a device ready 250 ms after the last definition it sees once the device is connected, and Ekos takes
up a mount or a focuser only then. With the definitions sent before the Ok, an Ekos that connected the mount more
than 250 ms after first seeing it never took it up: its Mount module showed park status Unknown for good and an
unpark changed nothing (seen under load in the Ekos test)."""

from __future__ import annotations

import pytest
import trio
from lxml import etree

from astrolink_sim import astrolink_request
from mount_sim import request

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC as ASTROLINK_SPEC
from indi_astrojolo.indi.device import Device
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import connected_names, prepare_properties
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC as NEXSTAR_SPEC


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))


def said(driver: Device) -> list[etree._Element]:
    return list(etree.fromstring(b"<wire>" + driver.outbox.take() + b"</wire>"))


def connection_state(element: etree._Element) -> str | None:
    return element.get("state") if element.tag == "setSwitchVector" and element.get("name") == "CONNECTION" else None


@pytest.mark.parametrize(
    "make, make_request",
    [
        (lambda: NexStarDriver(NEXSTAR_SPEC, prepare_properties(NEXSTAR_SPEC), Outbox()), request),
        (lambda: AstroLink4Driver(ASTROLINK_SPEC, prepare_properties(ASTROLINK_SPEC), Outbox()), astrolink_request),
    ],
    ids=["nexstar", "astrolink"],
)
async def test_connection_ok_comes_before_the_connected_definitions(autojump_clock, make, make_request) -> None:
    async with trio.open_nursery() as nursery:
        driver = make()
        driver.runtime_nursery = nursery
        await driver.handle_request(make_request("Switch", "SIMULATION", ENABLE=True))
        driver.outbox.take()
        await driver.handle_request(make_request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected
        wire = said(driver)
        ok = next(i for i, element in enumerate(wire) if connection_state(element) == "Ok")
        connected = set(connected_names(driver.spec, driver.name))
        definitions = [i for i, element in enumerate(wire) if element.tag.startswith("def")]
        assert {wire[i].get("name") for i in definitions} == connected
        assert ok < min(definitions)
        # Nothing of a connected property goes out before the Ok; the Busy before it is the only other CONNECTION.
        assert not [e for e in wire[:ok] if e.get("name") in connected]
        assert [connection_state(e) for e in wire[:ok] if e.get("name") == "CONNECTION"] == ["Busy"]
        connected_message = next(
            i for i, e in enumerate(wire) if e.tag == "message" and f"{driver.name} is connected" in e.get("message")
        )
        assert connected_message > max(definitions)
        nursery.cancel_scope.cancel()
