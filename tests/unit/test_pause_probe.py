"""The soak's machine-pause probe, and how the soak tells a driver's stall from a pause of the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CAMPAIGN = Path(__file__).resolve().parents[1] / "campaign"
sys.path.insert(0, str(CAMPAIGN))

from pause_probe import Pause, paused_within, read_pauses  # noqa: E402
from soak import own_stalls  # noqa: E402


def test_the_probe_writes_down_a_time_it_was_not_run(tmp_path) -> None:
    output = tmp_path / "pauses"
    probe = subprocess.Popen([sys.executable, str(CAMPAIGN / "pause_probe.py"), str(output)])
    try:
        deadline = time.monotonic() + 10
        while read_pauses(output)[0] == "not started" and time.monotonic() < deadline:
            time.sleep(0.02)
        policy, _ = read_pauses(output)
        assert policy in ("SCHED_FIFO", "SCHED_OTHER")
        # Each signal is bracketed by clock readings: on a loaded machine this process may itself wait between a
        # reading and its signal, and the bounds below then widen by exactly that wait instead of failing.
        before_stop = time.monotonic()
        os.kill(probe.pid, signal.SIGSTOP)  # what a machine pause looks like from inside: time passes, nothing runs
        after_stop = time.monotonic()
        time.sleep(0.4)
        before_continue = time.monotonic()
        os.kill(probe.pid, signal.SIGCONT)
        after_continue = time.monotonic()
        deadline = time.monotonic() + 30
        while not [p for p in read_pauses(output)[1] if p.length > 0.3] and time.monotonic() < deadline:
            time.sleep(0.02)  # the probe writes the pause down once it runs again
    finally:
        probe.kill()
        probe.wait()
    pauses = [p for p in read_pauses(output)[1] if p.length > 0.3]
    assert len(pauses) == 1, pauses
    # The probe notes a pause from the end of the sleep step it was in when stopped (at most STEP_S later), and a
    # stopped process is not run again at the very moment it is continued: 0.1 s covers both at real-time priority.
    margin = 0.1 if policy == "SCHED_FIFO" else 1.0  # an ordinary process also waits its turn on a busy machine
    assert before_stop - margin <= pauses[0].start <= after_stop + margin
    assert before_continue - after_stop - margin <= pauses[0].length <= after_continue - before_stop + margin


def test_an_unfinished_line_is_left_for_the_next_reading(tmp_path) -> None:
    output = tmp_path / "pauses"
    output.write_text("policy SCHED_FIFO\n10.000000 0.300000 0.20\n11.0000")
    assert read_pauses(output) == ("SCHED_FIFO", [Pause(10.0, 0.3, 0.2)])


def test_only_what_a_gap_spends_outside_the_machines_pauses_counts_as_a_stall() -> None:
    pauses = [Pause(100.05, 0.35, 0.3), Pause(200.1, 0.1, 0.0)]
    assert paused_within(pauses, 100.0, 100.5) == pytest.approx(0.35)
    assert paused_within(pauses, 100.3, 100.5) == pytest.approx(0.1)  # only the part of the pause inside the interval
    gaps = [
        (100.0, 0.5),  # 0.15 s outside the pause: the machine's doing
        (200.0, 0.5),  # 0.4 s outside: the driver's own stall, though a pause touched it
        (300.0, 0.25),  # no pause at all
        (400.0, 0.15),  # under the limit
    ]
    own, explained = own_stalls(gaps, pauses)
    assert own == [(200.0, 0.5), (300.0, 0.25)]
    assert explained == 1
