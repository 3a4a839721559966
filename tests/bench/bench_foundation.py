"""Foundation figures: start-up latency, memory of a connected driver, parser throughput.

Run: .venv/bin/python tests/bench/bench_foundation.py [--runs N]
Prints medians and ratios; asserts nothing (figures are measured, not guessed, and not timed in unit tests).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from harness import Emulator, executable  # noqa: E402

from indi_astrojolo.indi.xmlstream import XmlStream  # noqa: E402
from indi_astrojolo.link.framing import AuxFramer, AuxPacket  # noqa: E402

GET_PROPERTIES = b'<getProperties version="1.7"/>\n'
DEFINITION = re.compile(rb"<def\w+Vector ")


def startup_once(driver: str, expected_defs: int, home: str) -> tuple[float, float]:
    """Seconds from exec to the last pre-connection definition, and from exec to exit after stdin closes."""
    env = dict(os.environ, HOME=home)
    started = time.perf_counter()
    process = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdin and process.stdout
    process.stdin.write(GET_PROPERTIES)
    process.stdin.flush()
    seen = b""
    while len(DEFINITION.findall(seen)) < expected_defs or not seen.rstrip().endswith(b">"):
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            raise RuntimeError("driver closed stdout before defining its properties")
        seen += chunk
    defined = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=10)
    exited = time.perf_counter() - started
    return defined, exited


def count_definitions(driver: str, home: str) -> int:
    out = subprocess.run([driver], input=GET_PROPERTIES, capture_output=True, env=dict(os.environ, HOME=home), timeout=20)
    return len(DEFINITION.findall(out.stdout))


def bench_startup(runs: int) -> None:
    print("Start-up (exec → every pre-connection property defined → exit on stdin EOF)")
    with tempfile.TemporaryDirectory() as home:
        floor = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            floor.append(time.perf_counter() - started)
        print(f"  Python interpreter floor: median {statistics.median(floor) * 1000:.0f} ms")
        for name in ("indi_astrolink4_usb", "indi_nexstar_aux"):
            driver = executable(name)
            expected = count_definitions(driver, home)
            results = [startup_once(driver, expected, home) for _ in range(runs)]
            defined = statistics.median(r[0] for r in results) * 1000
            exited = statistics.median(r[1] for r in results) * 1000
            print(f"  {name}: {expected} properties; exec → defined median {defined:.0f} ms "
                  f"(target ≤ 150); exec → exit median {exited:.0f} ms; {runs} runs")  # fmt: skip


def peak_memory(driver: str, emulator_module: str, port_property: str, device: str, seconds: float) -> int:
    """VmHWM (KiB) of a driver connected to its emulator over a pty and polling for `seconds`."""
    with Emulator(emulator_module) as emulator, tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home)
        process = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        assert process.stdin
        process.stdin.write(GET_PROPERTIES)
        process.stdin.write(
            f'<newTextVector device="{device}" name="DEVICE_PORT"><oneText name="PORT">{emulator.address}</oneText>'
            f'</newTextVector><newSwitchVector device="{device}" name="CONNECTION"><oneSwitch name="CONNECT">On'
            f"</oneSwitch></newSwitchVector>\n".encode()
        )
        process.stdin.flush()
        time.sleep(seconds)
        status = Path(f"/proc/{process.pid}/status").read_text()
        polls = emulator.get_length("commands" if "astrolink" in emulator_module else "received")
        process.stdin.close()
        process.wait(timeout=10)
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match
    if polls < seconds:
        raise RuntimeError(f"the driver did not poll its emulator ({polls} commands)")
    return int(match.group(1))


def bench_memory(seconds: float) -> None:
    print(f"Peak memory (VmHWM) of a driver connected to its emulator over a pty, {seconds:g} s of polling")
    for driver, module, device in (
        ("indi_astrolink4_usb", "indi_astrojolo.astrolink4.emulator", "AstroLink 4 USB"),
        ("indi_nexstar_aux", "indi_astrojolo.nexstar.emulator", "NexStar AUX"),
    ):
        kib = peak_memory(executable(driver), module, "DEVICE_PORT", device, seconds)
        print(f"  {driver}: {kib / 1024:.1f} MiB (target ≤ 35 MiB)")


def bench_xml(messages: int) -> None:
    one = (
        b'<newNumberVector device="AstroLink 4 USB" name="ABS_FOCUS_POSITION" timestamp="2026-11-21T04:58:16">\n'
        b'  <oneNumber name="FOCUS_ABSOLUTE_POSITION">\n      51000\n  </oneNumber>\n</newNumberVector>\n'
    )
    data = one * messages
    rates = []
    for _ in range(5):
        stream = XmlStream()
        started = time.perf_counter()
        parsed = 0
        for offset in range(0, len(data), 65536):  # indiserver writes at most 48 KiB at a time; 64 KiB reads
            parsed += len(stream.feed(data[offset : offset + 65536]))
        elapsed = time.perf_counter() - started
        assert parsed == messages, parsed
        rates.append(messages / elapsed)
    print(f"INDI messages parsed: median {statistics.median(rates):,.0f} /s (target ≥ 50,000; {len(one)}-byte newNumberVector)")


def bench_aux(frames: int) -> None:
    packets = [AuxPacket(0x10, 0x20, 0x01, bytes([i & 0xFF, 0x3B, 0x10])).encode() for i in range(256)]
    data = b"".join(packets) * (frames // 256)
    total = len(packets) * (frames // 256)
    rates = []
    for _ in range(5):
        framer = AuxFramer()
        started = time.perf_counter()
        parsed = 0
        for offset in range(0, len(data), 4096):
            parsed += len(framer.feed(data[offset : offset + 4096]))
        elapsed = time.perf_counter() - started
        assert parsed == total, parsed
        rates.append(total / elapsed)
    print(f"AUX frames parsed: median {statistics.median(rates):,.0f} /s (target ≥ 200,000; 9-byte position replies)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--memory-seconds", type=float, default=10.0)
    args = parser.parse_args()
    bench_startup(args.runs)
    bench_memory(args.memory_seconds)
    bench_xml(100_000)
    bench_aux(200_000)


if __name__ == "__main__":
    main()
