"""Rigs for the reliability campaign: one driver under its own indiserver, its emulator on a pty or on 127.0.0.1 TCP,
a pyindi-client, and the emulator's truth — every position it put on the wire, on this process's clock — to hold
what the driver reported against.

A position the driver reports must be one the device reported (within the precision of the conversions between
them) no later than the report; one that does not claim to be stale (any state but Alert) must also be recent: a
device reading no older than `staleness` seconds.
"""

from __future__ import annotations

import bisect
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

CAMPAIGN = Path(__file__).resolve().parent
for extra in (CAMPAIGN.parent / "support", CAMPAIGN.parents[1]):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from harness import Client, Emulator, IndiServer, Snapshot, literal, wait_until  # noqa: E402

from indi_astrojolo.nexstar import astrometry as astro  # noqa: E402
from indi_astrojolo.nexstar import aux  # noqa: E402

CLOCK_SLACK = 0.05  # seconds: how well the emulator's clock is mapped onto ours
AZM, ALT = aux.Device.AZM, aux.Device.ALT
HORIZONTAL_TOLERANCE_ARCSEC = 2.0  # HORIZONTAL_COORD is the encoders through a round trip at one instant
# RA/Dec are converted back at the moment we received them; the driver computed them from a reading at some moment
# between that reading and then, and a fixed RA/Dec moves across the alt-az frame at most at the sidereal rate.
EQUATORIAL_TOLERANCE_ARCSEC = 5.0
SKY_DRIFT_ARCSEC_PER_S = 15.05


def settle(
    client: Client, device: str, name: str, send: Callable[[], None], states=("Ok", "Alert", "Idle"), timeout=30.0
) -> Snapshot:
    """Send a request and wait for the first update of the property in one of `states` after it."""
    mark = client.mark(device, name)
    send()

    def settled() -> Snapshot | None:
        return next((s for s in client.updates_since(device, name, mark) if s.state in states), None)

    return client.wait_for(settled, timeout, f"{name} to settle")


class Rig:
    """What both drivers' rigs share; a subclass names the driver, its emulator and how to read its truth."""

    kind = ""
    device = ""
    driver = ""
    module = ""

    def __init__(self, workdir: Path, *, tcp: bool = False, polling_ms: int | None = None) -> None:
        self.workdir = workdir
        self.tcp = tcp
        self.polling_ms = polling_ms
        self.emulator: Emulator | None = None
        self.server: IndiServer | None = None
        self.client: Client | None = None
        self.pid: int | None = None
        self.clock_offset = 0.0  # emulator time + offset = our time.monotonic()
        self.wall_offset = time.time() - time.monotonic()
        self.truth: list[tuple[Any, ...]] = []

    # --- lifetime --------------------------------------------------------------------------------------------------

    def emulator_args(self) -> list[str]:
        return []

    def start(self) -> "Rig":
        try:
            return self._start()
        except BaseException:
            self.stop()  # a rig that fails half-way must not leave its processes behind
            raise

    def _start(self) -> "Rig":
        self.workdir.mkdir(parents=True, exist_ok=True)
        link = None if self.tcp else self.workdir / "port"
        self.emulator = Emulator(self.module, *self.emulator_args(), link=link, tcp=self.tcp)
        self.server = IndiServer([self.driver], self.workdir).start()
        self.client = Client(self.server.port)
        client, device = self.client, self.device
        if self.tcp:
            client.set_switch(device, "CONNECTION_MODE", ["CONNECTION_TCP"])
            client.set_text(device, "DEVICE_ADDRESS", {"ADDRESS": "127.0.0.1", "PORT": str(self.emulator.tcp_port)})
            client.wait_state(device, "DEVICE_ADDRESS", "Ok")
        else:
            client.set_text(device, "DEVICE_PORT", {"PORT": self.emulator.address})
            client.wait_state(device, "DEVICE_PORT", "Ok")
        if self.polling_ms is not None:
            period = {"PERIOD_MS": self.polling_ms}
            settle(client, device, "POLLING_PERIOD", lambda: client.set_number(device, "POLLING_PERIOD", period))
        client.connect_device(device, timeout=30)
        pids = wait_until(self.server.driver_pids, 5, what="the driver process")
        self.pid = pids[0]
        self._measure_clock()
        self.after_connect()
        return self

    def after_connect(self) -> None:
        """Whatever the driver needs before the campaign's operations (site and time for a mount)."""

    def stop(self) -> None:
        closers = [self.client.close if self.client else None, self.server.stop if self.server else None,
                   self.emulator.stop if self.emulator else None]  # fmt: skip
        for close in closers:
            if close is None:
                continue
            try:
                close()
            except Exception:  # a rig that failed half-way must still release the rest
                pass

    def __enter__(self) -> "Rig":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the emulator ----------------------------------------------------------------------------------------------

    def control(self, line: str) -> str:
        assert self.emulator is not None
        return self.emulator.control(line)

    def call(self, method: str, *args: object) -> Any:
        answer = self.control(" ".join(["call", method, *map(str, args)]))
        return literal(answer.removeprefix("VALUE "))

    def get(self, attribute: str) -> Any:
        assert self.emulator is not None
        return self.emulator.get(attribute)

    def get_length(self, attribute: str) -> int:
        assert self.emulator is not None
        return self.emulator.get_length(attribute)

    def _measure_clock(self) -> None:
        best = (math.inf, 0.0)
        for _ in range(5):
            before = time.monotonic()
            device_time = self.get("time")  # the control channel brings the model to "now" first
            after = time.monotonic()
            best = min(best, (after - before, (before + after) / 2 - device_time))
        self.clock_offset = best[1]

    def fetch_truth(self) -> float:
        """Bring the truth up to date; returns the moment it was asked for. A report received after that moment may
        rest on a reading the truth does not hold yet: it is left for the next check."""
        asked = time.monotonic()
        new = self.call("reported_positions_since", len(self.truth))
        self.truth.extend((t + self.clock_offset, *rest) for t, *rest in new)
        return asked

    # --- the driver ------------------------------------------------------------------------------------------------

    def alive(self) -> bool:
        """The driver process is the one started, and it answers a getProperties (through indi_getprop)."""
        assert self.server is not None
        if self.pid not in self.server.driver_pids():
            return False
        key = f"{self.device}.CONNECTION.CONNECT"
        return self.server.getprop(key, timeout=2).get(key) == "On"

    def rss_kib(self) -> int:
        """The driver's resident memory now, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def snapshot(self, name: str) -> Snapshot | None:
        assert self.client is not None
        return self.client.get(self.device, name)

    def history(self, name: str, since: float = -math.inf) -> list[Snapshot]:
        assert self.client is not None
        return [s for s in self.client.updates_since(self.device, name, 0) if s.received >= since]

    def messages_since(self, index: int) -> list[str]:
        assert self.client is not None
        return [text for device, text in self.client.messages[index:] if device == self.device]

    def message_mark(self) -> int:
        assert self.client is not None
        return len(self.client.messages)

    def settle(self, name: str, send: Callable[[], None], states=("Ok", "Alert", "Idle"), timeout: float = 30.0) -> Snapshot:
        assert self.client is not None
        return settle(self.client, self.device, name, send, states, timeout)

    def set_number(self, name: str, values: dict[str, float]) -> None:
        assert self.client is not None
        self.client.set_number(self.device, name, values)

    def set_switch(self, name: str, on: Any) -> None:
        assert self.client is not None
        self.client.set_switch(self.device, name, on)

    def position_problems(
        self, since: float, staleness: float, origin: float | None = None, until: float = math.inf
    ) -> list[str]:
        """Every position reported from `since` up to `until` (and before the device's truth is fetched) that the
        device did not report, or reported too long before; times in the report count from `origin` (default
        `since`)."""
        raise NotImplementedError

    def each_new_value(self, name: str, since: float, until: float = math.inf) -> list[Snapshot]:
        """The updates from `since` up to `until` that need checking: all but an Alert that repeats a value sent
        before (an Alert says the value is no longer live; it is the last one read, not a new claim)."""
        earlier: set[tuple] = set()
        out = []
        for snap in self.history(name):
            key = tuple(sorted(snap.values.items()))
            if since <= snap.received < until and not (snap.state == "Alert" and key in earlier):
                out.append(snap)
            earlier.add(key)
        return out


@dataclass
class Readings:
    """One quantity's readings as the device put them on the wire: times in order, and values."""

    times: list[float]
    values: list[float]

    def latest_match(self, value: float, at: float, close: Callable[[float, float, float], bool]) -> float | None:
        """The time of the latest reading no later than `at` that close(reading, value, its age) accepts, or None."""
        end = bisect.bisect_right(self.times, at + CLOCK_SLACK)
        for index in range(end - 1, -1, -1):
            if close(self.values[index], value, max(0.0, at - self.times[index])):
                return self.times[index]
        return None

    def around(self, at: float, window: float = 1.0) -> str:
        """The readings within `window` seconds of `at`, for a problem's report: what the device did say then."""
        start, end = bisect.bisect_left(self.times, at - window), bisect.bisect_right(self.times, at + window)
        near = [f"{_short(self.values[i])} at {self.times[i] - at:+.2f} s" for i in range(start, end)]
        if len(near) > 8:
            near = near[:4] + ["..."] + near[-4:]
        return ", ".join(near) or f"none within {window:g} s"


def _short(value: float) -> str:
    """A reading as the device gave it, without trailing zeros: 150 steps, 39.2187°."""
    return f"{value:.5f}".rstrip("0").rstrip(".")


def judge(
    what: str, when: float, state: str, match: float | None, staleness: float, origin: float, readings: Readings
) -> str | None:
    if match is None:
        return (
            f"{what} at +{when - origin:.2f} s ({state}) was never reported by the device"
            f" (the device's readings around then: {readings.around(when)})"
        )
    if state != "Alert" and when - match > staleness:
        return f"{what} at +{when - origin:.2f} s ({state}) is {when - match:.1f} s old but not marked Alert"
    return None


class AstroLinkRig(Rig):
    kind = "astrolink"
    device = "AstroLink 4 USB"
    driver = "indi_astrolink4_usb"
    module = "indi_astrojolo.astrolink4.emulator"

    def after_connect(self) -> None:
        assert self.client is not None
        self.client.wait_property(self.device, "ALERTS")  # the last property defined on connect
        wait_until(lambda: self.get_length("commands") >= 12, 10, what="the first polls")

    def commands_since(self, index: int) -> list[str]:
        return self.get("commands")[index:]

    def position_problems(
        self, since: float, staleness: float, origin: float | None = None, until: float = math.inf
    ) -> list[str]:
        until = min(until, self.fetch_truth())
        readings = Readings([t for t, _ in self.truth], [float(p) for _, p in self.truth])
        problems = []
        for snap in self.each_new_value("ABS_FOCUS_POSITION", since, until):
            value = snap.values["FOCUS_ABSOLUTE_POSITION"]
            match = readings.latest_match(value, snap.received, lambda a, b, age: a == b)
            problem = judge(
                f"focuser position {value:g}", snap.received, snap.state, match, staleness, origin or since, readings
            )
            if problem:
                problems.append(problem)
        return problems


def _tolerance_deg(tolerance_arcsec: float, drift_arcsec_per_s: float, age: float) -> float:
    return (tolerance_arcsec + drift_arcsec_per_s * age) / 3600.0


def _azimuth_close(tolerance_arcsec: float, drift: float, altitude: float) -> Callable[[float, float, float], bool]:
    scale = max(math.cos(math.radians(altitude)), 1e-3)
    return lambda a, b, age: abs((a - b + 180.0) % 360.0 - 180.0) * scale <= _tolerance_deg(tolerance_arcsec, drift, age)


class NexStarRig(Rig):
    kind = "nexstar"
    device = "NexStar AUX"
    driver = "indi_nexstar_aux"
    module = "indi_astrojolo.nexstar.emulator"
    latitude, longitude = 50.0, 20.0

    def emulator_args(self) -> list[str]:
        # Faster slews than a real mount's 2.8 and 0.5 °/s keep the cells short, as in the integration tests.
        return ["--goto-speeds", "8", "2"]

    def after_connect(self) -> None:
        assert self.client is not None
        client, device = self.client, self.device
        site = {"LAT": self.latitude, "LONG": self.longitude, "ELEV": 300}
        self.settle("GEOGRAPHIC_COORD", lambda: client.set_number(device, "GEOGRAPHIC_COORD", site))
        utc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        self.settle("TIME_UTC", lambda: client.set_text(device, "TIME_UTC", {"UTC": utc, "OFFSET": "0"}))
        self.settle("APPROACH", lambda: client.set_number(device, "APPROACH", {"DISTANCE": 0.5}))

    def axis_degrees(self, device: int) -> float:
        value = float(self.call("axis_degrees", device))
        return (value + 180.0) % 360.0 - 180.0 if device == ALT else value

    def readings(self) -> tuple[dict[int, Readings], float]:
        """Each axis's readings, and the moment the truth was asked for."""
        asked = self.fetch_truth()
        out = {AZM: Readings([], []), ALT: Readings([], [])}
        for t, axis, steps in self.truth:
            degrees = steps / aux.STEPS_PER_DEGREE
            if axis == ALT and steps >= aux.STEPS_PER_TURN // 2:
                degrees -= 360.0
            out[axis].times.append(t)
            out[axis].values.append(degrees)
        return out, asked

    def horizontal_at(self, ra: float, dec: float, monotonic: float) -> tuple[float, float]:
        when = astro.Instant.from_unix(monotonic + self.wall_offset)
        site = astro.Site(self.latitude, self.longitude, 300.0)
        # the driver refracts with the standard atmosphere's pressure at the site's elevation (no weather device here)
        weather = astro.Weather(pressure_hpa=astro.standard_pressure_hpa(site.elevation))
        place = astro.apparent_to_horizontal(ra, dec, when, site, weather)
        return place.azimuth, place.altitude

    def position_problems(
        self, since: float, staleness: float, origin: float | None = None, until: float = math.inf
    ) -> list[str]:
        readings, asked = self.readings()
        until = min(until, asked)
        problems: list[str] = []

        def check(what: str, snap: Snapshot, az: float, alt: float, tolerance_arcsec: float, drift: float = 0.0) -> None:
            for axis, value, close in (
                (AZM, az, _azimuth_close(tolerance_arcsec, drift, alt)),
                (ALT, alt, lambda a, b, age: abs(a - b) <= _tolerance_deg(tolerance_arcsec, drift, age)),
            ):
                match = readings[axis].latest_match(value, snap.received, close)
                name = "azimuth" if axis == AZM else "altitude"
                problem = judge(
                    f"{what} {name} {value:.5f}°", snap.received, snap.state, match, staleness, origin or since,
                    readings[axis],
                )
                if problem:
                    problems.append(problem)

        for snap in self.each_new_value("HORIZONTAL_COORD", since, until):
            check("HORIZONTAL_COORD", snap, snap.values["AZ"], snap.values["ALT"], HORIZONTAL_TOLERANCE_ARCSEC)
        for snap in self.each_new_value("EQUATORIAL_EOD_COORD", since, until):
            az, alt = self.horizontal_at(snap.values["RA"], snap.values["DEC"], snap.received)
            check("EQUATORIAL_EOD_COORD", snap, az, alt, EQUATORIAL_TOLERANCE_ARCSEC, SKY_DRIFT_ARCSEC_PER_S)
        return problems

    def pointing_error_arcsec(self) -> float:
        """How far the axes are from TARGET_EOD_COORD now (alt-az, no pointing model)."""
        target = self.snapshot("TARGET_EOD_COORD")
        assert target is not None
        now = time.monotonic()
        az, alt = self.horizontal_at(target.values["RA"], target.values["DEC"], now)
        true_az, true_alt = self.axis_degrees(AZM), self.axis_degrees(ALT)
        d_az = ((true_az - az + 180.0) % 360.0 - 180.0) * math.cos(math.radians(alt))
        return math.hypot(d_az, true_alt - alt) * 3600.0
