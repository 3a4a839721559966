"""Soak: both drivers at ten times the normal polling rate (POLLING_PERIOD 100 ms) against their emulators for an hour,
with a fault from the device-fault catalogue sprinkled in every few minutes and cleared after a while.

Measured and printed: each driver's resident memory at the start and the end (from /proc), the longest gap between
two successive updates of a property that changes on every poll (POWER_SENSORS, TELESCOPE_ENCODER_STEPS) outside
the faults, as the client receives them and as the device is asked (between successive position readings), and how
long each fault took to recover from. A probe process (pause_probe.py) records meanwhile when the machine itself
stopped running programs; a gap is the driver's own stall only when what is left of it outside those pauses still
exceeds two polling periods, and the gaps the pauses explain are counted apart. This process's own checks every
CHUNK_S seconds (and its garbage collection, done there) hold up pyindi-client's callback thread, which stamps each
update's arrival, so their moments are left out of the client-side gaps. The run passes when every fault recovered, no
driver stalled outside a fault, every reported position is one the device reported, both drivers are alive, and (in
the hour-long run) memory grew by less than MEMORY_GROWTH_LIMIT_KIB. The suite's one-minute run
asserts only what does not depend on timing (tests/integration/test_reliability_faults.py); it prints the figures.

Memory: each driver's resident memory is sampled at every check (every CHUNK_S seconds), printed every ten minutes and,
with --memory-csv, appended to a file as it is measured (so a run stopped early still leaves its series). A run of
half an hour or more is judged the way a night is lived: after ten minutes of warm-up memory must stay flat, the
median of the last ten minutes at most SETTLED_GROWTH_LIMIT_KIB above the median of minutes 10-20.

Load: with --poll-properties SECONDS (the long runs default to 0.1) a second client asks the server for every property
that often, as a script running indi_getprop in a loop would (property_poller.py).

    .venv/bin/python tests/campaign/soak.py          # one minute, one fault per driver (the suite's run)
    .venv/bin/python tests/campaign/soak.py --full   # one hour (on demand only)
    .venv/bin/python tests/campaign/soak.py --minutes 180 --memory-csv soak-memory.csv   # the three-hour soak
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from device_faults import ASTROLINK_FAULTS, NEXSTAR_FAULTS, STALENESS_S, Fault, goto_horizontal
from device_rigs import AZM, AstroLinkRig, NexStarRig, Rig
from pause_probe import TICKS_PER_S, Pause, paused_within, read_pauses, steal_ticks
from property_poller import PropertyPoller

POLLING_MS = 100  # ten times the drivers' default of 1000 ms
STALL_LIMIT_S = 2 * POLLING_MS / 1000.0
MEMORY_GROWTH_LIMIT_KIB = 4096  # a run under half an hour, after the first minute's warm-up
SETTLED_S = 600.0  # a run of half an hour or more: memory is judged from the tenth minute on
SETTLED_MIN_RUN_S = 1800.0
SETTLED_GROWTH_LIMIT_KIB = 1024
LONG_RUN_POLL_PROPERTIES_S = 0.1
CHUNK_S = 30.0  # positions and gaps are checked, and the client's history trimmed, this often
KEEP_S = 60.0  # history kept before a chunk (an Alert may repeat a value reported this long before)
RECOVERY_LIMIT_S = 40.0
TICKERS = {"astrolink": "POWER_SENSORS", "nexstar": "TELESCOPE_ENCODER_STEPS"}
TRACKED = (30.0, 35.0)  # az, alt of the tracked target at the start: near home, and high for hours at 50° N


@dataclass
class Episode:
    device: str
    fault: Fault
    hold_s: float
    injected: float = 0.0
    cleared: float = 0.0
    recovered: float | None = None


@dataclass
class Soaked:
    """One driver's soak: its rig and what was measured."""

    rig: Rig
    episodes: list[Episode] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start, length) of each gap outside faults
    updates: int = 0
    problems: list[str] = field(default_factory=list)
    rss_start: int = 0
    rss_end: int = 0
    checked_until: float = 0.0
    last_tick: float | None = None
    started: float = 0.0
    # When this process was busy with its own checks (shared by both drivers): pyindi-client's callback thread, which
    # stamps each update's arrival, waits for the interpreter meanwhile, so gaps there say nothing about a driver.
    busy: list[tuple[float, float]] = field(default_factory=list)
    # (start, length) between successive position readings, as the device saw them
    device_gaps: list[tuple[float, float]] = field(default_factory=list)
    last_reading: float | None = None
    memory: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the start, RSS in KiB)
    memory_csv: Path | None = None

    @property
    def ticker(self) -> str:
        return TICKERS[self.rig.kind]


def soak_faults(kind: str) -> list[Fault]:
    catalogue = ASTROLINK_FAULTS if kind == "astrolink" else NEXSTAR_FAULTS
    return [fault for fault in catalogue if not fault.tcp]


def recovered(soaked: Soaked, episode: Episode) -> bool:
    rig = soaked.rig
    if not any(s.state == "Ok" for s in rig.history(soaked.ticker, episode.cleared)):
        return False
    if isinstance(rig, NexStarRig):
        coords = [s for s in rig.history("EQUATORIAL_EOD_COORD", episode.cleared)]
        return bool(coords) and coords[-1].state == "Ok" and rig.pointing_error_arcsec() < 60
    return True


def in_fault(soaked: Soaked, start: float, end: float) -> bool:
    """Does the interval touch a fault, from its injection until it recovered (or to now if it did not)?"""
    for episode in soaked.episodes:
        recovered = (episode.recovered or time.monotonic()) + STALL_LIMIT_S
        if episode.injected and start <= recovered and end >= episode.injected:
            return True
    return False


def excluded(soaked: Soaked, start: float, end: float) -> bool:
    return in_fault(soaked, start, end) or any(start <= b and end >= a for a, b in soaked.busy)


def reading_times(rig: Rig) -> list[float]:
    """When the device answered a position request: every status line (AstroLink), azimuth readings (NexStar)."""
    if isinstance(rig, NexStarRig):
        return [entry[0] for entry in rig.truth if entry[1] == AZM]
    return [entry[0] for entry in rig.truth]


def add_gaps(
    gaps: list[tuple[float, float]], previous: float | None, times: list[float], skip: Callable[[float, float], bool]
) -> float | None:
    """Append (start, length) of each gap between successive `times` (continuing from `previous`) that `skip` does
    not leave out; return the last time, where the next chunk continues."""
    for moment in times:
        if previous is not None and not skip(previous, moment):
            gaps.append((previous, moment - previous))
        previous = moment
    return previous


def check_chunk(soaked: Soaked, until: float) -> None:
    """Gaps and positions from the last check up to `until`; then forget history no check needs any more."""
    began = time.monotonic()
    rig = soaked.rig
    ticks = [s.received for s in rig.history(soaked.ticker, soaked.checked_until) if s.received < until]
    soaked.updates += len(ticks)
    soaked.last_tick = add_gaps(soaked.gaps, soaked.last_tick, ticks, lambda a, b: excluded(soaked, a, b))
    # fetches the readings; times in the report count from the soak's start, as the stalls' do
    soaked.problems += rig.position_problems(soaked.checked_until, STALENESS_S[rig.kind], soaked.started, until)
    readings = [t for t in reading_times(rig) if soaked.checked_until <= t < until]
    soaked.last_reading = add_gaps(soaked.device_gaps, soaked.last_reading, readings, lambda a, b: in_fault(soaked, a, b))
    soaked.checked_until = until
    sample_memory(soaked)
    assert rig.client is not None
    with rig.client._cond:  # the client is ours alone here; an hour of updates would not fit in memory
        for key, snapshots in rig.client.history.items():
            rig.client.history[key] = [s for s in snapshots if s.received >= until - KEEP_S]
    gc.collect()  # here, inside a window the gap analysis leaves out, rather than at a moment of its own choosing
    soaked.busy.append((began, time.monotonic()))


def sample_memory(soaked: Soaked) -> None:
    try:
        at, rss = time.monotonic() - soaked.started, soaked.rig.rss_kib()
    except (OSError, RuntimeError):  # the driver is gone: the report says so
        return
    soaked.memory.append((at, rss))
    if soaked.memory_csv is not None:
        with soaked.memory_csv.open("a") as out:
            out.write(f"{soaked.rig.kind},{at:.0f},{rss}\n")


def median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def settled_growth(memory: list[tuple[float, int]], duration: float) -> tuple[float, float] | None:
    """Median RSS of minutes 10-20 and of the last ten minutes, for a run long enough to have both apart."""
    if duration < SETTLED_MIN_RUN_S:
        return None
    first = [rss for at, rss in memory if SETTLED_S <= at < 2 * SETTLED_S]
    last = [rss for at, rss in memory if at >= duration - SETTLED_S]
    if not first or not last:
        return None
    return median(first), median(last)


def schedule(kind: str, duration: float, full: bool, rng: random.Random, offset: float) -> list[tuple[float, Episode]]:
    """When each fault starts, relative to the start: every few minutes in the long run, once in a short one."""
    faults = soak_faults(kind)
    if not full and duration <= 120:
        fault = rng.choice(faults)
        return [(duration * (0.2 + offset), Episode(kind, fault, hold_s=6.0))]
    plan, at = [], 60.0 + offset * 60.0
    while at < duration - 90:
        plan.append((at, Episode(kind, rng.choice(faults), hold_s=rng.uniform(5.0, 20.0))))
        at += rng.uniform(120.0, 300.0)
    return plan


def start_rigs(workdir: Path) -> tuple[Soaked, Soaked]:
    astrolink = AstroLinkRig(workdir / "a", polling_ms=POLLING_MS)  # short: indiserver's socket path is limited
    nexstar = NexStarRig(workdir / "n", polling_ms=POLLING_MS)
    starting = threading.Thread(target=astrolink.start)  # the two start-ups overlap: each waits on its driver
    starting.start()
    try:
        nexstar.start()
        starting.join()
        if astrolink.pid is None:
            raise RuntimeError("the AstroLink 4 rig did not start")
        if goto_horizontal(nexstar, *TRACKED) != "Ok":
            raise RuntimeError("the goto before the soak did not end tracking")
    except BaseException:
        starting.join()
        nexstar.stop()
        astrolink.stop()
        raise
    return Soaked(astrolink), Soaked(nexstar)


@dataclass
class Verdict:
    working: bool  # faults recovered, positions truthful, drivers alive
    timely: bool  # no stall, memory flat (the hour-long run)

    def __bool__(self) -> bool:
        return self.working and self.timely


def run(
    full: bool,
    minutes: float | None = None,
    seed: int | None = None,
    workdir: Path | None = None,
    poll_properties_s: float | None = None,
    memory_csv: Path | None = None,
) -> Verdict:
    duration = 60.0 * (minutes if minutes is not None else 60.0 if full else 1.0)
    long = full or duration > 120
    if poll_properties_s is None and long:
        poll_properties_s = LONG_RUN_POLL_PROPERTIES_S
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    load = f", a client asking for every property every {poll_properties_s * 1000:.0f} ms" if poll_properties_s else ""
    print(f"soak: {duration / 60:g} min at POLLING_PERIOD {POLLING_MS} ms{load}, faults sprinkled in (seed {seed})",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        base = workdir or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        pauses = base / "pauses"
        probe = subprocess.Popen([sys.executable, str(Path(__file__).with_name("pause_probe.py")), str(pauses)])
        try:
            soaked = start_rigs(base)
            pollers: list[PropertyPoller] = []
            try:
                for one in soaked:
                    one.memory_csv = memory_csv
                    if poll_properties_s:
                        assert one.rig.server is not None
                        pollers.append(PropertyPoller(one.rig.server.port, poll_properties_s).start())
                verdict = soak(soaked, duration, long, rng, pauses)
                for poller, one in zip(pollers, soaked):
                    print(f"  {one.rig.driver}: {poller.requests} getProperties asked, "
                          f"{poller.received_bytes / 1e6:.0f} MB of definitions read"
                          + (f"; the polling client failed: {poller.error}" if poller.error else ""))  # fmt: skip
                    verdict.working = verdict.working and poller.error is None
                return verdict
            finally:
                for poller in pollers:
                    poller.stop()
                for one in soaked:
                    one.rig.stop()
        finally:
            probe.kill()
            probe.wait()


def soak(soaked: tuple[Soaked, Soaked], duration: float, long: bool, rng: random.Random, pauses: Path) -> Verdict:
    gc.disable()
    try:
        return soak_with_collector_off(soaked, duration, long, rng, pauses)
    finally:
        gc.enable()


def soak_with_collector_off(
    soaked: tuple[Soaked, Soaked], duration: float, long: bool, rng: random.Random, pauses: Path
) -> Verdict:
    soaked[1].busy = soaked[0].busy  # one process, one interpreter: its busy moments are both drivers'
    start, steal_at_start = time.monotonic(), steal_ticks()
    warm_up = min(60.0, duration / 6)
    events = sorted(
        (
            (start + at, episode)
            for offset, one in zip((0.0, 0.3), soaked)
            for at, episode in schedule(one.rig.kind, duration, long, rng, offset)
        ),
        key=lambda event: event[0],
    )
    by_kind = {one.rig.kind: one for one in soaked}
    for one in soaked:
        one.checked_until = one.started = start
    pending: list[Episode] = []
    next_chunk, end = start + CHUNK_S, start + duration
    moves = 0
    while time.monotonic() < end:
        now = time.monotonic()
        if not soaked[0].rss_start and now >= start + warm_up:
            for one in soaked:
                one.rss_start = one.rig.rss_kib()
        while events and events[0][0] <= now:
            _, episode = events.pop(0)
            one = by_kind[episode.device]
            episode.injected = time.monotonic()
            for line in episode.fault.inject:
                one.rig.control(line)
            one.episodes.append(episode)
            pending.append(episode)
        for episode in [e for e in pending if not e.cleared and now >= e.injected + e.hold_s]:
            for line in episode.fault.clear:
                by_kind[episode.device].rig.control(line)
            episode.cleared = time.monotonic()
        for episode in [e for e in pending if e.cleared]:
            if recovered(by_kind[episode.device], episode):
                episode.recovered = time.monotonic()
                pending.remove(episode)
            elif now - episode.cleared > RECOVERY_LIMIT_S:
                by_kind[episode.device].problems.append(f"{episode.fault.name} not recovered after {RECOVERY_LIMIT_S:g} s")
                pending.remove(episode)
        if now - start > (moves + 1) * (120.0 if long else duration / 3) and not pending:
            moves += 1
            rig = soaked[0].rig
            target = 1000 if rig.get("position") > 1500 else 2000
            rig.set_number("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target})
        if now >= next_chunk:
            for one in soaked:
                check_chunk(one, now - STALL_LIMIT_S)
            next_chunk += CHUNK_S
        time.sleep(0.1)
    deadline = time.monotonic() + RECOVERY_LIMIT_S
    while pending and time.monotonic() < deadline:  # a fault cleared near the end still gets its time to recover
        for episode in list(pending):
            if episode.cleared and recovered(by_kind[episode.device], episode):
                episode.recovered = time.monotonic()
                pending.remove(episode)
        time.sleep(0.2)
    for episode in pending:
        by_kind[episode.device].problems.append(f"{episode.fault.name} not recovered")
    return report(soaked, long, pauses, steal_at_start)


def own_stalls(gaps: list[tuple[float, float]], pauses: list[Pause]) -> tuple[list[tuple[float, float]], int]:
    """The gaps over the limit that remain so outside the machine's pauses, and how many more the pauses explain."""
    over = [(at, gap) for at, gap in gaps if gap > STALL_LIMIT_S]
    own = [(at, gap) for at, gap in over if gap - paused_within(pauses, at, at + gap) > STALL_LIMIT_S]
    return own, len(over) - len(own)


def report_pauses(policy: str, pauses: list[Pause], started: float, steal_at_start: int) -> None:
    steal_s = (steal_ticks() - steal_at_start) / TICKS_PER_S
    noted = STALL_LIMIT_S / 2
    during = [p for p in pauses if p.start >= started]
    long_ones = [p for p in during if p.length > noted]
    longest = max((p.length for p in during), default=0.0)
    print(f"  machine (probe at {policy}): {len(long_ones)} pause(s) over {noted * 1000:.0f} ms, longest "
          f"{longest * 1000:.0f} ms; steal time over the run {steal_s:.2f} s")  # fmt: skip
    for pause in long_ones[:10]:
        print(f"      pause: {pause.length * 1000:.0f} ms at +{pause.start - started:.0f} s (steal {pause.steal_s:.2f} s)")


def report(soaked: tuple[Soaked, Soaked], long: bool, pause_file: Path, steal_at_start: int) -> Verdict:
    verdict = Verdict(True, True)
    for one in soaked:
        check_chunk(one, time.monotonic())
    policy, pauses = read_pauses(pause_file)
    report_pauses(policy, pauses, soaked[0].started, steal_at_start)
    for one in soaked:
        rig = one.rig
        alive = rig.alive()
        one.rss_end = rig.rss_kib()
        stalls, explained = own_stalls(one.gaps, pauses)
        longest = max((gap for _, gap in one.gaps), default=0.0)
        device_longest = max((gap for _, gap in one.device_gaps), default=0.0)
        device_stalls, device_explained = own_stalls(one.device_gaps, pauses)
        growth = one.rss_end - one.rss_start
        settled = settled_growth(one.memory, time.monotonic() - one.started)
        print(f"  {rig.driver}: {one.updates} {one.ticker} updates, longest gap outside faults {longest * 1000:.0f} ms, "
              f"{len(stalls)} stall(s) over {STALL_LIMIT_S * 1000:.0f} ms and {explained} gap(s) the machine's pauses "
              f"explain (at the device: longest {device_longest * 1000:.0f} ms between readings, {len(device_stalls)} "
              f"stall(s), {device_explained} explained); RSS {one.rss_start / 1024:.1f} → "
              f"{one.rss_end / 1024:.1f} MiB ({growth:+d} KiB); {'alive' if alive else 'DEAD'}")  # fmt: skip
        report_memory(one, settled)
        for episode in one.episodes:
            after = f"recovered {episode.recovered - episode.cleared:.1f} s after" if episode.recovered else "NOT recovered"
            print(f"      fault {episode.fault.name} held {episode.hold_s:.0f} s: {after}")
        for at, gap in stalls[:10]:
            print(f"      stall: {gap * 1000:.0f} ms at +{at - one.started:.0f} s")
        for at, gap in device_stalls[:10]:
            print(f"      stall at the device: {gap * 1000:.0f} ms at +{at - one.started:.0f} s")
        for problem in one.problems[:10]:
            print(f"      problem: {problem}")
        verdict.working = verdict.working and alive and not one.problems
        if settled is not None:
            flat = settled[1] - settled[0] <= SETTLED_GROWTH_LIMIT_KIB
        else:
            flat = not long or growth < MEMORY_GROWTH_LIMIT_KIB
        verdict.timely = verdict.timely and not stalls and flat
    print(f"soak: {'passed' if verdict else 'FAILED'}" + ("" if verdict.timely else " (stalls or memory growth)"))
    return verdict


def report_memory(one: Soaked, settled: tuple[float, float] | None) -> None:
    shown, next_mark = [], 0.0
    for at, rss in one.memory:
        if at >= next_mark:
            shown.append(f"{at / 60:.0f} min {rss / 1024:.1f}")
            next_mark = (at // SETTLED_S + 1) * SETTLED_S
    if shown:
        print("      RSS (MiB): " + ", ".join(shown))
    if settled is not None:
        first, last = settled
        print(f"      settled memory: median {first / 1024:.2f} MiB over minutes 10-20, {last / 1024:.2f} MiB over the "
              f"last ten minutes ({last - first:+.0f} KiB; limit +{SETTLED_GROWTH_LIMIT_KIB} KiB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="one hour (on demand only)")
    parser.add_argument("--minutes", type=float, help="another length")
    parser.add_argument("--seed", type=int, help="repeat a run's choice of faults")
    parser.add_argument("--poll-properties", type=float, metavar="SECONDS",
                        help=f"a client asks for every property this often (long runs: {LONG_RUN_POLL_PROPERTIES_S})")
    parser.add_argument("--memory-csv", type=Path, help="append each memory sample (driver, seconds, KiB) here")
    args = parser.parse_args()
    verdict = run(args.full, args.minutes, args.seed, poll_properties_s=args.poll_properties, memory_csv=args.memory_csv)
    raise SystemExit(0 if verdict else 1)


if __name__ == "__main__":
    main()
