"""The quick parts of the client-input reliability campaigns (tests/campaign/client_fuzz.py and limits.py), with
derandomized hypothesis seeds so every run tries the same cases; their --full runs are on demand only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "campaign"))

import client_fuzz  # noqa: E402
import limits  # noqa: E402
from input_rigs import ASTROLINK, NEXSTAR, AstroLinkRig, NexStarRig  # noqa: E402

from indi_astrojolo.client import IndiClient  # noqa: E402


@pytest.mark.parametrize("rig_class", [AstroLinkRig, NexStarRig], ids=["astrolink4", "nexstar"])
def test_fuzzed_client_requests_never_harm_the_driver_or_the_device(rig_class, tmp_path) -> None:
    report = client_fuzz.fuzz_driver(rig_class, client_fuzz.QUICK_CASES, workdir=tmp_path)
    assert not report.failures, f"{len(report.failures)} of {report.tried} cases failed:\n" + "\n".join(report.failures)
    assert report.tried >= client_fuzz.QUICK_CASES * 0.9  # hypothesis generated (nearly) all it was asked for
    refused = sum(n for category, n in report.categories.items() if not category.startswith("valid"))
    assert refused > report.tried / 2 and report.tried - refused > 10


def test_the_focuser_never_leaves_zero_to_its_maximum(tmp_path) -> None:
    outcome = limits.focuser_campaign(False, workdir=tmp_path)
    assert not outcome.failures, "\n".join(outcome.failures)
    assert outcome.sequences == limits.QUICK["focuser sequences"] and outcome.samples > 4 * outcome.sequences


def test_the_mount_never_passes_its_altitude_limits_or_its_cord_wrap(tmp_path) -> None:
    outcome = limits.mount_campaign(False, workdir=tmp_path)
    assert not outcome.failures, "\n".join(outcome.failures)
    assert outcome.sequences == limits.QUICK["mount sequences"] and outcome.samples > 20 * outcome.sequences


def test_a_request_that_names_no_device_is_refused_by_every_driver(server_factory) -> None:
    """indiserver hands a new*Vector without a device to every driver; applying it would change every device."""
    server = server_factory("indi_astrolink4_usb", "indi_nexstar_aux")
    with IndiClient("127.0.0.1", server.port) as client:
        client.get_properties()
        for device in (ASTROLINK, NEXSTAR):
            client.wait_prop(device, "POLLING_PERIOD")
        client.send_raw(b'<newNumberVector name="POLLING_PERIOD"><oneNumber name="PERIOD_MS">2000</oneNumber></newNumberVector>\n')
        for device in (ASTROLINK, NEXSTAR):
            client.wait(lambda d=device: any(dev == d and "names no device" in text for dev, text in client.messages), 10)
        for device in (ASTROLINK, NEXSTAR):  # a request through the same queue: the one before has been handled
            client.set_switch(device, "DEBUG", ["DISABLE"])
            client.wait_state(device, "DEBUG", "Ok")
            assert client.prop(device, "POLLING_PERIOD").values["PERIOD_MS"] == 1000
