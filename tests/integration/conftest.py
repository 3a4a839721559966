from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import Client, IndiServer

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _indiserver_installed() -> None:
    if shutil.which("indiserver") is None:
        pytest.fail("indiserver is not installed: run the README's setup (it installs Debian's indi-bin)")


@pytest.fixture
def server_factory(tmp_path: Path):
    servers: list[IndiServer] = []

    def start(*drivers: str, env: dict[str, str] | None = None, workdir: Path | None = None) -> IndiServer:
        server = IndiServer(list(drivers), workdir or tmp_path, env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client_factory():
    clients: list[Client] = []

    def connect(server: IndiServer) -> Client:
        client = Client(server.port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


class Rig:
    """An emulator on a pty, an indiserver running one driver, and a pyindi-client connected to the device."""

    def __init__(self, emulator, server, client, device: str) -> None:
        self.emulator = emulator
        self.server = server
        self.client = client
        self.device = device

    def prop(self, name: str):
        return self.client.wait_property(self.device, name)

    def values(self, name: str) -> dict:
        return self.prop(name).values

    def wait_state(self, name: str, states, timeout: float = 10.0):
        return self.client.wait_state(self.device, name, states, timeout)

    def wait_value(self, name: str, member: str, predicate, timeout: float = 10.0):
        def ready():
            snapshot = self.client.get(self.device, name)
            return snapshot if snapshot is not None and predicate(snapshot.values.get(member)) else None

        return self.client.wait_for(ready, timeout, f"{name}.{member}")

    def set_number(self, name: str, values: dict) -> None:
        self.client.set_number(self.device, name, values)

    def set_switch(self, name: str, on) -> None:
        self.client.set_switch(self.device, name, on)

    def set_text(self, name: str, values: dict) -> None:
        self.client.set_text(self.device, name, values)

    def request(self, kind: str, name: str, members: dict) -> None:
        """A raw request with exactly these members (pyindi-client always sends whole vectors)."""
        from xml.sax.saxutils import escape, quoteattr

        body = "".join(f"<one{kind} name={quoteattr(k)}>{escape(str(v))}</one{kind}>" for k, v in members.items())
        self.server.raw(f"<new{kind}Vector device={quoteattr(self.device)} name={quoteattr(name)}>{body}</new{kind}Vector>\n".encode(), wait=0.05)

    def commands(self) -> list[str]:
        return self.emulator.get("commands")

    def commands_since(self, mark: int) -> list[str]:
        return self.commands()[mark:]

    def set_and_settle(self, name: str, values, kind: str = "Number", states=("Ok", "Alert"), timeout: float = 30.0):
        mark = self.client.mark(self.device, name)
        getattr(self, f"set_{kind.lower()}")(name, values)

        def settled():
            for snapshot in self.client.updates_since(self.device, name, mark):
                if snapshot.state in states:
                    return snapshot
            return None

        return self.client.wait_for(settled, timeout, f"{name} to settle")

    def move_to(self, target: int, timeout: float = 30.0):
        """An absolute move, waited for until the focuser reports Ok (or Alert) after the request."""
        return self.set_and_settle(
            "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target}, states=("Ok", "Alert"), timeout=timeout
        )

    def sync_to(self, position: int) -> None:
        self.set_and_settle("FOCUS_SYNC", {"FOCUS_SYNC_VALUE": position})
        self.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == position)

    def messages_since(self, start: int) -> list[str]:
        return [text for device, text in self.client.messages[start:] if device == self.device]


@pytest.fixture
def astrolink_factory(server_factory, client_factory, tmp_path):
    from harness import Emulator, wait_until

    emulators = []

    def start(*emulator_args: str, env: dict | None = None) -> Rig:
        emulator = Emulator("indi_astrojolo.astrolink4.emulator", *emulator_args, link=tmp_path / f"al4-{len(emulators)}")
        emulators.append(emulator)
        server = server_factory("indi_astrolink4_usb", env=env)
        client = client_factory(server)
        device = "AstroLink 4 USB"
        client.set_text(device, "DEVICE_PORT", {"PORT": emulator.address})
        client.wait_state(device, "DEVICE_PORT", "Ok")
        client.connect_device(device)
        client.wait_property(device, "ALERTS")  # the last property defined on connect
        # Connected and set up: the polling loop has started (its first 'q' follows the handshake's and the
        # connect-time reading), so no connect-time update can be mistaken for the answer to a test's request.
        wait_until(lambda: emulator.get("commands").count("q") >= 3, 10, what="the first poll")
        # indiserver keeps a driver's messages in order: once a later poll's update has arrived, every
        # connect-time update has too.
        mark = client.mark(device, "POWER_SENSORS")
        client.wait_for(lambda: client.updates_since(device, "POWER_SENSORS", mark), 5, "a poll's update")
        return Rig(emulator, server, client, device)

    yield start
    for emulator in emulators:
        emulator.stop()


@pytest.fixture
def astrolink(astrolink_factory) -> Rig:
    return astrolink_factory()


@pytest.fixture
def mount_factory(server_factory, client_factory, tmp_path):
    """NexStar mounts (see nexstar_rig.start_mount for the options), each with its own emulator, stopped at the end."""
    from nexstar_rig import start_mount

    mounts = []

    def start(*args: str, **options):
        mount = start_mount(server_factory, client_factory, tmp_path / f"aux-{len(mounts)}", *args, **options)
        mounts.append(mount)
        return mount

    yield start
    for mount in mounts:
        mount.emulator.stop()
