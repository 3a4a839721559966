"""The demo a newcomer runs first (`./quickstart.sh demo`), run as a user runs it: a program whose output is read."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import free_port, wait_until
from indi_astrojolo.demo.sky import BRIGHT_STARS, WELL_UP

DEMO = [sys.executable, "-m", "indi_astrojolo.demo"]
NUMBER = r"(-?[\d.]+)"


def demo_env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, HOME=str(tmp_path))  # whatever the demo writes stays out of the real HOME


def find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"no line matches {pattern!r} in:\n{text}"
    return match


def test_the_scripted_session_does_every_step_with_real_values(tmp_path) -> None:
    run = subprocess.run(
        [*DEMO, "--port", str(free_port())],
        capture_output=True, text=True, timeout=180, env=demo_env(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 0, out + run.stderr

    start = int(find(r"The focuser is at (\d+) steps\.", out)[1])
    target = int(find(r"ABS_FOCUS_POSITION := (\d+)", out)[1])
    progress = [int(p) for p in re.findall(r"\.\.\. moving \(Busy\), at (\d+) steps", out)]
    assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] != progress[0], progress
    assert all(min(start, target) <= p <= max(start, target) for p in progress)
    arrived = find(rf"Arrived: the focuser is at (\d+) steps \({NUMBER} mm\), state Ok\.", out)
    assert int(arrived[1]) == target and float(arrived[2]) > 0

    output = find(rf"Port 2 is on\. The AstroLink draws {NUMBER} A now \({NUMBER} A before\) at {NUMBER} V\.", out)
    assert float(output[1]) > float(output[2]) and 10 < float(output[3]) < 15

    assert find(r"PWM A heats at (\d+) % \(the duty the device reports\)", out)[1] == "40"
    automatic = find(r"At (\d+) % humidity the AstroLink chose (\d+) % for PWM B\.", out)
    humidity, duty = int(automatic[1]), int(automatic[2])
    assert 0 < humidity <= 100 and 0 <= duty <= 100
    assert duty > 0 or humidity < 45, "the device's automatic mode did not heat in humid air"

    weather = find(rf"Temperature {NUMBER} °C, humidity {NUMBER} %, dew point {NUMBER} °C\.", out)
    assert float(weather[3]) <= float(weather[1]) and 0 < float(weather[2]) <= 100
    find(rf"Sky temperature {NUMBER} °C, cloud cover {NUMBER} % \(.+\), sky brightness {NUMBER} mag/arcsec²", out)
    find(r"WEATHER_STATUS is (Ok|Busy|Alert)\.", out)

    sent = datetime.strptime(find(r"TIME_UTC := (\S+), OFFSET", out)[1], "%Y-%m-%dT%H:%M:%S")
    assert abs((datetime.now(timezone.utc) - sent.replace(tzinfo=timezone.utc)).total_seconds()) < 300
    find(r"GEOGRAPHIC_COORD := Kraków: latitude 50\.0614°, longitude 19\.9366° east", out)

    star = find(r"^8\. Goto (.+) and track it\.", out)[1]
    assert star in [name for name, _, _ in BRIGHT_STARS]
    altitude = float(find(rf"-> JNow \(of date\) RA .+; azimuth {NUMBER}°, altitude {NUMBER}°\.", out)[2])
    assert WELL_UP[0] <= altitude <= WELL_UP[1]
    assert re.search(r"\.\.\. slewing \(Busy\): RA", out), "no slew progress was shown"
    find(r"On target after (\d+) s: EQUATORIAL_EOD_COORD is Ok, the mount is tracking\.", out)
    sample = rf"tracking \(Ok\): RA .+, {NUMBER}″ from {re.escape(star)}; azimuth {NUMBER}° altitude {NUMBER}°"
    samples = re.findall(sample, out)
    assert len(samples) == 3, out
    assert all(float(offset) < 30 for offset, _, _ in samples), samples
    assert len({(az, alt) for _, az, alt in samples}) > 1, "the axes did not follow the sky"

    find(r"Parked after (\d+) s: TELESCOPE_PARK is Ok with PARK on, .+; tracking is off\.", out)
    find(r"Both are disconnected\.", out)
    find(r'Mode "Remote", Host 127\.0\.0\.1, Port 7624', out)
    # The profile tests/integration/test_ekos.py runs: each device once, and a camera.
    find(r'type each\s+device once: Mount "NexStar AUX", Focuser "AstroLink 4 USB", CCD "CCD Simulator"\.', out)
    find(r"it needs a camera to start", out)
    assert out.rstrip().endswith("indiserver and both drivers have stopped.")


class Serving:
    """`demo --serve` as a subprocess, its output collected line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*DEMO, "--serve", "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=demo_env(tmp_path), cwd=tmp_path,
        )  # fmt: skip
        self.lines: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(stdout.readline, "")), daemon=True)
        self.reader.start()
        wait_until(lambda: any("Press Ctrl-C to stop." in line for line in self.lines), 30, what="the demo to serve")
        self.server = children(self.process.pid)
        assert len(self.server) == 1, self.lines
        self.drivers = children(self.server[0])
        assert len(self.drivers) == 3, self.lines  # both drivers and Debian's CCD Simulator, for Ekos
        command = Path(f"/proc/{self.server[0]}/cmdline").read_text().split("\0")
        self.workdir = Path(command[command.index("-u") + 1]).parent  # the demo's temporary directory

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(5)
        for pid in self.server + self.drivers:  # a failed test must not leave them running either
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)  # a killed demo could not remove it

    def all_gone(self) -> bool:
        return not any(running(pid) for pid in self.server + self.drivers)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_mode_answers_clients_until_stopped(tmp_path, stop_signal) -> None:
    serving = Serving(tmp_path)
    try:
        assert any(f"indiserver is running on 127.0.0.1:{serving.port}" in line for line in serving.lines)
        assert any("CCD Simulator runs on this server too." in line for line in serving.lines), serving.lines
        query = subprocess.run(
            ["indi_getprop", "-h", "127.0.0.1", "-p", str(serving.port), "-t", "3",
             "AstroLink 4 USB.SIMULATION.ENABLE", "NexStar AUX.SIMULATION.ENABLE", "NexStar AUX.CONNECTION.CONNECT",
             "CCD Simulator.CONNECTION.CONNECT"],
            capture_output=True, text=True, timeout=15,
        )  # fmt: skip
        assert sorted(query.stdout.splitlines()) == [
            "AstroLink 4 USB.SIMULATION.ENABLE=On",
            "CCD Simulator.CONNECTION.CONNECT=Off",
            "NexStar AUX.CONNECTION.CONNECT=Off",
            "NexStar AUX.SIMULATION.ENABLE=On",
        ], query.stdout + query.stderr
        serving.process.send_signal(stop_signal)
        assert serving.process.wait(timeout=15) == 0
    finally:
        serving.close()
    assert serving.lines[-1].strip() == "indiserver and both drivers have stopped.", serving.lines
    wait_until(serving.all_gone, 5, what="indiserver and the drivers to exit")


def test_a_killed_demo_leaves_no_server_behind(tmp_path) -> None:
    serving = Serving(tmp_path)
    try:
        serving.process.kill()  # no chance to clean up: indiserver must go by itself
        serving.process.wait(timeout=5)
        wait_until(serving.all_gone, 10, what="indiserver and the drivers to exit")
    finally:
        serving.close()


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
