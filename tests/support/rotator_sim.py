"""A rotctld client on trio's fake clock: requests handed to the real driver's rotator part (what its socket would
hand it), the real emulator's axes measured against the positions sent. For tests/unit/test_rotator_following.py and
tests/bench/bench_rotator.py; the socket itself and hamlib's rotctl are exercised in tests/integration."""

from __future__ import annotations

import math
from collections.abc import Callable

import trio
from mount_sim import true_direction

from indi_astrojolo.nexstar import rotctl

CLIENT = 1  # the one client of these runs


async def say(driver, text: str, client: int = CLIENT) -> bytes:
    """Everything the endpoint answers to `text` (one or more requests)."""
    parser = rotctl.Parser()
    parser.feed(text.encode())
    answer = b""
    for request in parser.events():
        assert isinstance(request, rotctl.Request)
        answer += await driver.rotator.answer(request, client)
    return answer


def pointing_error(driver, azimuth: float, elevation: float) -> float:
    """Degrees on the sky between where the emulated mount truly points and azimuth/elevation."""
    az, el = true_direction(driver)
    a1, a2, b1, b2 = (math.radians(v) for v in (az, el, azimuth, elevation))
    cosine = math.sin(a2) * math.sin(b2) + math.cos(a2) * math.cos(b2) * math.cos(a1 - b1)
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


async def follow_track(
    driver, track: Callable[[float], tuple[float, float]], seconds: int, period: float = 1.0
) -> tuple[list[float], list[float]]:
    """Send `P az el` every `period` seconds from track(t) (t from 0: the current time), as Gpredict does, and just
    before each, measure the pointing error against where the track is then. The first position is sent once the
    mount has reached it (as a rotator is first turned to where the pass starts). Returns the errors (degrees) and
    every true azimuth seen (to check the cord wrap)."""
    assert await say(driver, "P {:.2f} {:.2f}\n".format(*track(0.0))) == b"RPRT 0\n"
    with trio.fail_after(600):
        while pointing_error(driver, *track(0.0)) > 0.05:
            await trio.sleep(0.5)
    start = trio.current_time()
    errors: list[float] = []
    azimuths: list[float] = []
    for step in range(1, int(seconds / period) + 1):
        await trio.sleep_until(start + step * period)
        t = trio.current_time() - start
        errors.append(pointing_error(driver, *track(t)))
        azimuths.append(true_direction(driver)[0])
        answer = await say(driver, "P {:.2f} {:.2f}\n".format(*track(t)))
        assert answer == b"RPRT 0\n", answer
    return errors, azimuths
