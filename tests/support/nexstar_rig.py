"""A NexStar AUX mount for integration tests: the emulator program (pty or TCP), indiserver running the driver, and a
pyindi-client, with helpers to steer the mount and to read the emulator's true axes and the commands it received."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from harness import Emulator, literal

DEVICE = "NexStar AUX"
EMULATOR = "indi_astrojolo.nexstar.emulator"
AZM, ALT = 16, 17
# Faster slews than a real mount's 2.8 and 0.5 °/s keep the tests short; the physics at real speeds is checked on
# trio's fake clock (test_tracking.py, bench_nexstar.py).
TEST_GOTO_SPEEDS = ("8", "2")


class Mount:
    def __init__(self, emulator, server, client) -> None:
        self.emulator, self.server, self.client = emulator, server, client
        self.clock_to_unix: float | None = None

    def prop(self, name: str):
        return self.client.wait_property(DEVICE, name)

    def values(self, name: str) -> dict:
        return self.prop(name).values

    def settle(self, name: str, values, kind: str = "Number", states=("Ok", "Alert", "Idle"), timeout: float = 120.0):
        """Set a property and wait for the driver's answer (the property's definition does not count as one)."""
        self.prop(name)
        mark = self.client.mark(DEVICE, name)
        getattr(self.client, f"set_{kind.lower()}")(DEVICE, name, values)

        def settled():
            for snapshot in self.client.updates_since(DEVICE, name, mark):
                if snapshot.state in states:
                    return snapshot
            return None

        return self.client.wait_for(settled, timeout, f"{name} to settle")

    def axis(self, device: int) -> float:
        value = float(self.emulator.control(f"call axis_degrees {device}").removeprefix("VALUE "))
        return (value + 180) % 360 - 180 if device == ALT else value

    def true_axes(self) -> tuple[float, float, float]:
        """The emulator's true AZM angle (0…360), ALT angle (signed) and the Unix time they are of.

        The time is the emulator's own clock, read with the angles, put on the Unix scale once: differences between
        readings are exact however late the control channel answers."""
        before = time.time()
        answer = self.emulator.control("call true_axes").removeprefix("VALUE ")
        clock, azm, alt = literal(answer)
        if self.clock_to_unix is None:
            self.clock_to_unix = (before + time.time()) / 2 - clock
        return azm, alt, clock + self.clock_to_unix

    def horizontal_now(self) -> dict:
        return self.values("HORIZONTAL_COORD")

    def _goto(self, name: str, values: dict, track: bool, timeout: float):
        self.settle("ON_COORD_SET", ["TRACK" if track else "SLEW"], kind="Switch")
        mark = self.client.mark(DEVICE, "EQUATORIAL_EOD_COORD")
        self.client.set_number(DEVICE, name, values)

        def done():
            updates = self.client.updates_since(DEVICE, "EQUATORIAL_EOD_COORD", mark)
            busy = [i for i, s in enumerate(updates) if s.state == "Busy"]
            if busy and any(s.state in ("Ok", "Idle", "Alert") for s in updates[busy[0]:]):
                return updates[-1]
            return None

        return self.client.wait_for(done, timeout, "the goto to finish")

    def goto_horizontal(self, az: float, alt: float, track: bool = True, timeout: float = 180):
        return self._goto("HORIZONTAL_COORD", {"AZ": az, "ALT": alt}, track, timeout)

    def goto_sky(self, ra: float, dec: float, track: bool = True, timeout: float = 180):
        return self._goto("EQUATORIAL_EOD_COORD", {"RA": ra, "DEC": dec}, track, timeout)

    def received_mark(self) -> int:
        return self.emulator.get_length("received")

    def received_since(self, mark: int = 0) -> list[str]:
        """The packets the emulated bus received, one "COMMAND dst data" line each, from a mark on."""
        answer = self.emulator.control("call received_summary").removeprefix("VALUE ")
        return literal(answer).splitlines()[mark:]

    def fresh(self, name: str, timeout: float = 10.0):
        """The next update of a property (so a value read reflects the mount after this moment)."""
        mark = self.client.mark(DEVICE, name)
        return self.client.wait_for(lambda: self.client.updates_since(DEVICE, name, mark)[-1:], timeout, f"an update of {name}")[0]

    def guide(self, name: str, values: dict, timeout: float = 20.0) -> list[str]:
        """One timed guide pulse, waited for until the property is Idle again; returns the states it went through."""
        mark = self.client.mark(DEVICE, name)
        self.client.set_number(DEVICE, name, values)
        self.client.wait_for(
            lambda: any(s.state in ("Idle", "Alert") for s in self.client.updates_since(DEVICE, name, mark)), timeout, f"{name} to end"
        )
        return [s.state for s in self.client.updates_since(DEVICE, name, mark)]


def start_mount(
    server_factory: Callable,
    client_factory: Callable,
    link: Path | None,
    *args: str,
    tcp: bool = False,
    workdir: Path | None = None,
    geometry: str = "ALTAZ",
    site: tuple[float, float] | None = (50.0, 20.0),
    on_emulator: Callable[[Emulator], None] | None = None,
    send_time: bool = True,
) -> Mount:
    """Emulator, indiserver and client, connected. `site` (latitude, east longitude) is sent after connecting, with
    the system's time (unless not `send_time`), as Ekos does; None leaves the site to the driver (a GPS on the bus, a
    saved config)."""
    emulator = Emulator(EMULATOR, "--goto-speeds", *TEST_GOTO_SPEEDS, *args, tcp=tcp, link=None if tcp else link)
    try:
        if on_emulator is not None:
            on_emulator(emulator)
        server = server_factory("indi_nexstar_aux", workdir=workdir)
        client = client_factory(server)
        if tcp:
            client.set_switch(DEVICE, "CONNECTION_MODE", ["CONNECTION_TCP"])
            client.set_text(DEVICE, "DEVICE_ADDRESS", {"ADDRESS": "127.0.0.1", "PORT": str(emulator.tcp_port)})
            client.wait_state(DEVICE, "DEVICE_ADDRESS", "Ok")
        else:
            client.set_text(DEVICE, "DEVICE_PORT", {"PORT": emulator.address})
            client.wait_state(DEVICE, "DEVICE_PORT", "Ok")
        if "--passthrough" in args:
            client.set_switch(DEVICE, "PORT_TYPE", ["PORT_HC_USB"])
            client.wait_state(DEVICE, "PORT_TYPE", "Ok")
        if geometry != "ALTAZ":
            client.set_switch(DEVICE, "MOUNT_GEOMETRY", [geometry])
            client.wait_state(DEVICE, "MOUNT_GEOMETRY", "Ok")
        client.connect_device(DEVICE, timeout=30)
    except BaseException:
        emulator.stop()
        raise
    mount = Mount(emulator, server, client)
    if site is not None:
        latitude, longitude = site
        mount.settle("GEOGRAPHIC_COORD", {"LAT": latitude, "LONG": longitude % 360, "ELEV": 300})
    if send_time:
        mount.settle("TIME_UTC", {"UTC": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "OFFSET": "1"}, kind="Text")
    mount.settle("APPROACH", {"DISTANCE": 0.5})
    return mount
