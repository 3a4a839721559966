"""LINK_STATISTICS, written once (indi/device.py, from link/session.py's counters): both drivers show their link's
counters in the same words every ten polls, each naming what its link sets aside. Real drivers and emulators on
trio's fake clock."""

from __future__ import annotations

import re

import pytest
import trio

from astrolink_sim import start_astrolink
from indi_astrojolo.indi.device import LINK_STATISTICS_EVERY
from indi_astrojolo.indi.properties import State
from indi_astrojolo.link.session import LinkCounters
from mount_sim import start_mount


def words(ignored: str) -> str:
    return rf"(\d+) requests, \d+ timeouts, \d+ retries, \d+ framing errors, \d+ {ignored}, \d+ reconnects"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def test_the_counters_in_words() -> None:
    counters = LinkCounters(requests=12, timeouts=1, retries=2, framing_errors=3, ignored=4, reconnects=5)
    assert counters.summary() == "12 requests, 1 timeouts, 2 retries, 3 framing errors, 4 stray replies, 5 reconnects"
    assert counters.summary("other packets").endswith("4 other packets, 5 reconnects")


def shown(driver) -> tuple[State, str]:
    vector = driver.props.text("LINK_STATISTICS")
    return vector.state, vector["COUNTERS"].value


async def start_nexstar(nursery):
    return await start_mount(nursery, latitude=50.0, longitude=20.0)


@pytest.mark.parametrize(("start", "ignored"), [(start_astrolink, "stray replies"), (start_nexstar, "other packets")])
async def test_each_driver_shows_its_counters_every_ten_polls(autojump_clock, start, ignored: str) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start(nursery)
        await trio.sleep(LINK_STATISTICS_EVERY * driver.polling_period() * 2)
        state, text = shown(driver)
        assert state is State.OK
        found = re.fullmatch(words(ignored), text)
        assert found, text
        assert int(found[1]) > LINK_STATISTICS_EVERY
        nursery.cancel_scope.cancel()
