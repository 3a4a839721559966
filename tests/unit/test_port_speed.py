"""DEVICE_BAUD_RATE shows the speed the link runs at: 9600 through the hand controller, 19200 on the AUX/PC port."""

from __future__ import annotations

import pytest

from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC
from mount_sim import request


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def new_driver(**selected: str) -> NexStarDriver:
    props = prepare_properties(SPEC)
    for name, member in selected.items():
        props.switch(name).select(member)
    return NexStarDriver(SPEC, props, Outbox())


async def test_choosing_the_hand_controller_shows_9600_and_the_aux_port_19200() -> None:
    driver = new_driver()
    assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "19200"
    await driver.handle_request(request("Switch", "PORT_TYPE", PORT_HC_USB=True))
    assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "9600"
    assert b'name="DEVICE_BAUD_RATE"' in driver.outbox.take()  # clients are told
    await driver.handle_request(request("Switch", "PORT_TYPE", PORT_AUX_PC=True))
    assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "19200"


async def test_another_speed_through_the_hand_controller_is_refused_in_words() -> None:
    driver = new_driver()
    await driver.handle_request(request("Switch", "PORT_TYPE", PORT_HC_USB=True))
    driver.outbox.take()
    await driver.handle_request(request("Switch", "DEVICE_BAUD_RATE", **{"19200": True}))
    baud = driver.props.switch("DEVICE_BAUD_RATE")
    assert baud.selected() == "9600" and baud.state.value == "Alert"
    assert b"passthrough runs at 9600 baud only" in driver.outbox.take()


def test_a_saved_hand_controller_port_with_another_speed_shows_9600() -> None:
    driver = new_driver(PORT_TYPE="PORT_HC_USB", DEVICE_BAUD_RATE="19200")
    assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "9600"
    assert driver.baud_rate() == 9600


def test_the_aux_port_keeps_a_chosen_speed() -> None:
    driver = new_driver(DEVICE_BAUD_RATE="38400")  # a serial bridge in between: the user's choice stands
    assert driver.props.switch("DEVICE_BAUD_RATE").selected() == "38400"
