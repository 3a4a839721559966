"""A driver's resident memory through a stall of its stdout: does the backlog's memory come back once written?

The driver runs directly on two pipes (no indiserver, no device: one DISCONNECT request starts its event loop), and
is asked for every property ten times a second throughout, as the soak's poller does. Its output is read for a
warm-up, not read at all for --stall seconds (the answers pile up in the driver, up to runtime.OUTPUT_BACKLOG_LIMIT),
then read again. Printed: resident memory before the stall, at its end, and the median after it, against the goal
that what is left after the stall is within RETAINED_GOAL_KIB of what was there before it.

    .venv/bin/python tests/campaign/stdout_stall.py                 # both drivers, 30 s stall
    .venv/bin/python tests/campaign/stdout_stall.py nexstar --stall 60

On demand: it takes two minutes or so a driver and measures memory, which only a quiet machine measures well.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DRIVERS = {"astrolink": ("indi_astrolink4_usb", "AstroLink 4 USB"), "nexstar": ("indi_nexstar_aux", "NexStar AUX")}
ASK_EVERY_S = 0.1
RETAINED_GOAL_KIB = 256


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class StalledDriver:
    """The driver on a stdin pipe and a stdout pipe whose reader can be paused."""

    def __init__(self, executable: str, device: str, home: Path) -> None:
        read_end, write_end = os.pipe()
        env = dict(os.environ, HOME=str(home), INDICONFIG=str(home / "config.xml"))
        self.process = subprocess.Popen(
            [str(BIN / executable)], stdin=subprocess.PIPE, stdout=write_end, stderr=subprocess.DEVNULL, env=env
        )
        os.close(write_end)
        self.read_end = read_end
        self.reading = threading.Event()
        self.reading.set()
        self.bytes_read = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._send(
            f"<newSwitchVector device='{device}' name='CONNECTION'><oneSwitch name='DISCONNECT'>On</oneSwitch>"
            "</newSwitchVector>\n"
        )

    def _read(self) -> None:
        while self.reading.wait() and (data := os.read(self.read_end, 1 << 16)):
            self.bytes_read += len(data)

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def ask_for_everything(self, seconds: float) -> list[int]:
        """getProperties every ASK_EVERY_S for `seconds`; the resident memory after each second."""
        samples, end, next_sample = [], time.monotonic() + seconds, time.monotonic() + 1
        while time.monotonic() < end:
            self._send("<getProperties version='1.7'/>\n")
            time.sleep(ASK_EVERY_S)
            if time.monotonic() >= next_sample:
                samples.append(resident_kib(self.process.pid))
                next_sample += 1
        return samples

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.reading.set()
        self.process.wait(timeout=20)


def measure(name: str, warm_up: float, stall: float, after: float) -> bool:
    executable, device = DRIVERS[name]
    with tempfile.TemporaryDirectory(prefix="stdout-stall-") as home:
        driver = StalledDriver(executable, device, Path(home))
        try:
            before = statistics.median(driver.ask_for_everything(warm_up)[-5:])
            written_before = driver.bytes_read
            driver.reading.clear()
            stalled = driver.ask_for_everything(stall)
            driver.reading.set()
            settled = statistics.median(driver.ask_for_everything(after)[5:])
            piled_up = driver.bytes_read - written_before
        finally:
            driver.close()
    retained = settled - before
    verdict = "ok" if retained <= RETAINED_GOAL_KIB else "OVER"
    print(
        f"{name:9s} before {before:7.0f} KiB  end of stall {stalled[-1]:6d} KiB (+{stalled[-1] - before:.0f})  "
        f"after {settled:7.0f} KiB  retained {retained:+6.0f} KiB (goal <= {RETAINED_GOAL_KIB})  {verdict}  "
        f"[{piled_up // 1024} KiB written from the stall on]"
    )
    return retained <= RETAINED_GOAL_KIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drivers", nargs="*", metavar="DRIVER", help=f"{' or '.join(DRIVERS)} (default: both)")
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds read normally first")
    parser.add_argument("--stall", type=float, default=30.0, help="seconds stdout is not read")
    parser.add_argument("--after", type=float, default=30.0, help="seconds read normally after")
    args = parser.parse_args()
    if unknown := set(args.drivers) - set(DRIVERS):
        parser.error(f"no driver {', '.join(sorted(unknown))}: choose from {', '.join(DRIVERS)}")
    results = [measure(name, args.warm_up, args.stall, args.after) for name in args.drivers or DRIVERS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
