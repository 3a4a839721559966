"""The Celestron focuser on the AUX bus (0x12) under a real indiserver with pyindi-client, against the emulator with
`--focuser` on a pty: moves through the position inversion, limits, abort, the mount working alongside, and
DRIVER_INTERFACE with and without the focuser."""

from __future__ import annotations

import time

import pytest

from nexstar_rig import ALT, AZM, DEVICE, Mount

# Ten times the emulator's default (an estimate of a real motor's 300 steps/s) keeps the moves short.
SPEED = 3000.0
HIGH = 60000  # the emulator's default hard stops are 0 and 60000


@pytest.fixture
def mount(mount_factory) -> Mount:
    return mount_factory("--focuser", "--focuser-speed", str(SPEED))


def interface_becomes(mount: Mount, bits: str) -> bool:
    """DRIVER_INFO is updated once the focuser's properties are defined, just after CONNECTION goes Ok."""

    def shown() -> bool:
        return mount.values("DRIVER_INFO")["DRIVER_INTERFACE"] == bits

    return mount.client.wait_for(shown, 5, f"DRIVER_INTERFACE {bits}")


def raw(mount: Mount) -> int:
    """Where the emulated focus motor really is, in its own raw steps."""
    return int(mount.emulator.control("call focuser.raw_position").removeprefix("VALUE "))


def focuser_gotos(mount: Mount, since: int) -> list[str]:
    return [line for line in mount.received_since(since) if line.startswith("GOTO_FAST 12")]


def move(mount: Mount, name: str, values: dict, timeout: float = 30.0):
    """Send a focuser request and wait until it went Busy and then ended; returns the final update."""
    mark = mount.client.mark(DEVICE, name)
    mount.client.set_number(DEVICE, name, values)

    def ended():
        updates = mount.client.updates_since(DEVICE, name, mark)
        busy = [i for i, s in enumerate(updates) if s.state == "Busy"]
        return next((s for s in updates[busy[0] :] if s.state != "Busy"), None) if busy else None

    return mount.client.wait_for(ended, timeout, f"{name} to finish")


def test_focuser_moves_limits_and_abort_alongside_the_mount(mount) -> None:
    assert interface_becomes(mount, "13")
    assert mount.values("FOCUS_MAX")["FOCUS_MAX_VALUE"] == HIGH
    absolute = mount.prop("ABS_FOCUS_POSITION")
    assert absolute.limits["FOCUS_ABSOLUTE_POSITION"][:2] == (0, HIGH)
    assert absolute.values["FOCUS_ABSOLUTE_POSITION"] == HIGH - raw(mount) == 30000
    assert mount.values("FOCUS_HARD_STOPS") == {"LOW": 0, "HIGH": HIGH}

    final = move(mount, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 40000})
    assert final.state == "Ok" and final.values["FOCUS_ABSOLUTE_POSITION"] == 40000
    assert raw(mount) == HIGH - 40000

    mount.settle("FOCUS_MOTION", ["FOCUS_OUTWARD"], kind="Switch")
    final = move(mount, "REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 2500})
    assert final.state == "Ok"
    final = mount.client.wait_state(DEVICE, "ABS_FOCUS_POSITION", "Ok")  # REL is told first, then ABS
    assert final.values["FOCUS_ABSOLUTE_POSITION"] == 42500
    assert raw(mount) == HIGH - 42500

    # beyond the range: refused with the reason, nothing sent to the focuser
    mark = mount.received_mark()
    start = len(mount.client.messages)
    refused = mount.settle("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 61000}, states=("Alert",), timeout=10)
    assert refused.values["FOCUS_ABSOLUTE_POSITION"] == 42500
    refused = mount.settle("REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 20000}, states=("Alert",), timeout=10)
    assert mount.client.wait_message(DEVICE, "would leave the range 0 … 60000", start=start)
    time.sleep(0.5)
    assert focuser_gotos(mount, mark) == [] and raw(mount) == HIGH - 42500

    # abort in the middle of a move: Idle, and the motor stays where it stopped
    mount.client.set_number(DEVICE, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 0})
    mount.client.wait_state(DEVICE, "ABS_FOCUS_POSITION", "Busy")
    time.sleep(1.0)
    mount.settle("FOCUS_ABORT_MOTION", ["ABORT"], kind="Switch")
    mount.client.wait_state(DEVICE, "ABS_FOCUS_POSITION", "Idle")
    stopped = raw(mount)
    assert HIGH - 42500 < stopped < HIGH
    time.sleep(1.0)
    assert raw(mount) == stopped
    mount.client.wait_for(
        lambda: mount.values("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"] == HIGH - stopped, 5, "the stopped position"
    )

    # a goto while the focuser moves: both arrive
    mark = mount.received_mark()
    mount.client.set_number(DEVICE, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 20000})
    mount.client.wait_state(DEVICE, "ABS_FOCUS_POSITION", "Busy")
    assert mount.goto_horizontal(30.0, 20.0, track=False).state == "Idle"
    assert mount.axis(AZM) == pytest.approx(30.0, abs=0.05) and mount.axis(ALT) == pytest.approx(20.0, abs=0.05)
    final = mount.client.wait_state(DEVICE, "ABS_FOCUS_POSITION", "Ok", timeout=30)
    assert final.values["FOCUS_ABSOLUTE_POSITION"] == 20000 and raw(mount) == HIGH - 20000
    assert focuser_gotos(mount, mark) == [f"GOTO_FAST 12 {HIGH - 20000:06x}"]


def test_without_the_focuser_the_interface_is_telescope_and_guider_only(mount) -> None:
    assert interface_becomes(mount, "13")
    mount.client.set_switch(DEVICE, "CONNECTION", ["DISCONNECT"])
    mount.client.wait_state(DEVICE, "CONNECTION", "Idle")
    assert interface_becomes(mount, "5")
    assert (DEVICE, "ABS_FOCUS_POSITION") in mount.client.removed
    mount.emulator.control("set focuser None")  # the focuser unplugged from the bus
    mount.client.connect_device(DEVICE)
    mount.client.wait_state(DEVICE, "MOUNT_INFO", "Ok")  # the whole bus scanned
    time.sleep(1.0)
    assert mount.values("DRIVER_INFO")["DRIVER_INTERFACE"] == "5"
    assert mount.client.get(DEVICE, "ABS_FOCUS_POSITION") is None
    assert "focuser" not in mount.values("MOUNT_INFO")["BUS_DEVICES"]
