"""Rigs for the client-input campaigns: one driver under a real indiserver, its emulator on a pty, and a raw INDI
client that keeps every message it receives in arrival order, so a check can look at exactly what came back after a
request. pyindi-client cannot send malformed or partial requests; this client sends whatever bytes it is given.

Used by client_fuzz.py and limits.py (and through them by tests/integration/test_reliability_input.py).
"""

from __future__ import annotations

import base64
import datetime
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from harness import Emulator, IndiServer, literal, wait_until  # noqa: E402

from indi_astrojolo.client import IndiClient  # noqa: E402
from indi_astrojolo.indi.xmlstream import OtherMessage  # noqa: E402

ASTROLINK = "AstroLink 4 USB"
NEXSTAR = "NexStar AUX"
AZM, ALT = 16, 17
REPLY_TIMEOUT = 10.0  # seconds a refusal may take on a loaded 2-core machine (it normally takes a few ms)


@dataclass
class Member:
    name: str
    minimum: float = 0.0
    maximum: float = 0.0
    step: float = 0.0
    format: str = ""


@dataclass
class Definition:
    """A property as its def*Vector described it."""

    name: str
    kind: str
    perm: str
    rule: str
    members: dict[str, Member]

    @property
    def writable(self) -> bool:
        return self.kind != "Light" and self.perm in ("rw", "wo")


@dataclass
class Event:
    """One message from the server: a def/set/del, or a message, with its vector attributes."""

    tag: str
    device: str
    name: str | None
    state: str | None
    message: str | None
    values: dict[str, str] = field(default_factory=dict)


class RecordingClient(IndiClient):
    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port, timeout=REPLY_TIMEOUT)
        self.events: list[Event] = []
        self.definitions: dict[tuple[str, str], Definition] = {}

    def pump(self, seconds: float = 0.05) -> None:
        """Like IndiClient.pump, but returns as soon as something arrived (waits then cost a round trip, not 50 ms)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return
        if not data:
            raise ConnectionError("the server closed the connection")
        for message in self.stream.feed(data):
            if isinstance(message, OtherMessage):
                self._apply(message)

    def _apply(self, message: OtherMessage) -> None:
        super()._apply(message)
        tag, attrib = message.tag, message.attrib
        element: Any = message.element
        device, name = attrib.get("device", ""), attrib.get("name")
        values = {child.get("name"): (child.text or "").strip() for child in element}
        self.events.append(Event(tag, device, name, attrib.get("state"), attrib.get("message"), values))
        if tag.startswith("def") and tag.endswith("Vector") and name is not None:
            members = {}
            for child in element:
                member = Member(child.get("name"))
                if tag == "defNumberVector":
                    member.minimum = float(child.get("min", "0"))
                    member.maximum = float(child.get("max", "0"))
                    member.step = float(child.get("step", "0"))
                    member.format = child.get("format", "")
                members[member.name] = member
            kind = tag[3:-6]
            self.definitions[(device, name)] = Definition(name, kind, attrib.get("perm", "ro"), attrib.get("rule", ""), members)
        elif tag == "setNumberVector" and (device, name) in self.definitions:
            members = self.definitions[(device, name)].members
            for child in element:  # a set* carries min/max when the driver changed a member's range
                member = members.get(child.get("name"))
                if member is not None and child.get("min") is not None and child.get("max") is not None:
                    member.minimum, member.maximum = float(child.get("min")), float(child.get("max"))
        elif tag == "delProperty":
            for key in [k for k in self.definitions if k[0] == device and (name is None or k[1] == name)]:
                del self.definitions[key]


def vector_xml(kind: str, device: str | None, name: str | None, members: list[tuple[str | None, str]]) -> bytes:
    """A new*Vector with exactly these members (None: a member without a name attribute), escaped properly.

    BLOB members get the size and format attributes: indiserver disconnects a client that leaves size out."""
    attrs = "" if device is None else f" device={quoteattr(device)}"
    attrs += "" if name is None else f" name={quoteattr(name)}"

    def blob_attrs(text: str) -> str:
        try:
            size = len(base64.b64decode(text, validate=True))
        except ValueError:
            size = len(text)
        return f' size="{size}" format=".bin"' if kind == "BLOB" else ""

    body = "".join(
        f"<one{kind}{'' if member is None else ' name=' + quoteattr(member)}{blob_attrs(text)}>{escape(text)}</one{kind}>"
        for member, text in members
    )
    return f"<new{kind}Vector{attrs}>{body}</new{kind}Vector>\n".encode()


def process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Rig:
    """A driver under indiserver, connected to its emulator; a raw client watching the device."""

    device = ""
    driver = ""
    emulator_module = ""
    emulator_args: tuple[str, ...] = ()

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.emulator: Emulator | None = None
        self.server: IndiServer | None = None
        self.client: RecordingClient | None = None
        self.pid = 0
        self._log_offset = 0

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> "Rig":
        self.emulator = Emulator(self.emulator_module, *self.emulator_args, link=self.workdir / "device-link")
        self.server = IndiServer([self.driver], self.workdir).start()
        self.client = RecordingClient(self.server.port)
        self.client.get_properties(self.device)
        self.client.wait_prop(self.device, "DEVICE_PORT", timeout=REPLY_TIMEOUT)
        self.request("Text", "DEVICE_PORT", [("PORT", self.emulator.address)], states=("Ok",))
        self.request("Switch", "CONNECTION", [("CONNECT", "On")], states=("Ok", "Alert"), timeout=60)
        connection = self.client.prop(self.device, "CONNECTION")
        if connection is None or not connection.values.get("CONNECT") or connection.state != "Ok":
            raise RuntimeError(f"{self.device} did not connect: {self.client.messages[-3:]}")
        self.barrier()  # the connect handler has finished: every connected property is defined
        pids = wait_until(lambda: self.server.driver_pids(), 5, what="the driver's pid")
        self.pid = pids[0]
        self.after_connect()
        return self

    def after_connect(self) -> None:
        """Device-specific set-up once connected."""

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
        if self.emulator is not None:
            self.emulator.stop()
            try:
                os.unlink(self.emulator.stderr.name)
            except OSError:
                pass

    def __enter__(self) -> "Rig":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- talking to the driver -------------------------------------------------------------------------------

    def mark(self) -> int:
        assert self.client is not None
        return len(self.client.events)

    def events_since(self, mark: int) -> list[Event]:
        assert self.client is not None
        return self.client.events[mark:]

    def wait_event(self, predicate: Callable[[Event], bool], mark: int, timeout: float = REPLY_TIMEOUT) -> Event:
        assert self.client is not None
        client = self.client

        def found() -> Event | None:
            return next((e for e in client.events[mark:] if predicate(e)), None)

        return client.wait(found, timeout, "an answer from the driver")

    def send(self, data: bytes) -> None:
        assert self.client is not None
        self.client.send_raw(data)

    def send_on_own_connection(self, data: bytes) -> None:
        """Send bytes on a connection of their own and wait until indiserver has read all of them (it closes the
        connection once it reads our end of input), so what it forwards is queued before anything sent later."""
        assert self.server is not None
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=REPLY_TIMEOUT) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
            except OSError:
                pass  # indiserver may drop a client that sends junk; either way it has read what it will read

    def is_set(self, event: Event, name: str) -> bool:
        return event.device == self.device and event.name == name and event.tag.startswith("set")

    def request(
        self,
        kind: str,
        name: str,
        members: list[tuple[str | None, str]],
        *,
        states: tuple[str, ...] = ("Ok", "Idle", "Alert", "Busy"),
        timeout: float = REPLY_TIMEOUT,
    ) -> Event:
        """Send a request and wait for the first update of its property in one of `states`."""
        mark = self.mark()
        self.send(vector_xml(kind, self.device, name, members))
        return self.wait_event(lambda e: self.is_set(e, name) and e.state in states, mark, timeout)

    def barrier(self, avoid: str | None = None) -> None:
        """Wait until the driver has handled every request sent before: a request it answers at once goes through
        the same queue (getProperties is answered by the reader, ahead of queued requests). The request sets a
        property to the value it has; `avoid` names a property whose updates the caller is watching."""
        if avoid != "POLLING_PERIOD":
            period = self.current("POLLING_PERIOD").get("PERIOD_MS", 1000.0)
            self.request("Number", "POLLING_PERIOD", [("PERIOD_MS", repr(float(period)))])
        else:
            debug = "ENABLE" if self.current("DEBUG").get("ENABLE") else "DISABLE"
            self.request("Switch", "DEBUG", [(debug, "On")])

    def current(self, name: str) -> dict[str, Any]:
        assert self.client is not None
        prop = self.client.prop(self.device, name)
        return dict(prop.values) if prop is not None else {}

    def current_state(self, name: str) -> str | None:
        assert self.client is not None
        prop = self.client.prop(self.device, name)
        return prop.state if prop is not None else None

    def definitions(self) -> list[Definition]:
        assert self.client is not None
        return [d for (device, _), d in self.client.definitions.items() if device == self.device]

    def alive(self) -> str | None:
        """None when the driver process runs and answers getProperties, else what is wrong."""
        if not process_running(self.pid):
            return f"the driver process {self.pid} is gone"
        mark = self.mark()
        self.send(f'<getProperties version="1.7" device={quoteattr(self.device)} name="CONNECTION"/>\n'.encode())
        try:
            self.wait_event(lambda e: e.tag == "defSwitchVector" and e.name == "CONNECTION", mark)
        except TimeoutError:
            return "no answer to getProperties"
        return None

    def driver_log_since_mark(self) -> str:
        """The driver's stderr lines indiserver logged since the last call."""
        assert self.server is not None
        try:
            with open(self.server.log_path, "rb") as handle:
                handle.seek(self._log_offset)
                data = handle.read()
        except FileNotFoundError:
            return ""
        self._log_offset += len(data)
        return data.decode("utf-8", "replace")

    # --- the emulated device ---------------------------------------------------------------------------------

    def clear_device_log(self) -> None:
        raise NotImplementedError

    def device_writes(self) -> list[str]:
        """Commands that change the device, received since clear_device_log()."""
        raise NotImplementedError

    def device_state(self) -> dict[str, str]:
        """The emulated device's settings and motion state, for before/after comparisons."""
        raise NotImplementedError

    def device_changes(self, before: dict[str, str], after: dict[str, str]) -> list[str]:
        """What differs between two device states (none of it explained by the device acting on its own)."""
        return [f"{name}: {before.get(name)} -> {after.get(name)}" for name in after if before.get(name) != after[name]]

    def quiesce(self) -> None:
        """Stop everything a valid request may have started (moves, driver-side control loops)."""
        raise NotImplementedError

    def settle(self, timeout: float = 120.0) -> None:
        """After a quiesce that did not stop the device: wait until it stops by itself, so later checks start clean."""
        before = self.device_state()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.device_state()
            if now == before:
                return
            before = now


class AstroLinkRig(Rig):
    device = ASTROLINK
    driver = "indi_astrolink4_usb"
    emulator_module = "indi_astrojolo.astrolink4.emulator"
    STATE_FIELDS = ("u", "e", "n", "z", "buzzer", "hand_controller", "outputs", "pwm_setting", "target", "protection")

    def clear_device_log(self) -> None:
        assert self.emulator is not None
        self.emulator.control("set commands []")

    def device_writes(self) -> list[str]:
        assert self.emulator is not None
        # reads are lower-case letters (and '#'); every command that changes something is upper-case
        return [c for c in self.emulator.get("commands") if c[:1].isupper()]

    def device_state(self) -> dict[str, str]:
        assert self.emulator is not None
        return {name: self.emulator.control(f"get {name}") for name in self.STATE_FIELDS}

    def device_changes(self, before: dict[str, str], after: dict[str, str]) -> list[str]:
        changes = super().device_changes(before, after)
        # A protection trip switches the outputs off by itself (no command: device_writes sees none). The fields are
        # read one after another while the driver polls, so a trip can land between reading the outputs and
        # reading the flag: the flag set afterwards is enough to explain outputs gone off.
        if before["protection"] != after["protection"] or after["protection"] != "VALUE None":
            changes = [c for c in changes if not c.startswith(("outputs:", "pwm_setting:", "protection:"))]
        return changes

    def position(self) -> float:
        assert self.emulator is not None
        return float(self.emulator.get("position"))

    def quiesce(self) -> None:
        assert self.emulator is not None
        self.request("Switch", "FOCUS_ABORT_MOTION", [("ABORT", "On")])
        for name in ("DEW_MODE_1", "DEW_MODE_2"):
            if not self.current(name).get("DEW_MANUAL", True):
                self.request("Switch", name, [("DEW_MANUAL", "On")])
        if self.current("COMP_MODE").get("FS_COMP_AUTO"):
            self.request("Switch", "COMP_MODE", [("FS_COMP_MANUAL", "On")])
        emulator = self.emulator
        wait_until(lambda: emulator.get("velocity") == 0.0, 10, what="the focuser to stop")
        self.barrier()  # the updates that followed the abort have arrived


NEXSTAR_QUERIES = frozenset(
    ["GET_POSITION", "GET_MODEL", "LEVEL_DONE", "SLEW_DONE", "AT_INDEX", "GET_MAXRATE", "MAXRATE_ENABLED",
     "AUX_GUIDE_ACTIVE", "POLL_CORDWRAP", "GET_CORDWRAP_POS", "GET_POS_BACKLASH", "GET_NEG_BACKLASH",
     "GET_AUTOGUIDE_RATE", "GET_APPROACH", "GET_VERSION"]
)  # fmt: skip


class NexStarRig(Rig):
    device = NEXSTAR
    driver = "indi_nexstar_aux"
    emulator_module = "indi_astrojolo.nexstar.emulator"
    # Faster slews than a real mount's 2.8 and 0.5 °/s keep the campaigns short (as in tests/integration).
    emulator_args = ("--goto-speeds", "8", "2")

    def __init__(self, workdir: Path, latitude: float = 50.0) -> None:
        super().__init__(workdir)
        self.latitude = latitude

    def after_connect(self) -> None:
        self.request("Number", "GEOGRAPHIC_COORD", [("LAT", str(self.latitude)), ("LONG", "20"), ("ELEV", "300")])
        utc = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        self.request("Text", "TIME_UTC", [("UTC", utc), ("OFFSET", "0")])
        self.request("Number", "APPROACH", [("DISTANCE", "0.5")])

    def clear_device_log(self) -> None:
        assert self.emulator is not None
        self.emulator.control("set received []")

    def device_writes(self) -> list[str]:
        assert self.emulator is not None
        summary = self.emulator.control("call received_summary")
        lines = literal(summary.removeprefix("VALUE ")).splitlines()
        motors = (f"{AZM:02x}", f"{ALT:02x}")
        return [line for line in lines if line.split()[0] not in NEXSTAR_QUERIES and line.split()[1] in motors]

    def device_state(self) -> dict[str, str]:
        assert self.emulator is not None
        return {"axes": self.emulator.control("get axes")}

    def axis(self, device: int) -> float:
        """The true axis angle in degrees: azimuth 0 … 360, altitude -180 … 180."""
        assert self.emulator is not None
        value = float(self.emulator.control(f"call axis_degrees {device}").removeprefix("VALUE "))
        return (value + 180) % 360 - 180 if device == ALT else value

    def at_rest(self) -> bool:
        before = self.device_state()
        time.sleep(0.05)
        return self.device_state() == before

    def quiesce(self) -> None:
        self.request("Switch", "TELESCOPE_ABORT_MOTION", [("ABORT", "On")])
        wait_until(self.at_rest, 15, what="the mount to stop")
        self.barrier()  # the updates that followed the abort have arrived
