"""Both drivers under one real indiserver, each connected to its emulator on a pty: what happens when indiserver dies,
when a client goes away in the middle of a move, and when two different clients work with the devices at once."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
from lxml import etree

from harness import Client, Emulator, IndiServer, wait_until

from indi_astrojolo.client import IndiClient
from indi_astrojolo.indi.xmlstream import serialize

ASTROLINK = "AstroLink 4 USB"
NEXSTAR = "NexStar AUX"
AZM, ALT = 16, 17


def children_of(pid: int) -> list[int]:
    """Pids of the processes whose parent is `pid`, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


class Observatory:
    """The two emulators, indiserver with both drivers, and a raw client that connected both devices."""

    def __init__(self, workdir: Path) -> None:
        self.focuser = Emulator("indi_astrojolo.astrolink4.emulator", link=workdir / "astrolink")
        # faster slews than a real mount's keep the test short (as in test_nexstar.py)
        self.mount = Emulator("indi_astrojolo.nexstar.emulator", "--goto-speeds", "8", "2", link=workdir / "aux")
        self.server = IndiServer(["indi_astrolink4_usb", "indi_nexstar_aux"], workdir).start()
        self.raw = IndiClient("127.0.0.1", self.server.port)
        self.raw.get_properties()
        for device, emulator in ((ASTROLINK, self.focuser), (NEXSTAR, self.mount)):
            self.raw.wait_prop(device, "DEVICE_PORT")
            self.raw.set_text(device, "DEVICE_PORT", {"PORT": emulator.address})
            self.raw.wait_state(device, "DEVICE_PORT", "Ok")
            self.raw.set_switch(device, "CONNECTION", ["CONNECT"])
            self.raw.wait(lambda d=device: (p := self.raw.prop(d, "CONNECTION")) and p.state == "Ok" and p.values["CONNECT"], 30)
        self.raw.wait_prop(ASTROLINK, "FOCUSER_SETTINGS")
        self.raw.set_number(ASTROLINK, "FOCUSER_SETTINGS", {"FS_SPEED": 2000, "FS_ACCELERATION": 8000})
        self.raw.wait_prop(NEXSTAR, "GEOGRAPHIC_COORD")
        self.raw.set_number(NEXSTAR, "GEOGRAPHIC_COORD", {"LAT": 50.0, "LONG": 20.0, "ELEV": 300})
        self.raw.set_text(NEXSTAR, "TIME_UTC", {"UTC": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "OFFSET": "0"})
        self.raw.set_number(NEXSTAR, "APPROACH", {"DISTANCE": 0.5})
        self.raw.wait(lambda: self.raw.prop(NEXSTAR, "APPROACH").state == "Ok", 10)

    def axis(self, device: int) -> float:
        value = float(self.mount.control(f"call axis_degrees {device}").removeprefix("VALUE "))
        return (value + 180) % 360 - 180 if device == ALT else value

    def focuser_position(self) -> float:
        return float(self.focuser.get("position"))

    def close(self) -> None:
        self.raw.close()
        self.server.stop()
        self.focuser.stop()
        self.mount.stop()


@pytest.fixture
def observatory(tmp_path):
    place = Observatory(tmp_path)
    yield place
    place.close()


def test_both_drivers_exit_when_indiserver_is_killed_in_the_middle_of_moves(observatory) -> None:
    server = observatory.server
    pids = wait_until(lambda: len(children_of(server.process.pid)) == 2 and children_of(server.process.pid), 5)
    raw = observatory.raw
    raw.set_switch(NEXSTAR, "ON_COORD_SET", ["SLEW"])
    raw.set_number(NEXSTAR, "HORIZONTAL_COORD", {"AZ": 120.0, "ALT": 60.0})
    raw.set_number(ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 24000})
    wait_until(lambda: observatory.axis(ALT) > 5 and observatory.focuser_position() > 500, 15, what="both moves to start")
    server.process.kill()
    server.process.wait(timeout=5)
    # a driver may take its shutdown's own time limits (requests in hand, then stopping the device) on a loaded machine
    wait_until(lambda: not any(running(pid) for pid in pids), 30, what="both drivers to exit after indiserver died")
    # the mount driver stopped the axes before letting go of the mount; they come to rest after the ramp down
    def at_rest() -> bool:
        before = (observatory.axis(AZM), observatory.axis(ALT))
        time.sleep(1.0)
        return (observatory.axis(AZM), observatory.axis(ALT)) == pytest.approx(before, abs=1e-6)

    wait_until(at_rest, 30, what="the axes to come to rest")  # not a fixed ramp-down time a loaded emulator may exceed
    assert observatory.axis(ALT) < 59.0  # stopped on the way, not carried on to the target


def test_a_client_that_disconnects_in_the_middle_of_moves_does_not_stop_them(observatory) -> None:
    ekos = Client(observatory.server.port)
    try:
        ekos.set_switch(NEXSTAR, "ON_COORD_SET", ["SLEW"])
        ekos.wait_state(NEXSTAR, "ON_COORD_SET", "Ok")
        ekos.set_number(ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 9000})
        ekos.set_number(NEXSTAR, "HORIZONTAL_COORD", {"AZ": 70.0, "ALT": 35.0})
        ekos.wait_state(NEXSTAR, "HORIZONTAL_COORD", "Busy")
        ekos.wait_state(ASTROLINK, "ABS_FOCUS_POSITION", "Busy")
        assert observatory.focuser_position() < 9000
    finally:
        ekos.close()  # gone in the middle of both moves
    # a second client sees both moves end where they were sent, and so does the hardware
    observer = observatory.raw

    def finished(device: str, name: str, arrived: bool) -> bool:
        prop = observer.prop(device, name)
        return prop.state == "Alert" or (arrived and prop.state in ("Ok", "Idle"))

    observer.wait(lambda: finished(ASTROLINK, "ABS_FOCUS_POSITION", observatory.focuser_position() == 9000), 30)
    focuser = observer.prop(ASTROLINK, "ABS_FOCUS_POSITION")
    assert (focuser.state, focuser.values["FOCUS_ABSOLUTE_POSITION"]) == ("Ok", 9000)
    arrived = lambda: abs(observatory.axis(AZM) - 70.0) < 0.01 and abs(observatory.axis(ALT) - 35.0) < 0.01  # noqa: E731
    observer.wait(lambda: finished(NEXSTAR, "HORIZONTAL_COORD", arrived()), 60)
    assert observer.prop(NEXSTAR, "HORIZONTAL_COORD").state == "Idle"


def snapshot_pyindi(client: Client, device: str) -> dict[str, tuple[str, dict]]:
    with client._cond:
        return {name: (s.state, dict(s.values)) for (d, name), s in client.properties.items() if d == device}


def snapshot_raw(client: IndiClient, device: str) -> dict[str, tuple[str, dict]]:
    return {name: (p.state, dict(p.values)) for (d, name), p in client.properties.items() if d == device and p.kind != "BLOB"}


def differences(ekos: Client, ccdciel: IndiClient, device: str, names: list[str] | None = None) -> list[str]:
    ccdciel.pump(0.05)
    a, b = snapshot_pyindi(ekos, device), snapshot_raw(ccdciel, device)
    names = names if names is not None else sorted(set(a) | set(b))
    out = []
    for name in names:
        left, right = a.get(name), b.get(name)
        if left is None or right is None or left[0] != right[0] or not same_values(left[1], right[1]):
            out.append(f"{device}.{name}: Ekos-style {left} / CCDciel-style {right}")
    return out


def same_values(left: dict, right: dict) -> bool:
    if left.keys() != right.keys():
        return False
    for key, value in left.items():
        other = right[key]
        if isinstance(value, float) and isinstance(other, float):
            if not (value == other or (math.isnan(value) and math.isnan(other))):
                return False
        elif value != other:
            return False
    return True


def agree(ekos: Client, ccdciel: IndiClient, device: str, names: list[str] | None = None, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        problems = differences(ekos, ccdciel, device, names)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the two clients disagree:\n" + "\n".join(problems[:10]))
        time.sleep(0.05)


def settle(ekos: Client, device: str, name: str, mark: int) -> None:
    ekos.wait_for(lambda: any(s.state != "Busy" for s in ekos.updates_since(device, name, mark)), 30, f"{name} to settle")


def test_two_different_clients_see_the_same_states_and_values(observatory) -> None:
    ekos = Client(observatory.server.port)  # pyindi-client, every device, as Ekos connects
    ccdciel = IndiClient("127.0.0.1", observatory.server.port)  # a raw client, per device, BLOBs off, as CCDciel
    try:
        for device in (ASTROLINK, NEXSTAR):
            ccdciel.get_properties(device)
            blobs = etree.Element("enableBLOB", {"device": device})
            blobs.text = "Never"
            ccdciel.send_raw(serialize(blobs))
            ccdciel.wait_prop(device, "CONNECTION")
            ekos.wait_property(device, "CONNECTION")
            # no polls from here on: only the changes below (and the moves they start) alter anything
            if device == ASTROLINK:  # its session log samples twice a second whatever POLLING_PERIOD says
                ekos.set_switch(device, "DATA_LOG", ["INDI_DISABLED"])
                ekos.wait_for(lambda: ekos.get(ASTROLINK, "DATA_LOG").values["INDI_DISABLED"], 10)
            ekos.set_number(device, "POLLING_PERIOD", {"PERIOD_MS": 600000})
            ekos.wait_for(lambda d=device: ekos.get(d, "POLLING_PERIOD").values["PERIOD_MS"] == 600000, 10)
        steps = [
            (ekos, "switch", ASTROLINK, "POWER_CHANNELS", {"POWER_CHANNEL_1": True, "POWER_CHANNEL_2": False}),
            (ccdciel, "number", ASTROLINK, "DEW_DUTY_CYCLES", {"DEW_CHANNEL_1": 40, "DEW_CHANNEL_2": 70}),
            (ekos, "number", ASTROLINK, "FOCUS_MAX", {"FOCUS_MAX_VALUE": 20000}),
            (ccdciel, "number", ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 3000}),
            (ekos, "switch", ASTROLINK, "FOCUS_REVERSE_MOTION", {"INDI_ENABLED": True, "INDI_DISABLED": False}),
            (ccdciel, "text", ASTROLINK, "POWER_LABELS", {"POWER_LABEL_1": "Camera"}),
            (ekos, "number", ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 1000}),
            (ccdciel, "number", ASTROLINK, "FOCUS_MAX", {"FOCUS_MAX_VALUE": 500}),  # refused: below the position
            (ekos, "switch", NEXSTAR, "TELESCOPE_SLEW_RATE", {"7x": True}),
            (ccdciel, "number", NEXSTAR, "ALTITUDE_LIMITS", {"MIN_ALT": 5, "MAX_ALT": 85}),
            (ekos, "switch", NEXSTAR, "TELESCOPE_TRACK_MODE", {"TRACK_LUNAR": True}),
            (ccdciel, "number", NEXSTAR, "HORIZONTAL_COORD", {"AZ": 200, "ALT": -10}),  # refused: below the limit
            (ekos, "number", NEXSTAR, "GUIDE_RATE", {"GUIDE_RATE_WE": 0.3, "GUIDE_RATE_NS": 0.7}),
        ]
        for client, kind, device, name, values in steps:
            mark = ekos.mark(device, name)
            if client is ekos:
                getattr(ekos, f"set_{kind}")(device, name, values)
            elif kind == "switch":
                ccdciel.set_switch(device, name, [m for m, on in values.items() if on], [m for m, on in values.items() if not on])
            else:
                getattr(ccdciel, f"set_{kind}")(device, name, values)
            settle(ekos, device, name, mark)
            agree(ekos, ccdciel, device, [name])
        assert ekos.get(ASTROLINK, "FOCUS_MAX").state == "Alert"
        assert ekos.get(NEXSTAR, "HORIZONTAL_COORD").state == "Alert"
        for device in (ASTROLINK, NEXSTAR):
            agree(ekos, ccdciel, device)
    finally:
        ccdciel.close()
        ekos.close()
