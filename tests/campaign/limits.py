"""Limits as properties: hypothesis sequences of client commands against the emulators, through a real indiserver.

Focuser: FOCUS_MAX changes (some close to where a move under way is going), absolute and relative moves (some beyond
the range), sync, signed backlash, reverse, abort in the middle of a move, timer moves (this focuser has none: they must
be refused and move nothing), pauses.
The emulator's true position, sampled every 50 ms during and after each command, must stay within 0 … the device's
maximum at that moment, and every move (R) and sync (P) command the driver sends must target that range too (the
emulator clamps its target, so the commands are where a driver mistake would show).

Mount: manual motion NS/WE at every rate, gotos in RA/Dec and Az/Alt with and without tracking, abort in the middle of
a goto, park (positions inside and outside the limits), guide pulses. Each sequence starts at a random place, sets
random altitude limits around it and a random cord-wrap position; the emulator's true axes, sampled every 50 ms, must
never go below the lowest or above the highest altitude, nor carry the azimuth axis across the cord-wrap position
(checked on its unwrapped travel, not on a wrapped angle).

Run: .venv/bin/python tests/campaign/limits.py [--full] [--seed N]
(default: a few derandomized sequences; --full: many longer ones with a random seed, printed)
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from input_rigs import ALT, AZM, AstroLinkRig, Event, NexStarRig, Rig, vector_xml  # noqa: E402

from indi_astrojolo.nexstar import aux  # noqa: E402

SAMPLE_PERIOD = 0.05
ALTITUDE_TOLERANCE = 0.02  # degrees: the limit itself may be reached, not passed
CORDWRAP_TOLERANCE = 0.02
QUICK = {"focuser sequences": 6, "focuser steps": 8, "mount sequences": 2, "mount steps": 4, "reach": 25.0}
FULL = {"focuser sequences": 60, "focuser steps": 20, "mount sequences": 25, "mount steps": 10, "reach": 180.0}


@dataclass
class Outcome:
    sequences: int = 0
    commands: int = 0
    samples: int = 0
    failures: list[str] = field(default_factory=list)


class Sampler:
    """Reads the emulator every SAMPLE_PERIOD seconds on a thread of its own while commands run."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read
        self.samples: list[Any] = []
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.read())
            except Exception as exc:  # reported by the campaign, not lost in a thread
                self.error = exc
                return
            self._stop.wait(SAMPLE_PERIOD)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def settled(rig: Rig, name: str, mark: int, timeout: float) -> Event | None:
    """The first update of `name` after `mark` that ends a motion: Alert, or Ok/Idle once it has been Busy."""
    busy = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in rig.events_since(mark):
            if not rig.is_set(event, name):
                continue
            if event.state == "Alert" or (busy and event.state in ("Ok", "Idle")):
                return event
            busy = busy or event.state == "Busy"
        rig.client.pump(0.05)  # type: ignore[union-attr]
    return None


# --- focuser ---------------------------------------------------------------------------------------------------


@dataclass
class FocuserCommand:
    kind: str
    a: float = 0.0
    b: float = 0.0
    flag: bool = False

    def __str__(self) -> str:
        return f"{self.kind}({self.a:g}, {self.b:g}, {self.flag})"


FOCUSER_COMMANDS = st.one_of(
    st.builds(FocuserCommand, st.just("max"), st.integers(100, 60000)),
    st.builds(FocuserCommand, st.just("max near"), st.floats(0.9, 1.1)),
    st.builds(FocuserCommand, st.just("move, then max near"), st.floats(0.0, 1.0), st.floats(0.9, 1.1)),
    st.builds(FocuserCommand, st.just("absolute"), st.floats(-0.2, 1.2)),
    st.builds(FocuserCommand, st.just("relative"), st.floats(0.0, 1.2), flag=st.booleans()),
    st.builds(FocuserCommand, st.just("sync"), st.floats(-0.1, 1.1)),
    st.builds(FocuserCommand, st.just("backlash"), st.integers(-3000, 3000), flag=st.booleans()),
    st.builds(FocuserCommand, st.just("reverse"), flag=st.booleans()),
    st.builds(FocuserCommand, st.just("abort")),
    st.builds(FocuserCommand, st.just("timer"), st.integers(0, 5000)),
    st.builds(FocuserCommand, st.just("pause"), st.floats(0.0, 1.0)),
)


class FocuserLimits:
    def __init__(self, rig: AstroLinkRig) -> None:
        self.rig = rig
        rig.request("Number", "FOCUSER_SETTINGS", [("FS_SPEED", "5000"), ("FS_ACCELERATION", "20000")])

    def maximum(self) -> int:
        return int(self.rig.current("FOCUS_MAX").get("FOCUS_MAX_VALUE", 0))

    def read(self) -> tuple[float, int, int]:
        """The true position, the device's maximum and the target it moves to."""
        emulator = self.rig.emulator
        assert emulator is not None
        maximum = int(emulator.control("call max_position").removeprefix("VALUE "))
        return float(emulator.get("position")), maximum, int(emulator.get("target"))

    def send(self, command: FocuserCommand) -> None:
        rig, maximum = self.rig, self.maximum()
        kind = command.kind
        if kind == "max":
            rig.request("Number", "FOCUS_MAX", [("FOCUS_MAX_VALUE", str(int(command.a)))])
        elif kind == "max near":  # close to where the stepper is going: a move or its backlash overshoot under way
            assert rig.emulator is not None
            near = max(100, round(int(rig.emulator.get("target")) * command.a))
            rig.request("Number", "FOCUS_MAX", [("FOCUS_MAX_VALUE", str(near))])
        elif kind == "move, then max near":
            self.send(FocuserCommand("absolute", command.a))
            self.send(FocuserCommand("max near", command.b))
        elif kind == "absolute":
            rig.request("Number", "ABS_FOCUS_POSITION", [("FOCUS_ABSOLUTE_POSITION", str(round(command.a * maximum)))])
        elif kind == "relative":
            direction = "FOCUS_OUTWARD" if command.flag else "FOCUS_INWARD"
            rig.request("Switch", "FOCUS_MOTION", [(direction, "On")])
            rig.request("Number", "REL_FOCUS_POSITION", [("FOCUS_RELATIVE_POSITION", str(round(command.a * maximum)))])
        elif kind == "sync":
            rig.request("Number", "FOCUS_SYNC", [("FOCUS_SYNC_VALUE", str(round(command.a * maximum)))])
        elif kind == "backlash":
            rig.request("Switch", "FOCUS_BACKLASH_TOGGLE", [("INDI_ENABLED" if command.flag else "INDI_DISABLED", "On")])
            rig.request("Number", "FOCUS_BACKLASH_STEPS", [("FOCUS_BACKLASH_VALUE", str(int(command.a)))])
        elif kind == "reverse":
            rig.request("Switch", "FOCUS_REVERSE_MOTION", [("INDI_ENABLED" if command.flag else "INDI_DISABLED", "On")])
        elif kind == "abort":
            rig.request("Switch", "FOCUS_ABORT_MOTION", [("ABORT", "On")])
        elif kind == "timer":
            # this focuser moves to positions and has no timer moves: the request is refused and moves nothing
            assert rig.emulator is not None
            arrived = rig.emulator.get("target") == round(self.read()[0])
            still = arrived and not self.moving() and rig.current_state("ABS_FOCUS_POSITION") != "Busy"
            before = self.read()[0]
            mark = rig.mark()
            rig.send(vector_of("Number", rig.device, "FOCUS_TIMER", FOCUS_TIMER_VALUE=int(command.a)))
            rig.wait_event(lambda e: e.tag == "message" and "FOCUS_TIMER" in (e.message or ""), mark)
            time.sleep(0.3)
            after = self.read()
            if still and after[0] != before:
                raise AssertionError(f"a timer move moved the focuser from {before:.1f} to {after[0]:.1f} (target {after[2]})")
        elif kind == "pause":
            time.sleep(command.a)

    def moving(self) -> bool:
        emulator = self.rig.emulator
        assert emulator is not None
        return emulator.get("velocity") != 0.0

    def sequence(self, commands: list[FocuserCommand], outcome: Outcome) -> None:
        rig = self.rig
        assert rig.emulator is not None
        rig.quiesce()
        rig.clear_device_log()
        start_maximum = self.read()[1]
        with Sampler(self.read) as sampler:
            for command in commands:
                try:
                    self.send(command)
                except (AssertionError, TimeoutError) as exc:
                    outcome.failures.append(f"focuser {command}: {exc}")
                outcome.commands += 1
            deadline = time.monotonic() + 60
            while self.moving() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)  # a last sample at rest
        outcome.sequences += 1
        outcome.samples += len(sampler.samples)
        trail = ", ".join(map(str, commands))
        if sampler.error is not None:
            outcome.failures.append(f"focuser [{trail}]: sampling failed: {sampler.error}")
        for index, (position, maximum, _) in enumerate(sampler.samples):
            if not 0 <= position <= maximum:
                recent = "; ".join(f"{p:.1f}/{m}/{t}" for p, m, t in sampler.samples[max(0, index - 6) : index + 2])
                writes = [c for c in rig.emulator.get("commands") if c[:1] in "RPUH"]
                outcome.failures.append(
                    f"focuser [{trail}]: position {position:.1f} outside 0 … {maximum} "
                    f"(position/maximum/target before and after: {recent}; device commands: {writes})"
                )
                break
        problem = check_focuser_commands(rig.emulator.get("commands"), start_maximum)
        if problem:
            outcome.failures.append(f"focuser [{trail}]: {problem}")


def check_focuser_commands(commands: list[str], maximum: int) -> str | None:
    """Every move (R:0:n) and sync (P:0:n) within 0 … the maximum the device had when it got the command."""
    for command in commands:
        fields = command.split(":")
        if fields[0] == "U" and len(fields) > 1:
            maximum = int(float(fields[1]))
        elif fields[0] in ("R", "P") and len(fields) > 2:
            target = int(fields[2])
            if not 0 <= target <= maximum:
                return f"the driver sent {command!r} with the maximum at {maximum}"
    return None


# --- mount -----------------------------------------------------------------------------------------------------


@dataclass
class MountCommand:
    kind: str
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0
    flag: bool = False

    def __str__(self) -> str:
        return f"{self.kind}({self.a:.5g}, {self.b:.5g}, {self.c:.5g}, {self.flag})"


def mount_commands(reach: float) -> st.SearchStrategy[MountCommand]:
    """Targets are offsets from where the mount is, up to `reach` degrees (short slews keep quick runs short)."""
    offset = st.floats(-reach, reach)
    return st.one_of(
        # manual: a = rate 1…9, b = seconds held, flag = north/west (else south/east), c > 0: NS axis
        st.builds(MountCommand, st.just("manual"), st.integers(1, 9), st.floats(0.3, 4.0), st.sampled_from([0.0, 1.0]), st.booleans()),
        st.builds(MountCommand, st.just("goto altaz"), offset, st.floats(-35.0, 95.0), flag=st.booleans()),
        st.builds(MountCommand, st.just("goto radec"), offset, st.floats(-35.0, 95.0), flag=st.booleans()),
        st.builds(MountCommand, st.just("abort goto"), offset, st.floats(-35.0, 95.0), st.floats(0.0, 3.0)),
        st.builds(MountCommand, st.just("park"), offset, st.floats(-35.0, 95.0)),
        st.builds(MountCommand, st.just("guide"), st.integers(100, 6000), st.sampled_from([0.0, 1.0]), flag=st.booleans()),
        st.builds(MountCommand, st.just("wait"), st.floats(0.5, 4.0)),
    )  # fmt: skip


@dataclass
class MountSample:
    altitude: float
    unwrapped_azimuth: float


AXES_RE = re.compile(r"position=([-0-9.e+]+),.*?moved_steps=([-0-9.e+]+)\)")


class MountLimits:
    def __init__(self, rig: NexStarRig, rng: random.Random) -> None:
        self.rig = rig
        self.rng = rng
        self.low, self.high, self.wrap = 0.0, 90.0, 180.0

    def read(self) -> MountSample:
        emulator = self.rig.emulator
        assert emulator is not None
        (_, azm_moved), (alt_position, _) = [(float(p), float(m)) for p, m in AXES_RE.findall(emulator.control("get axes"))]
        altitude = (alt_position / aux.STEPS_PER_DEGREE + 180) % 360 - 180
        return MountSample(altitude, azm_moved / aux.STEPS_PER_DEGREE)  # the emulator powers up at azimuth 0

    def here(self) -> tuple[float, float]:
        return self.rig.axis(AZM), self.rig.axis(ALT)

    def goto_altaz(self, az: float, alt: float, track: bool, *, timeout: float = 180) -> Event | None:
        rig = self.rig
        rig.request("Switch", "ON_COORD_SET", [("TRACK" if track else "SLEW", "On")])
        mark = rig.mark()
        rig.send(vector_of("Number", rig.device, "HORIZONTAL_COORD", AZ=az % 360, ALT=alt))
        return settled(rig, "HORIZONTAL_COORD", mark, timeout)

    def goto_radec(self, az: float, alt: float, track: bool) -> Event | None:
        """RA/Dec of the place (az, alt) now, sent as EQUATORIAL_EOD_COORD (SLEW or TRACK)."""
        from indi_astrojolo.nexstar import astrometry as astro

        rig = self.rig
        site = astro.Site(rig.latitude, 20.0, 300.0)
        ra, dec = astro.horizontal_to_apparent(az % 360, alt, astro.Instant.from_unix(time.time()), site, astro.Weather())
        rig.request("Switch", "ON_COORD_SET", [("TRACK" if track else "SLEW", "On")])
        mark = rig.mark()
        rig.send(vector_of("Number", rig.device, "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        return settled(rig, "EQUATORIAL_EOD_COORD", mark, 180)

    def start(self, reach: float) -> None:
        """Abort, go to a random place with wide limits, then set this sequence's limits and cord wrap around it."""
        rig, rng = self.rig, self.rng
        rig.quiesce()
        rig.request("Switch", "TELESCOPE_PARK", [("UNPARK", "On")])
        rig.request("Number", "ALTITUDE_LIMITS", [("MIN_ALT", "-30"), ("MAX_ALT", "90")])
        az, alt = self.here()
        start_az, start_alt = az + rng.uniform(-reach, reach), rng.uniform(5.0, 80.0)
        self.goto_altaz(start_az, start_alt, track=False)
        az, alt = self.here()
        self.low = float(math.floor(rng.uniform(-10.0, alt - 1.0)))
        self.high = float(math.ceil(rng.uniform(alt + 1.0, 90.0)))
        rig.request("Number", "ALTITUDE_LIMITS", [("MIN_ALT", repr(self.low)), ("MAX_ALT", repr(self.high))])
        self.wrap = float(round((az + rng.uniform(3.0, 357.0)) % 360))
        rig.request("Switch", "CORDWRAP", [("INDI_ENABLED", "On")])
        rig.request("Number", "CORDWRAP_POS", [("POSITION", repr(self.wrap))])

    def send(self, command: MountCommand) -> None:
        rig = self.rig
        kind = command.kind
        az, alt = self.here()
        if kind == "manual":
            ns = command.c > 0
            name = "TELESCOPE_MOTION_NS" if ns else "TELESCOPE_MOTION_WE"
            member = ("MOTION_NORTH" if command.flag else "MOTION_SOUTH") if ns else ("MOTION_WEST" if command.flag else "MOTION_EAST")
            rig.request("Switch", "TELESCOPE_SLEW_RATE", [(f"{int(command.a)}x", "On")])
            rig.request("Switch", name, [(member, "On")])
            time.sleep(command.b)
            rig.request("Switch", name, [(member, "Off")])
            time.sleep(1.5)  # the axis ramps down
        elif kind == "goto altaz":
            self.goto_altaz(az + command.a, command.b, command.flag)
        elif kind == "goto radec":
            self.goto_radec(az + command.a, command.b, command.flag)
        elif kind == "abort goto":
            rig.request("Switch", "ON_COORD_SET", [("SLEW", "On")])
            rig.send(vector_of("Number", rig.device, "HORIZONTAL_COORD", AZ=(az + command.a) % 360, ALT=command.b))
            time.sleep(command.c)
            rig.request("Switch", "TELESCOPE_ABORT_MOTION", [("ABORT", "On")])
            time.sleep(1.5)
        elif kind == "park":
            rig.request("Number", "TELESCOPE_PARK_POSITION", [("PARK_AZ", repr((az + command.a) % 360)), ("PARK_ALT", repr(command.b))])
            mark = rig.mark()
            rig.send(vector_of("Switch", rig.device, "TELESCOPE_PARK", PARK="On"))
            rig.wait_event(lambda e: rig.is_set(e, "TELESCOPE_PARK") and e.state in ("Ok", "Alert"), mark, 180)
            rig.request("Switch", "TELESCOPE_PARK", [("UNPARK", "On")])
        elif kind == "guide":
            ns = command.b > 0
            name = "TELESCOPE_TIMED_GUIDE_NS" if ns else "TELESCOPE_TIMED_GUIDE_WE"
            member = ("TIMED_GUIDE_N" if command.flag else "TIMED_GUIDE_S") if ns else ("TIMED_GUIDE_W" if command.flag else "TIMED_GUIDE_E")
            mark = rig.mark()
            rig.send(vector_of("Number", rig.device, name, **{member: int(command.a)}))
            rig.wait_event(lambda e: rig.is_set(e, name) and e.state in ("Idle", "Alert"), mark, command.a / 1000 + 10)
        elif kind == "wait":
            time.sleep(command.a)

    def violation(self, sample: MountSample, legal: tuple[float, float]) -> str | None:
        if sample.altitude < self.low - ALTITUDE_TOLERANCE:
            return f"altitude {sample.altitude:.3f}° below the lowest allowed {self.low:g}°"
        if sample.altitude > self.high + ALTITUDE_TOLERANCE:
            return f"altitude {sample.altitude:.3f}° above the highest allowed {self.high:g}°"
        if not legal[0] - CORDWRAP_TOLERANCE < sample.unwrapped_azimuth < legal[1] + CORDWRAP_TOLERANCE:
            return f"azimuth travel {sample.unwrapped_azimuth:.3f}° crossed the cord wrap at {self.wrap:g}°"
        return None

    def sequence(self, commands: list[MountCommand], reach: float, outcome: Outcome) -> None:
        self.start(reach)
        unwrapped = self.read().unwrapped_azimuth
        # the stretch of unwrapped azimuth between two passes over the cord-wrap position that holds the mount now
        upper = self.wrap + 360.0 * math.ceil((unwrapped - self.wrap) / 360.0)
        if upper <= unwrapped:
            upper += 360.0
        legal = (upper - 360.0, upper)
        trail = f"limits {self.low:g}…{self.high:g}°, cord wrap {self.wrap:g}°: " + ", ".join(map(str, commands))
        with Sampler(self.read) as sampler:
            for command in commands:
                try:
                    self.send(command)
                except TimeoutError as exc:
                    outcome.failures.append(f"mount {command}: {exc}")
                outcome.commands += 1
            self.rig.quiesce()
        outcome.sequences += 1
        outcome.samples += len(sampler.samples)
        if sampler.error is not None:
            outcome.failures.append(f"mount [{trail}]: sampling failed: {sampler.error}")
        for sample in sampler.samples:
            problem = self.violation(sample, legal)
            if problem:
                outcome.failures.append(f"mount [{trail}]: {problem}")
                break


def vector_of(kind: str, device: str, name: str, **members: Any) -> bytes:
    return vector_xml(kind, device, name, [(k, repr(float(v)) if kind == "Number" else str(v)) for k, v in members.items()])


# --- running ---------------------------------------------------------------------------------------------------


def hypothesis_settings(examples: int, seed: int | None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        test = settings(
            max_examples=examples, database=None, derandomize=seed is None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(test)  # fmt: skip
        return hypothesis_seed(seed)(test) if seed is not None else test

    return decorate


def focuser_campaign(full: bool, seed: int | None = None, workdir: Path | None = None) -> Outcome:
    plan = FULL if full else QUICK
    outcome = Outcome()
    with AstroLinkRig(workdir or Path(tempfile.mkdtemp(prefix="limits-focuser-"))) as rig:
        limits = FocuserLimits(rig)

        @hypothesis_settings(plan["focuser sequences"], seed)
        @given(st.lists(FOCUSER_COMMANDS, min_size=plan["focuser steps"] // 2, max_size=plan["focuser steps"]))
        def sequence(commands: list[FocuserCommand]) -> None:
            limits.sequence(commands, outcome)

        sequence()
    return outcome


def mount_campaign(full: bool, seed: int | None = None, workdir: Path | None = None) -> Outcome:
    plan = FULL if full else QUICK
    outcome = Outcome()
    with NexStarRig(workdir or Path(tempfile.mkdtemp(prefix="limits-mount-"))) as rig:
        limits = MountLimits(rig, random.Random(seed or 0))
        reach = plan["reach"]

        @hypothesis_settings(plan["mount sequences"], seed)
        @given(st.lists(mount_commands(reach), min_size=plan["mount steps"] // 2, max_size=plan["mount steps"]))
        def sequence(commands: list[MountCommand]) -> None:
            limits.sequence(commands, reach, outcome)

        sequence()
    return outcome


def print_outcome(what: str, outcome: Outcome, seconds: float) -> None:
    print(
        f"{what}: {outcome.sequences} sequences, {outcome.commands} commands, {outcome.samples} samples, "
        f"{len(outcome.failures)} failed, {seconds:.1f} s"
    )
    for failure in outcome.failures[:30]:
        print(f"  FAIL {failure}")


def run(full: bool, seed: int | None = None) -> bool:
    """Both campaigns; True when no limit was passed."""
    if full and seed is None:
        seed = random.randrange(1 << 32)
    print("limits as properties: " + (f"seed {seed}" if seed is not None else "derandomized"))
    ok = True
    for what, campaign in (("focuser", focuser_campaign), ("mount", mount_campaign)):
        started = time.monotonic()
        outcome = campaign(full, seed)
        print_outcome(what, outcome, time.monotonic() - started)
        ok = ok and not outcome.failures
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="many longer sequences, random seed")
    parser.add_argument("--seed", type=int, help="hypothesis seed (default: derandomized, or random with --full)")
    args = parser.parse_args()
    sys.exit(0 if run(args.full, args.seed) else 1)


if __name__ == "__main__":
    main()
