"""Satellite-tracking figures: the following error over simulated ISS passes (trio's fake clock, the real driver and
emulator, the emulator's axis speed and acceleration limits), the worst moment of an overhead pass and its cause, the
same passes near the zenith followed over the top (SAT_FLIP), and the driver's CPU while following a pass in real
time under indiserver.

Run: .venv/bin/python tests/bench/bench_satellite.py [--cpu-seconds 120]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import numpy as np  # noqa: E402
import trio  # noqa: E402
import trio.testing  # noqa: E402

from harness import Emulator, IndiServer  # noqa: E402
from passes import pass_scenario  # noqa: E402
from mount_sim import request  # noqa: E402
from satellite_sim import EPOCH, ISS_TLE, LEAD, follow, iso, prepare  # noqa: E402

from indi_astrojolo.client import IndiClient  # noqa: E402
from indi_astrojolo.nexstar.orbit import Orbit, parse_tle  # noqa: E402

PEAKS = (20.0, 35.0, 50.0, 65.0)
OVERHEAD_PEAKS = (80.0, 85.0, 89.0, 89.9)
SETTLE_SAMPLES = 10  # seconds after the rise in which the loop takes out what the slow goto left


async def following_errors(orbit: Orbit) -> None:
    print("Following error over simulated ISS passes (optical pointing, target ≤ 1′ RMS below 70°):")
    for peak in PEAKS:
        for side in (1, -1):
            site, found = pass_scenario(orbit, EPOCH + 3600, peak, side=side, lead_seconds=LEAD)
            async with trio.open_nursery() as nursery:
                driver = await prepare(nursery, site, found.rise.unix - LEAD)
                errors, _, _ = await follow(driver, orbit, site, found)
                nursery.cancel_scope.cancel()
            settled = errors[SETTLE_SAMPLES:]
            rms = math.sqrt(float(np.mean(settled**2)))
            print(f"  peak {peak:4.0f}° ({'left' if side > 0 else 'right'} of the track): RMS {rms / 60:.3f}′, "
                  f"worst {settled.max() / 60:.3f}′ over {len(errors)} s")  # fmt: skip
    site, found = pass_scenario(orbit, EPOCH + 3600, 89.0, lead_seconds=LEAD)
    async with trio.open_nursery() as nursery:
        driver = await prepare(nursery, site, found.rise.unix - LEAD)
        errors, elevations, _ = await follow(driver, orbit, site, found)
        plan = driver.satellites.plan
        nursery.cancel_scope.cancel()
    worst = int(np.argmax(errors))
    below = elevations < 70.0
    print(f"  overhead pass (peak 89°): worst {errors[worst] / 3600:.2f}° at {elevations[worst]:.1f}° up; planned "
          f"worst {plan.worst_error:.2f}° at {iso(plan.worst_time)}, cause: {plan.worst_cause}; RMS below 70° "
          f"{math.sqrt(float(np.mean(errors[below][SETTLE_SAMPLES:] ** 2))) / 60:.2f}′")  # fmt: skip
    await over_the_top_errors(orbit)


async def over_the_top_errors(orbit: Orbit) -> None:
    print("Over the top (SAT_FLIP on; target ≤ 0.2′ RMS over the whole pass, which no two-axis mount can meet within")
    print("about 90° − peak of the zenith: the bound is printed beside each):")
    for peak in OVERHEAD_PEAKS:
        site, found = pass_scenario(orbit, EPOCH + 3600, peak, lead_seconds=LEAD)
        async with trio.open_nursery() as nursery:
            driver = await prepare(nursery, site, found.rise.unix - LEAD)
            swing = driver.props.number("SAT_PASS_GEOMETRY")["WORST_PLANNED_ERROR"].value
            await driver.handle_request(request("Switch", "SAT_FLIP", SAT_FLIP_ON=True))
            errors, elevations, _ = await follow(driver, orbit, site, found)
            plan = driver.satellites.plan
            nursery.cancel_scope.cancel()
        settled, high = errors[SETTLE_SAMPLES:], elevations[SETTLE_SAMPLES:] > 80.0
        rms = math.sqrt(float(np.mean(settled**2)))
        below = math.sqrt(float(np.mean(settled[~high] ** 2)))
        print(f"  peak {found.culmination.elevation:5.2f}°: {'over the top' if plan.over_the_top else 'swing'}; "
              f"RMS {rms / 60:.2f}′ over the pass ({below / 60:.3f}′ below 80°, {int(high.sum())} s above), worst "
              f"{settled.max() / 3600:.2f}° (bound {90.0 - found.culmination.elevation:.2f}°); the swing planned "
              f"{swing:.2f}° at worst")  # fmt: skip


def cpu_while_following(orbit: Orbit, seconds: float) -> None:
    site, found = pass_scenario(orbit, EPOCH + 3600, 45.0)
    device = "NexStar AUX"
    with Emulator("indi_astrojolo.nexstar.emulator") as emulator, tempfile.TemporaryDirectory() as temp:
        with IndiServer(["indi_nexstar_aux"], Path(temp)) as server, IndiClient(port=server.port) as client:
            client.get_properties()
            client.wait_prop(device, "DEVICE_PORT")
            client.set_text(device, "DEVICE_PORT", {"PORT": emulator.address})
            client.wait_state(device, "DEVICE_PORT", "Ok")
            client.set_switch(device, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
            client.wait(lambda: client.prop(device, "MOUNT_INFO"), 30, "connection")
            client.set_number(device, "GEOGRAPHIC_COORD", {"LAT": site.latitude, "LONG": site.longitude % 360, "ELEV": 0})
            client.set_switch(device, "CORDWRAP", ["INDI_DISABLED"], ["INDI_ENABLED"])
            client.set_text(device, "TIME_UTC", {"UTC": iso(round(found.rise.unix) - 90), "OFFSET": "0"})
            client.set_text(device, "SAT_TLE_TEXT", {"TLE": ISS_TLE})
            client.wait_state(device, "SAT_TLE_TEXT", "Ok")
            client.set_switch(device, "SAT_TRACKING_STAT", ["SAT_TRACK"], ["SAT_HALT"])
            client.wait_state(device, "SAT_STATUS", "Busy", timeout=240)  # following from the rise on
            pid = server.driver_pids()[0]

            def cpu() -> float:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

            start_cpu, start = cpu(), time.monotonic()
            while time.monotonic() - start < min(seconds, found.duration - 10):
                client.pump(1.0)
            used, wall = cpu() - start_cpu, time.monotonic() - start
            error = client.prop(device, "SAT_STATUS")
            print(f"CPU while following a pass (4 rate updates a second) for {wall:.0f} s: {100 * used / wall:.2f} % "
                  f"of one core (target ≤ 2 %); the driver's own following error then: "
                  f"{error.values['FOLLOW_ERROR'] if error else float('nan'):.2f}′")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu-seconds", type=float, default=120.0)
    args = parser.parse_args()
    orbit = Orbit(parse_tle(ISS_TLE, EPOCH))
    with tempfile.TemporaryDirectory() as home:
        os.environ["HOME"] = home
        trio.run(following_errors, orbit, clock=trio.testing.MockClock(autojump_threshold=0))
    print(f"(TLE epoch {datetime.fromtimestamp(EPOCH, timezone.utc):%Y-%m-%d %H:%M} UTC)")
    cpu_while_following(orbit, args.cpu_seconds)


if __name__ == "__main__":
    main()
