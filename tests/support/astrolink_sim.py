"""The AstroLink 4 USB driver and its emulator in one process, for runs on trio's fake clock (its SIMULATION transport
is the real emulator); requests go through the same validation and handlers a client's would."""

from __future__ import annotations

import dataclasses

import trio
from lxml import etree

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


# The AstroLink's read commands: identification, status and the settings blocks. Anything else writes.
READS = ("#", "q", "u", "e", "n", "j", "f", "z", "p")


def writes(commands: list[str]) -> list[str]:
    """Every command that is not a read (settings block, status, identification)."""
    return [command for command in commands if command.split(":")[0] not in READS]


def sent(driver) -> list[etree._Element]:
    """The elements sent to clients since the last call."""
    return list(etree.fromstring(b"<all>" + driver.outbox.take() + b"</all>"))


def messages(driver) -> list[str]:
    """The messages sent to clients since the last call (message elements and messages on vectors)."""
    root = etree.fromstring(b"<all>" + driver.outbox.take() + b"</all>")
    return [element.get("message") for element in root.iter() if element.get("message")]


async def send(driver, kind: str, name: str, **members) -> None:
    await driver.handle_request(astrolink_request(kind, name, **members))
