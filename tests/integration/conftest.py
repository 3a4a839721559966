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
