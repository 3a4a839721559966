"""AstroLink 4 figures: driver CPU and memory while connected and polling, and request latency through indiserver.

Run: .venv/bin/python tests/bench/bench_astrolink4.py [--minutes 10] [--moves 300]
The device is the emulator model, served by this process on a pty from a thread, so the time a command reaches the
"serial port" and the time the client sent the request are read from one clock. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from harness import IndiServer  # noqa: E402

from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator  # noqa: E402
from indi_astrojolo.client import IndiClient  # noqa: E402
from indi_astrojolo.link.transports import Pty  # noqa: E402

DEVICE = "AstroLink 4 USB"


class ThreadedDevice:
    """The emulator model on a pty, answered from a thread; records when each command line arrived."""

    def __init__(self) -> None:
        self.pty = Pty.open()
        self.model = AstroLink4Emulator(now=time.monotonic())
        self.arrivals: list[tuple[float, str]] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import select

        buffer = b""
        while not self.stop:
            ready, _, _ = select.select([self.pty.master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.pty.master, 4096)
            except OSError:
                return
            now = time.monotonic()
            buffer += data
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("ascii", "replace").strip()
                self.arrivals.append((now, line))
                reply = self.model.handle(line, now)
                if reply is not None:
                    os.write(self.pty.master, (reply + "\n").encode())

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        self.pty.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, key: str) -> int:
    match = re.search(rf"{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match
    return int(match.group(1))


def connect(client: IndiClient, port_path: str) -> None:
    client.get_properties()
    client.wait_prop(DEVICE, "CONNECTION")
    client.set_text(DEVICE, "DEVICE_PORT", {"PORT": port_path})
    client.wait_state(DEVICE, "DEVICE_PORT", "Ok")
    client.set_switch(DEVICE, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
    client.wait(lambda: (p := client.prop(DEVICE, "ALERTS")) is not None, 20, "connection")


def bench_latency(client: IndiClient, device: ThreadedDevice, moves: int) -> None:
    latencies = []
    for i in range(moves):
        target = 100 + (i % 2) * 50
        mark = len(device.arrivals)
        started = time.monotonic()
        client.set_number(DEVICE, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target})
        wanted = f"R:0:{target}"
        deadline = started + 5
        while time.monotonic() < deadline:
            hit = next((t for t, line in device.arrivals[mark:] if line == wanted), None)
            if hit is not None:
                latencies.append(hit - started)
                break
            client.pump(0.001)
        else:
            raise RuntimeError(f"{wanted} never reached the port")
        client.wait(lambda: (p := client.prop(DEVICE, "ABS_FOCUS_POSITION")) and p.state == "Ok"
                    and p.values["FOCUS_ABSOLUTE_POSITION"] == target, 10, "the move to finish")  # fmt: skip
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"newNumberVector (ABS_FOCUS_POSITION) → R command at the serial port, through indiserver, {moves} moves: "
          f"median {p50:.2f} ms, p99 {p99:.2f} ms (target p99 ≤ 5 ms)")  # fmt: skip


def bench_idle(pid: int, client: IndiClient, minutes: float) -> None:
    samples = []
    cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
    end = wall_start + minutes * 60
    next_sample = wall_start
    while time.monotonic() < end:
        client.pump(min(1.0, max(0.0, end - time.monotonic())))
        if time.monotonic() >= next_sample:
            samples.append(memory_kib(pid, "VmRSS"))
            next_sample += 30
    cpu = cpu_seconds(pid) - cpu_start
    wall = time.monotonic() - wall_start
    peak = memory_kib(pid, "VmHWM")
    print(f"CPU while connected and polling at 1 Hz for {wall / 60:.1f} min: {100 * cpu / wall:.3f} % of one core "
          f"(target ≤ 0.3 %)")  # fmt: skip
    print(f"Memory: RSS {samples[0] / 1024:.1f} MiB at start, {samples[-1] / 1024:.1f} MiB at end, "
          f"max {max(samples) / 1024:.1f} MiB over {len(samples)} samples; peak (VmHWM) {peak / 1024:.1f} MiB "
          f"(target ≤ 35 MiB and flat)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()
    if shutil.which("indiserver") is None:
        raise SystemExit("indiserver is missing (./quickstart.sh setup installs it)")
    # The device thread timestamps each command as it arrives; it shares the GIL with the client parsing the driver's
    # updates in the main thread, and with the default 5 ms switch interval its timestamps would lag by that much.
    sys.setswitchinterval(0.0001)
    device = ThreadedDevice()
    with tempfile.TemporaryDirectory() as temp, IndiServer(["indi_astrolink4_usb"], Path(temp)) as server:
        try:
            with IndiClient(port=server.port) as client:
                connect(client, device.pty.path)
                pid = server.driver_pids()[0]
                if args.minutes > 0:
                    bench_idle(pid, client, args.minutes)
                bench_latency(client, device, args.moves)
        finally:
            device.close()


if __name__ == "__main__":
    main()
