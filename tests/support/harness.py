"""Real parts for integration tests: an indiserver of our own, emulators on ptys or 127.0.0.1, and pyindi-client.

Each IndiServer gets its own TCP port and its own -u socket (two servers on one machine otherwise collide), its own
HOME (so config files never touch the user's), and stops its drivers when it stops.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
OUR_DRIVERS = ("indi_astrolink4_usb", "indi_nexstar_aux")


_LITERAL_LOCK = threading.Lock()


def literal(text: str) -> Any:
    """ast.literal_eval, one thread at a time. CPython 3.11's AST builder keeps its recursion depth in shared state
    (python/cpython issue 106905): threads parsing at once can fail with "SystemError: AST constructor recursion
    depth mismatch", as the soak test did on 3.11.7 (its rigs ask their emulators from several threads)."""
    with _LITERAL_LOCK:
        return ast.literal_eval(text)


def executable(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed (run the README's setup)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(interval)


class IndiServer:
    def __init__(self, drivers: list[str], workdir: Path, *, env: dict[str, str] | None = None, extra_args: list[str] | None = None):
        self.port = free_port()
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_path = str(workdir / f"indiserver-{self.port}.sock")
        self.log_path = workdir / f"indiserver-{self.port}.log"
        self.env = dict(os.environ)
        self.env["HOME"] = str(self.home)
        self.env["PATH"] = f"{VENV_BIN}:{self.env.get('PATH', '')}"
        self.env.pop("INDICONFIG", None)
        self.env.pop("INDIDEV", None)
        if env:
            self.env.update(env)
        self.drivers = [executable(d) if "/" not in d and "@" not in d else d for d in drivers]
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "IndiServer":
        """Start the server; after stop(), start again on the same port (a restart), its log continuing."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            ["indiserver", "-v", "-r", "0", "-p", str(self.port), "-u", self.socket_path, *self.extra_args, *self.drivers],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.workdir,
        )
        log.close()
        wait_until(self._accepts, timeout=10, what=f"indiserver on port {self.port}")
        return self

    def _accepts(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"indiserver exited: {self.log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def driver_pids(self) -> list[int]:
        """Pids of the drivers indiserver started (its children)."""
        if self.process is None:
            return []
        try:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        except FileNotFoundError:
            return []
        return [int(x) for x in out.stdout.split()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def getprop(self, query: str, timeout: int = 2) -> dict[str, str]:
        """indi_getprop for one or more properties: {'Device.PROP.ELEM': value}."""
        out = subprocess.run(
            ["indi_getprop", "-h", "127.0.0.1", "-p", str(self.port), "-t", str(timeout), query],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
        )
        values = {}
        for line in out.stdout.splitlines():
            key, _, value = line.partition("=")
            values[key] = value
        return values

    def getprop_when_defined(self, query: str, timeout: float = 60.0) -> dict[str, str]:
        """indi_getprop for a fully named property, asked again until a driver that may still be starting (a few
        seconds on a loaded machine) has defined it."""
        return wait_until(lambda: self.getprop(query), timeout, interval=0.1, what=f"{query} to be defined")

    def setprop(self, assignment: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["indi_setprop", "-h", "127.0.0.1", "-p", str(self.port), assignment],
            capture_output=True,
            text=True,
            timeout=10,
        )

    def raw(self, data: bytes, *, wait: float = 0.3) -> bytes:
        """Send raw bytes to the server as a client and return what came back within `wait` seconds."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(data)
            sock.settimeout(wait)
            chunks = []
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)

    def __enter__(self) -> "IndiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Emulator:
    """An emulator program on a pty (or 127.0.0.1), steered through its stdin."""

    def __init__(self, module: str, *args: str, link: Path | None = None, tcp: bool = False) -> None:
        command = [sys.executable, "-m", module, *args]
        command += ["--tcp", "0"] if tcp else ["--pty"] + (["--link", str(link)] if link else [])
        import tempfile

        self.stderr = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, bufsize=1
        )
        ready = self.process.stdout.readline()  # type: ignore[union-attr]
        match = re.match(r"READY (pty|tcp) (\S+)", ready)
        if not match:
            raise RuntimeError(f"emulator did not start: {ready!r} {self.log()}")
        self.kind, self.address = match.groups()
        self._lock = threading.Lock()

    @property
    def tcp_port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def control(self, line: str) -> str:
        with self._lock:
            assert self.process.stdin and self.process.stdout
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().strip()
        if answer.startswith("ERROR"):
            raise RuntimeError(answer)
        return answer

    def get(self, attribute: str) -> Any:
        answer = self.control(f"get {attribute}")
        return literal(answer.removeprefix("VALUE "))

    def log(self) -> str:
        try:
            with open(self.stderr.name, errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def get_length(self, attribute: str) -> int:
        return int(self.control(f"len {attribute}").removeprefix("VALUE "))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        try:
            os.unlink(self.stderr.name)
        except OSError:
            pass


# --- pyindi-client ---------------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    name: str
    kind: str
    state: str
    values: dict[str, Any]
    perm: str = ""
    group: str = ""
    label: str = ""
    limits: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)  # number members' printf formats, as defined
    timeout: float = 0.0  # the vector's timeout attribute (seconds), as defined
    rule: int = 0  # a switch vector's rule, as pyindi-client numbers it (ISR_1OFMANY, ISR_ATMOST1, ISR_NOFMANY)
    received: float = field(default_factory=time.monotonic)  # when the client got it (time.monotonic())


def _load_pyindi() -> Any:
    import PyIndi

    return PyIndi


STATE_NAMES = {0: "Idle", 1: "Ok", 2: "Busy", 3: "Alert"}


class Client:
    """pyindi-client with thread-safe snapshots and waits (its callbacks run on a library thread)."""

    def __init__(self, port: int) -> None:
        PyIndi = _load_pyindi()
        outer = self

        class _Client(PyIndi.BaseClient):  # type: ignore[misc, name-defined]
            def newProperty(self, prop):  # noqa: N802 - pyindi names
                outer._record(prop, defined=True)

            def updateProperty(self, prop):  # noqa: N802
                outer._record(prop, defined=False)

            def removeProperty(self, prop):  # noqa: N802
                with outer._cond:
                    outer.properties.pop((prop.getDeviceName(), prop.getName()), None)
                    outer.removed.append((prop.getDeviceName(), prop.getName()))
                    outer._cond.notify_all()

            def newMessage(self, device, message_id):  # noqa: N802
                text = device.messageQueue(message_id)
                with outer._cond:
                    outer.messages.append((device.getDeviceName(), text))
                    outer._cond.notify_all()

        self.PyIndi = PyIndi
        self._cond = threading.Condition()
        self.properties: dict[tuple[str, str], Snapshot] = {}
        self.history: dict[tuple[str, str], list[Snapshot]] = {}
        self.messages: list[tuple[str, str]] = []
        self.removed: list[tuple[str, str]] = []
        self.client = _Client()
        self.client.setServer("127.0.0.1", port)
        if not self.client.connectServer():
            raise RuntimeError(f"pyindi-client could not connect to port {port}")

    def close(self) -> None:
        self.client.disconnectServer()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, prop: Any, *, defined: bool) -> None:
        PyIndi = self.PyIndi
        kind_code = prop.getType()
        values: dict[str, Any] = {}
        rule = 0
        limits: dict[str, tuple[float, float, float]] = {}
        formats: dict[str, str] = {}
        if kind_code == PyIndi.INDI_NUMBER:
            kind = "Number"
            for widget in PyIndi.PropertyNumber(prop):
                values[widget.getName()] = widget.getValue()
                limits[widget.getName()] = (widget.getMin(), widget.getMax(), widget.getStep())
                formats[widget.getName()] = widget.getFormat()
        elif kind_code == PyIndi.INDI_SWITCH:
            kind = "Switch"
            switches = PyIndi.PropertySwitch(prop)
            rule = int(switches.getRule())
            for widget in switches:
                values[widget.getName()] = widget.getState() == PyIndi.ISS_ON
        elif kind_code == PyIndi.INDI_TEXT:
            kind = "Text"
            for widget in PyIndi.PropertyText(prop):
                values[widget.getName()] = widget.getText()
        elif kind_code == PyIndi.INDI_LIGHT:
            kind = "Light"
            for widget in PyIndi.PropertyLight(prop):
                values[widget.getName()] = STATE_NAMES.get(int(widget.getState()), "?")
        else:
            kind = "BLOB"
        snapshot = Snapshot(
            prop.getName(),
            kind,
            STATE_NAMES.get(int(prop.getState()), "?"),
            values,
            prop.getPermissionAsString() if hasattr(prop, "getPermissionAsString") else "",
            prop.getGroupName(),
            prop.getLabel(),
            limits,
            formats,
            self._timeout(prop, kind),
            rule=rule,
        )
        key = (prop.getDeviceName(), prop.getName())
        with self._cond:
            self.properties[key] = snapshot
            self.history.setdefault(key, []).append(snapshot)
            self._cond.notify_all()

    def _timeout(self, prop: Any, kind: str) -> float:
        """The vector's timeout (only the typed views have it; lights and BLOBs count as 0)."""
        typed = getattr(self.PyIndi, f"Property{kind}", None) if kind in ("Number", "Switch", "Text") else None
        return float(typed(prop).getTimeout()) if typed is not None else 0.0

    # --- reading -------------------------------------------------------------------------------------------------

    def get(self, device: str, name: str) -> Snapshot | None:
        with self._cond:
            return self.properties.get((device, name))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or predicate}")
                self._cond.wait(min(remaining, 0.1))

    def wait_property(self, device: str, name: str, timeout: float = 10.0) -> Snapshot:
        return self.wait_for(lambda: self.properties.get((device, name)), timeout, f"{device}.{name} to be defined")

    def wait_state(self, device: str, name: str, states: str | tuple[str, ...], timeout: float = 10.0) -> Snapshot:
        wanted = (states,) if isinstance(states, str) else states

        def ready() -> Snapshot | None:
            snap = self.properties.get((device, name))
            return snap if snap is not None and snap.state in wanted else None

        return self.wait_for(ready, timeout, f"{device}.{name} in state {'/'.join(wanted)}")

    def wait_message(self, device: str, fragment: str, timeout: float = 10.0, start: int = 0) -> str:
        def found() -> str | None:
            for dev, text in self.messages[start:]:
                if dev == device and fragment in text:
                    return text
            return None

        return self.wait_for(found, timeout, f"a message containing {fragment!r}")

    def mark(self, device: str, name: str) -> int:
        """The current length of a property's history (to look only at later updates)."""
        with self._cond:
            return len(self.history.get((device, name), []))

    def updates_since(self, device: str, name: str, mark: int) -> list[Snapshot]:
        with self._cond:
            return list(self.history.get((device, name), [])[mark:])

    # --- writing -------------------------------------------------------------------------------------------------

    def _device(self, device: str) -> Any:
        return self.wait_for(lambda: self.client.getDevice(device), 10, f"device {device}")

    def _request(self, device: str, name: str, kind: str, values: dict[str, Any]) -> Any:
        """A new vector for a request, built apart from the library's own copy of the property.

        That copy belongs to the library's reader thread, which overwrites its values whenever the driver sends the
        property: a member set there and then sent raced with the next update (a fresh-clone run sent FOCUS_SYNC 0
        for 20000). The members the request does not name keep the values last received. A switch vector carries its
        rule, because the library sends only the members that are On of a one-of-many vector, and all of the others."""
        shown = self.wait_property(device, name)
        unknown = set(values) - set(shown.values)
        assert not unknown, f"{name} has no member {', '.join(sorted(unknown))}"
        members = {**shown.values, **values}
        vector = getattr(self.PyIndi, f"Property{kind}")(len(members))
        vector.setDeviceName(device)
        vector.setName(name)
        if kind == "Switch":
            vector.setRule(shown.rule)
        for widget, (member, value) in zip(vector, members.items(), strict=True):
            widget.setName(member)
            if kind == "Number":
                widget.setValue(float(value))
            elif kind == "Text":
                widget.setText(str(value))
            else:
                widget.setState(self.PyIndi.ISS_ON if value else self.PyIndi.ISS_OFF)
        return vector

    def set_switch(self, device: str, name: str, on: dict[str, bool] | list[str]) -> None:
        """Sets switches: a dict names members and their states; a list names the members On, every other Off."""
        if isinstance(on, list):
            members = self.wait_property(device, name).values
            unknown = set(on) - set(members)
            assert not unknown, f"{name} has no member {', '.join(sorted(unknown))}"
            on = {member: member in on for member in members}
        self.client.sendNewSwitch(self._request(device, name, "Switch", on))

    def set_number(self, device: str, name: str, values: dict[str, float]) -> None:
        self.client.sendNewNumber(self._request(device, name, "Number", values))

    def set_text(self, device: str, name: str, values: dict[str, str]) -> None:
        self.client.sendNewText(self._request(device, name, "Text", values))

    def connect_device(self, device: str, timeout: float = 15.0) -> None:
        """Connect and wait until the device's connected properties are all here: they follow CONNECTION's Ok, as
        libindi sends them; this project's drivers say "<device> is connected" after them."""
        start = len(self.messages)
        before = self.get(device, "CONNECTION")
        already = before is not None and before.state == "Ok" and before.values.get("CONNECT")
        self.set_switch(device, "CONNECTION", ["CONNECT"])

        def connected() -> bool:
            snap = self.properties.get((device, "CONNECTION"))
            if snap is not None and snap.state == "Alert":
                return True
            return bool(snap and snap.state == "Ok" and snap.values.get("CONNECT"))

        self.wait_for(connected, timeout, f"{device} to connect")
        if self.properties[(device, "CONNECTION")].state == "Alert":
            reason = self.wait_message(device, "Connection failed", timeout=2)
            raise AssertionError(reason)
        info = self.get(device, "DRIVER_INFO")
        if not already and info is not None and info.values.get("DRIVER_EXEC") in OUR_DRIVERS:
            self.wait_message(device, f"{device} is connected", timeout=timeout, start=start)
