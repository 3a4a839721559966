"""A remote observatory: the drivers run under an indiserver at the telescope (inner), and a second indiserver (outer,
where the user's client computer would be) chains both devices from it. The drivers talk to the emulators on ptys;
pyindi-client works through the outer server only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import Client, Emulator, IndiServer

ASTROLINK, NEXSTAR = "AstroLink 4 USB", "NexStar AUX"


@dataclass
class Observatory:
    focuser_emulator: Emulator
    mount_emulator: Emulator
    inner: IndiServer
    outer: IndiServer


@pytest.fixture
def observatory(tmp_path: Path):
    # Faster slews than a real mount's keep the goto short, as in test_nexstar.py.
    with Emulator("indi_astrojolo.astrolink4.emulator", link=tmp_path / "al4") as focuser, Emulator(
        "indi_astrojolo.nexstar.emulator", "--goto-speeds", "8", "2", link=tmp_path / "aux"
    ) as mount:
        with IndiServer(["indi_astrolink4_usb", "indi_nexstar_aux"], tmp_path / "inner") as inner:
            remote = [f"{device}@127.0.0.1:{inner.port}" for device in (ASTROLINK, NEXSTAR)]
            with IndiServer(remote, tmp_path / "outer") as outer:
                yield Observatory(focuser, mount, inner, outer)


def connect_both(client: Client, observatory: Observatory) -> None:
    for device, emulator in ((ASTROLINK, observatory.focuser_emulator), (NEXSTAR, observatory.mount_emulator)):
        client.set_text(device, "DEVICE_PORT", {"PORT": emulator.address})
        client.wait_state(device, "DEVICE_PORT", "Ok")
        client.connect_device(device, timeout=30)
    client.wait_property(ASTROLINK, "ALERTS")  # the last property the AstroLink defines on connect
    settle(client, NEXSTAR, "GEOGRAPHIC_COORD", {"LAT": 50.0, "LONG": 20.0, "ELEV": 300})
    utc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    settle(client, NEXSTAR, "TIME_UTC", {"UTC": utc, "OFFSET": "0"}, kind="Text")


def settle(client: Client, device: str, name: str, values, kind: str = "Number", timeout: float = 30.0):
    """Send a request and wait for the first reply to it that is no longer Busy."""
    mark = client.mark(device, name)
    getattr(client, f"set_{kind.lower()}")(device, name, values)

    def settled():
        return next((s for s in client.updates_since(device, name, mark) if s.state != "Busy"), None)

    return client.wait_for(settled, timeout, f"{device}.{name} to settle")


def move_focuser(client: Client, target: int):
    return settle(client, ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target})


def test_a_client_of_the_outer_server_drives_both_devices(observatory: Observatory) -> None:
    with Client(observatory.outer.port) as client:
        connect_both(client, observatory)
        assert client.get(ASTROLINK, "DRIVER_INFO").values["DRIVER_INTERFACE"] == "295048"
        assert client.get(NEXSTAR, "DRIVER_INFO").values["DRIVER_INTERFACE"] == "5"

        mark = client.mark(ASTROLINK, "ABS_FOCUS_POSITION")
        final = move_focuser(client, 1200)
        assert final.state == "Ok" and final.values["FOCUS_ABSOLUTE_POSITION"] == 1200
        assert any(s.state == "Busy" for s in client.updates_since(ASTROLINK, "ABS_FOCUS_POSITION", mark))
        assert observatory.focuser_emulator.get("position") == 1200

        outputs = settle(client, ASTROLINK, "POWER_CHANNELS", {"POWER_CHANNEL_3": True}, kind="Switch")
        assert outputs.state == "Ok"
        assert observatory.focuser_emulator.get("outputs")[2] is True

        settle(client, NEXSTAR, "APPROACH", {"DISTANCE": 0.5})  # a short slow leg, as in test_nexstar.py
        settle(client, NEXSTAR, "ON_COORD_SET", ["TRACK"], kind="Switch")
        mark = client.mark(NEXSTAR, "EQUATORIAL_EOD_COORD")
        client.set_number(NEXSTAR, "HORIZONTAL_COORD", {"AZ": 25.0, "ALT": 20.0})

        def goto_done():
            states = [s.state for s in client.updates_since(NEXSTAR, "EQUATORIAL_EOD_COORD", mark)]
            return "Busy" in states and states[-1] != "Busy" and states[-1]

        assert client.wait_for(goto_done, 120, "the goto to finish") == "Ok"
        assert client.get(NEXSTAR, "TELESCOPE_TRACK_STATE").values["TRACK_ON"] is True


def test_the_drivers_keep_running_when_the_outer_server_restarts(observatory: Observatory) -> None:
    inner, outer = observatory.inner, observatory.outer
    with Client(outer.port) as client:
        connect_both(client, observatory)
        assert move_focuser(client, 700).state == "Ok"
    drivers = sorted(inner.driver_pids())
    assert len(drivers) == 2

    outer.stop()
    # meanwhile the drivers go on, as a client of the inner server sees
    assert inner.getprop(f"{ASTROLINK}.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION") == {
        f"{ASTROLINK}.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION": "700"
    }
    outer.start()  # same port, as after a reboot of the client computer or a restart of its server

    with Client(outer.port) as client:
        for device in (ASTROLINK, NEXSTAR):
            connection = client.wait_property(device, "CONNECTION")
            assert connection.state == "Ok" and connection.values["CONNECT"] is True, f"{device} still connected"
        position = client.wait_property(ASTROLINK, "ABS_FOCUS_POSITION")
        assert position.values["FOCUS_ABSOLUTE_POSITION"] == 700
        assert client.wait_property(NEXSTAR, "EQUATORIAL_EOD_COORD").state in ("Ok", "Idle")
        # both still answer requests, through the new connection between the servers
        assert move_focuser(client, 900).state == "Ok"
        assert observatory.focuser_emulator.get("position") == 900
        abort = settle(client, NEXSTAR, "TELESCOPE_ABORT_MOTION", ["ABORT"], kind="Switch")
        assert abort.state in ("Ok", "Idle")
    assert sorted(inner.driver_pids()) == drivers, "the drivers under the inner server were restarted"
    assert "restart" not in inner.log()
