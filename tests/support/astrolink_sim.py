"""The AstroLink 4 USB driver and its emulator in one process, for runs on trio's fake clock (its SIMULATION transport
is the real emulator); requests go through the same validation and handlers a client's would."""

from __future__ import annotations

import dataclasses

import trio

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator, EmulatorConfig
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from mount_sim import request


def astrolink_request(kind: str, name: str, **members: object):
    """A request as a client would send it to the AstroLink 4 (mount_sim's, for another device)."""
    return dataclasses.replace(request(kind, name, **members), device="AstroLink 4 USB")


async def start_astrolink(nursery: trio.Nursery, device: "AstroLink4Emulator | EmulatorConfig | None" = None):
    """The driver, connected to its simulated device: by default an AstroLink 4 USB; `device` is a configured emulator
    or the configuration of one (a mini, another serial speed, absent sensors, another firmware sign)."""
    driver = AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())
    driver.runtime_nursery = nursery
    if isinstance(device, EmulatorConfig):
        device = AstroLink4Emulator(device, now=trio.current_time())
    driver.simulator = device
    await driver.handle_request(astrolink_request("Switch", "SIMULATION", ENABLE=True))
    await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
    assert driver.connected, driver.outbox.take()[-600:]
    return driver
