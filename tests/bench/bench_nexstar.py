"""NexStar figures: goto landing error and alt-az tracking error on the emulator (trio's fake clock), astrometry
agreement with astropy, and the driver's CPU and memory while tracking under indiserver.

Run: .venv/bin/python tests/bench/bench_nexstar.py [--cpu-minutes 2]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import trio  # noqa: E402
import trio.testing  # noqa: E402

from harness import Emulator, IndiServer  # noqa: E402
from mount_sim import goto_and_track, pointing_error_arcsec, request, start_mount, target_for_altitude  # noqa: E402

from indi_astrojolo.client import IndiClient  # noqa: E402
from indi_astrojolo.nexstar import astrometry as astro  # noqa: E402
from indi_astrojolo.nexstar.motion import Phase  # noqa: E402

CASES = [(lat, alt, az) for lat in (50.0, -33.9) for alt in (20.0, 40.0, 60.0, 80.0) for az in (45.0, 200.0)]


async def goto_and_tracking(slews_only: bool = False) -> None:
    landing, landing_tracked, tracking, packet_rates, slew_rates, messages = [], [], [], [], [], []
    worst = (0.0, "")
    for latitude, altitude, azimuth in CASES:
        async with trio.open_nursery() as nursery:
            driver = await start_mount(nursery, latitude=latitude, longitude=20.0)
            await driver.handle_request(request("Number", "APPROACH", DISTANCE=1.0))
            ra, dec = target_for_altitude(driver, altitude, azimuth)
            # A goto that ends with the mount stopped (SLEW): the landing error is where the axes stopped.
            assert driver.simulator is not None
            await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
            sent, started = len(driver.simulator.received), trio.current_time()
            await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
            with trio.fail_after(600):
                while driver.motion.phase is not Phase.IDLE or driver.motion.task_scope is not None:
                    await trio.sleep(0.01)
            slew_rates.append((len(driver.simulator.received) - sent) / (trio.current_time() - started))
            landing.append(pointing_error_arcsec(driver, ra, dec))
            if slews_only:
                nursery.cancel_scope.cancel()
                continue
            driver.outbox.take()
            await goto_and_track(driver, ra, dec)
            landing_tracked.append(pointing_error_arcsec(driver, ra, dec))
            await trio.sleep(20)
            assert driver.simulator is not None
            received = len(driver.simulator.received)
            errors = []
            for minute_tenth in range(60):
                await trio.sleep(10)
                errors.append(pointing_error_arcsec(driver, ra, dec))
                if minute_tenth == 9:  # 120 s after tracking began: the INDI messages of one goto and its tracking
                    messages.append(indi_messages(driver.outbox.take()))
            packet_rates.append((len(driver.simulator.received) - received) / 600.0)
            rms = math.sqrt(statistics.fmean(e * e for e in errors))
            tracking.append(rms)
            if rms > worst[0]:
                worst = (rms, f"latitude {latitude}, altitude {altitude}, azimuth {azimuth}")
            nursery.cancel_scope.cancel()
    if slews_only:
        print(f"SLEW gotos: landing median {statistics.median(landing):.2f}\", worst {max(landing):.2f}\"; AUX packets/s "
              f"median {statistics.median(slew_rates):.2f}, most {max(slew_rates):.2f}")  # fmt: skip
        return
    print(f"Goto final error when the goto reports done, {len(landing)} gotos to 20–80° in both hemispheres: "
          f"SLEW (mount stopped) median {statistics.median(landing):.2f}\", worst {max(landing):.2f}\"; "
          f"TRACK median {statistics.median(landing_tracked):.2f}\", worst {max(landing_tracked):.2f}\" "
          f"(target ≤ 5\"; one encoder step is 0.077\")")  # fmt: skip
    print(f"Alt-az sidereal tracking error over 10 simulated minutes, altitudes 20–80°, both hemispheres: "
          f"median RMS {statistics.median(tracking):.3f}\", worst RMS {worst[0]:.3f}\" at {worst[1]} (target ≤ 1\" RMS)")  # fmt: skip
    print(f"AUX packets per second while slewing (the SLEW gotos, request to done): median "
          f"{statistics.median(slew_rates):.2f}, most {max(slew_rates):.2f} (goal ≤ 6; indi_celestron_aux 3.35)")  # fmt: skip
    print(f"INDI messages in one goto and 120 s of tracking (the TRACK gotos): median {statistics.median(messages):.0f}, "
          f"most {max(messages)} (goal: no more than indi_celestron_aux's 317)")  # fmt: skip
    print(f"AUX packets per second while tracking, the same runs: median {statistics.median(packet_rates):.2f}, "
          f"most {max(packet_rates):.2f} (goal ≤ 3; indi_celestron_aux 3.03)")  # fmt: skip


def indi_messages(said: bytes) -> int:
    """The INDI messages (property definitions, updates, deletions and messages) in a driver's output."""
    return len(re.findall(rb"<(?:set|def)[A-Za-z]+Vector |<delProperty |<message ", said))


def astrometry_agreement(samples: int) -> None:
    import numpy as np
    from astropy import units as u
    from astropy.coordinates import TETE, AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    # Both sides with UT1 = UTC and no polar motion: astropy through an IERS table of zeros (as the unit tests do),
    # and never a download.
    mjd = np.arange(40000.0, 70001.0)
    zero = np.zeros_like(mjd)
    columns = {"MJD": mjd * u.d, "UT1_UTC": zero * u.s, "PM_x": zero * u.arcsec, "PM_y": zero * u.arcsec,
               "dX_2000A": zero * u.arcsec, "dY_2000A": zero * u.arcsec}  # fmt: skip
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.earth_orientation_table.set(iers.IERS_B(columns))
    rng = random.Random(1)
    worst = 0.0
    for _ in range(samples):
        latitude, longitude = rng.uniform(-65, 65), rng.uniform(-180, 180)
        unix = rng.uniform(1.6e9, 1.9e9)
        site = astro.Site(latitude, longitude, 0.0)
        when = astro.Instant.from_unix(unix)
        location = EarthLocation.from_geodetic(longitude * u.deg, latitude * u.deg, 0 * u.m)
        t = Time(unix, format="unix", scale="utc")
        az, alt = rng.uniform(0, 360), rng.uniform(15, 85)
        ra, dec = astro.horizontal_to_apparent(az, alt, when, site, None)
        ours = astro.apparent_to_horizontal(ra, dec, when, site, None)
        frame = AltAz(obstime=t, location=location, pressure=0 * u.hPa)
        theirs = SkyCoord(ra=ra * 15 * u.deg, dec=dec * u.deg, frame=TETE(obstime=t)).transform_to(frame)
        separation = SkyCoord(az=ours.azimuth * u.deg, alt=ours.altitude * u.deg, frame=frame).separation(theirs).arcsec
        worst = max(worst, separation)
    print(f"RA/Dec → Az/Alt against astropy (TETE → AltAz, no refraction, UT1 = UTC), {samples} random cases: "
          f"worst {worst:.6f}\" (target ≤ 0.05\")")  # fmt: skip


@contextmanager
def mount_under_indiserver(*emulator_args: str) -> Iterator[tuple[IndiServer, IndiClient, str]]:
    """The driver under a real indiserver, its port set to a fresh emulator's, not yet connected."""
    with Emulator("indi_astrojolo.nexstar.emulator", *emulator_args) as emulator, tempfile.TemporaryDirectory() as temp:
        with IndiServer(["indi_nexstar_aux"], Path(temp)) as server, IndiClient(port=server.port) as client:
            device = "NexStar AUX"
            client.get_properties()
            client.wait_prop(device, "DEVICE_PORT")
            client.set_text(device, "DEVICE_PORT", {"PORT": emulator.address})
            client.wait_state(device, "DEVICE_PORT", "Ok")
            yield server, client, device


def cpu_and_memory(minutes: float) -> None:
    with mount_under_indiserver() as (server, client, device):
        client.set_switch(device, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
        client.wait(lambda: client.prop(device, "MOUNT_INFO"), 30, "connection")
        client.set_switch(device, "TELESCOPE_TRACK_STATE", ["TRACK_ON"], ["TRACK_OFF"])
        client.wait_state(device, "TELESCOPE_TRACK_STATE", "Busy")
        pid = server.driver_pids()[0]

        def cpu() -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        start_cpu, start = cpu(), time.monotonic()
        while time.monotonic() - start < minutes * 60:
            client.pump(1.0)
        used = cpu() - start_cpu
        wall = time.monotonic() - start
        status = Path(f"/proc/{pid}/status").read_text()
        peak = int(status.split("VmHWM:")[1].split()[0])
        print(f"CPU while tracking (1 s updates) for {wall / 60:.1f} min: {100 * used / wall:.2f} % of one core "
              f"(target ≤ 0.5 %); peak memory {peak / 1024:.1f} MiB (target ≤ 40 MiB)")  # fmt: skip
    floor = libraries_floor_kib()
    print(f"  of which the required libraries (trio, lxml, pyerfa with numpy) imported into a bare interpreter: "
          f"{floor / 1024:.1f} MiB; the driver's own share: {(peak - floor) / 1024:.1f} MiB")  # fmt: skip


def connect_times(samples: int, *accessories: str) -> list[float]:
    """Seconds from the client's CONNECT to CONNECTION Ok, as the client sees them, over `samples` connections."""
    times = []
    with mount_under_indiserver(*accessories) as (_, client, device):
        for _ in range(samples):
            start = time.monotonic()
            client.set_switch(device, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
            client.wait_state(device, "CONNECTION", "Ok", timeout=30)
            times.append(time.monotonic() - start)
            client.wait_state(device, "MOUNT_INFO", "Ok", timeout=30)  # the scan after Ok is over
            client.set_switch(device, "CONNECTION", ["DISCONNECT"], ["CONNECT"])
            client.wait_state(device, "CONNECTION", "Idle", timeout=30)
    return times


def connect_figures(samples: int) -> None:
    for label, accessories in (("motor controllers only", ()), ("with a focuser and a GPS", ("--focuser", "--gps"))):
        times = connect_times(samples, *accessories)
        print(f"CONNECT → Ok, {label}: median {statistics.median(times):.2f} s over {samples} connections "
              f"(max {max(times):.2f} s; target ≤ 0.8 s; indi_celestron_aux 0.60 s)")  # fmt: skip


def libraries_floor_kib() -> int:
    """Peak resident memory of this interpreter after importing only what the driver cannot do without."""
    script = "import trio, lxml.etree, erfa; print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu-minutes", type=float, default=2.0)
    parser.add_argument("--astrometry-samples", type=int, default=300)
    parser.add_argument("--connect-samples", type=int, default=7)
    parser.add_argument("--only-connect", action="store_true", help="print the connection figures alone")
    parser.add_argument("--only-slews", action="store_true", help="print the SLEW gotos' figures alone")
    parser.add_argument("--only-cpu", action="store_true", help="print the CPU and memory figures alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["HOME"] = home
        if args.only_cpu:
            cpu_and_memory(args.cpu_minutes)
            return
        if args.only_slews:
            trio.run(goto_and_tracking, True, clock=trio.testing.MockClock(autojump_threshold=0))
            return
        connect_figures(args.connect_samples)
        if args.only_connect:
            return
        trio.run(goto_and_tracking, clock=trio.testing.MockClock(autojump_threshold=0))
    astrometry_agreement(args.astrometry_samples)
    cpu_and_memory(args.cpu_minutes)


if __name__ == "__main__":
    main()
