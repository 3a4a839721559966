"""A client that asks indiserver for every property again and again, as a busy client or a script running
`indi_getprop` in a loop does: the load under which the soak watches the drivers' memory.

Each request (`<getProperties version="1.7"/>`) makes every driver behind the server define all its properties again.
A reader thread drains the answers as fast as they come, so the server never has to hold them for a slow client.
"""

from __future__ import annotations

import socket
import threading
import time

REQUEST = b'<getProperties version="1.7"/>\n'


class PropertyPoller:
    def __init__(self, port: int, every_s: float) -> None:
        self.port = port
        self.every_s = every_s
        self.requests = 0
        self.received_bytes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> PropertyPoller:
        self._socket = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._socket.settimeout(1.0)
        self._threads = [threading.Thread(target=run, daemon=True) for run in (self._ask, self._drain)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()

    def _ask(self) -> None:
        assert self._socket is not None
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self._socket.sendall(REQUEST)
            except OSError as error:
                self.error = f"sending getProperties: {error}"
                return
            self.requests += 1
            next_at += self.every_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _drain(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            try:
                chunk = self._socket.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as error:
                self.error = f"reading the answers: {error}"
                return
            if not chunk:
                if not self._stop.is_set():
                    self.error = "the server closed the connection"
                return
            self.received_bytes += len(chunk)
