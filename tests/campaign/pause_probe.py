"""Machine-pause probe for the soak: tells a pause of the whole machine from a stall of a driver.

A process of its own sleeps in short steps and writes down every step that overslept by more than THRESHOLD_S,
with the machine's steal time (/proc/stat: time the hypervisor ran something else) over that step. Where the kernel
allows it the probe runs at real-time priority (SCHED_FIFO), so no ordinary process, a busy driver included, can hold
it up: an oversleep then means the machine itself did not run it. CLOCK_MONOTONIC is the whole machine's, so its
moments compare with the soak's time.monotonic().

    python tests/campaign/pause_probe.py OUTPUT     # runs until its parent exits, or until killed

Each line of OUTPUT after the first ("policy NAME") is "START LENGTH STEAL_S": when the oversleep began, how long it
lasted, and the steal time the machine counted meanwhile (in ticks of 10 ms, so short steals read as 0).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

STEP_S = 0.005
THRESHOLD_S = 0.020
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Pause:
    start: float
    length: float
    steal_s: float

    @property
    def end(self) -> float:
        return self.start + self.length


def steal_ticks() -> int:
    with open("/proc/stat", "rb") as stat:
        fields = stat.readline().split()
    return int(fields[8]) if len(fields) > 8 else 0  # cpu user nice system idle iowait irq softirq steal


def claim_real_time_priority() -> str:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(os.sched_get_priority_min(os.SCHED_FIFO)))
        return "SCHED_FIFO"
    except OSError:  # not permitted: an unprivileged user, or a container without CAP_SYS_NICE
        return "SCHED_OTHER"  # still a witness of the machine, if a weaker one: a busy neighbour can delay it too


def probe(output: Path) -> None:
    """Each step is measured from the end of the one before, not from just before its sleep: a pause that comes while
    the probe reads /proc/stat or writes a line is then counted too (it was missed, and a test missed it with it). The
    first step's start is taken before the policy line is written, so a pause after that line is always seen."""
    parent = os.getppid()
    policy = claim_real_time_priority()
    with output.open("w", buffering=1) as out:
        steal = steal_ticks()
        last = time.monotonic()
        out.write(f"policy {policy}\n")
        while os.getppid() == parent:
            time.sleep(STEP_S)
            now = time.monotonic()
            late = now - last - STEP_S
            now_steal = steal_ticks()
            if late > THRESHOLD_S:
                out.write(f"{last + STEP_S:.6f} {late:.6f} {(now_steal - steal) / TICKS_PER_S:.2f}\n")
            steal, last = now_steal, now


def read_pauses(output: Path) -> tuple[str, list[Pause]]:
    """The probe's policy and the pauses it has written down so far (a line it is still writing is left out)."""
    policy, pauses = "not started", []
    try:
        text = output.read_text()
    except FileNotFoundError:
        return policy, pauses
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        words = line.split()
        if words[0] == "policy":
            policy = words[1]
        elif len(words) == 3:
            pauses.append(Pause(float(words[0]), float(words[1]), float(words[2])))
    return policy, pauses


def paused_within(pauses: list[Pause], start: float, end: float) -> float:
    """How much of [start, end] the machine spent in the pauses."""
    return sum(max(0.0, min(end, p.end) - max(start, p.start)) for p in pauses)


if __name__ == "__main__":
    probe(Path(sys.argv[1]))
