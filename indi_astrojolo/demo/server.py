"""indiserver running both drivers for the demo, the way Ekos runs it (`-r 0`: a driver that dies stays dead).

It gets its own HOME, so the demo's config, park and data files stay out of the user's ~/.indi, and its own local
socket, so it can run beside another indiserver. It runs in a session of its own: Ctrl-C reaches only the demo, which
then stops indiserver, and the drivers exit on end of input as they do under Ekos. Should the demo itself be killed,
Linux sends indiserver SIGTERM, so no server is left holding the port.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DRIVERS = ("indi_astrolink4_usb", "indi_nexstar_aux")
# Debian's camera simulator (indi-bin): Ekos refuses to start a profile without a camera, and in Remote mode every
# device of the profile must be on the one server, so `--serve` runs it beside the drivers when it is installed.
CAMERA_DRIVER = "indi_simulator_ccd"
PR_SET_PDEATHSIG = 1  # prctl(2)


def driver_path(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed; run ./quickstart.sh setup first")
    return found


def free_port(preferred: int) -> int:
    """The preferred port if nothing listens there, else any free one."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free TCP port")


class DemoServer:
    def __init__(self, port: int, workdir: Path, *, camera: bool = False) -> None:
        self.port = port
        self.workdir = workdir
        self.camera = bool(camera and shutil.which(CAMERA_DRIVER))  # with the CCD Simulator, for Ekos
        self.log_path = workdir / "indiserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.drivers: list[int] = []

    def start(self) -> None:
        if shutil.which("indiserver") is None:
            raise SystemExit("indiserver is missing: install Debian's indi-bin (./quickstart.sh setup does)")
        env = dict(os.environ, HOME=str(self.workdir))
        env.pop("INDICONFIG", None)
        env.pop("INDIDEV", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["indiserver", "-v", "-r", "0", "-p", str(self.port), "-u", str(self.workdir / "indiserver.sock"),
                 *(driver_path(name) for name in DRIVERS), *([CAMERA_DRIVER] if self.camera else [])],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir, start_new_session=True,
                preexec_fn=_stop_when_the_demo_dies if sys.platform.startswith("linux") else None,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"indiserver exited at start:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.drivers = _children(self.process.pid)
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"indiserver did not start listening on port {self.port}:\n{self.log_tail()}")

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()

    def stop(self) -> None:
        """Stop indiserver, then wait (briefly) for its drivers to see the end of their input and exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.drivers = sorted(set(self.drivers) | set(_children(self.process.pid)))
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in self.drivers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.drivers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _stop_when_the_demo_dies() -> None:
    """Runs in the child before exec: SIGTERM when its parent, the demo, exits, however it exits."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
