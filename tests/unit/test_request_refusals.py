"""Requests the client-input campaign found mishandled: a request that names no device (indiserver hands it to every
driver) and a malformed request for one of our properties (its client shows the property Busy until it hears back)."""

from __future__ import annotations

import pytest

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.indi.xmlstream import MalformedMessage, NewVector, RequestTarget, XmlStream

DEVICE = "AstroLink 4 USB"
HEAD = b'<newNumberVector device="AstroLink 4 USB" name="POLLING_PERIOD">'


@pytest.fixture
def driver(tmp_path, monkeypatch) -> AstroLink4Driver:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)
    return AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())


@pytest.mark.parametrize(
    "data, reason",
    [
        (HEAD + b'<oneNumber name="PERIOD_MS">&xxe;</oneNumber></newNumberVector>\n', "Entity 'xxe' not defined"),
        (HEAD + b'<oneNumber name="PERIOD_MS">1</oneNumber><bogus/></newNumberVector>\n', "unexpected <bogus>"),
        (HEAD + b'<oneNumber name="PERIOD_MS"><b>1</b></oneNumber></newNumberVector>\n', "unexpected <b> inside"),
        (HEAD + b'<oneNumber name="PERIOD_MS">' + b"7" * 2000 + b"</oneNumber></newNumberVector>\n", "exceeds 1000 bytes"),
        (HEAD + b'<oneNumber name="PERIOD_MS">1</oneNumber>\n<getProperties version="1.7"/>\n', "was not closed"),
        (HEAD + b'<oneNumber name="PERIOD_MS">\x01</oneNumber></newNumberVector>\n', "not well-formed"),
    ],
)
def test_a_malformed_request_names_the_property_it_was_for(data: bytes, reason: str) -> None:
    malformed = [m for m in XmlStream(max_message_bytes=1000).feed(data) if isinstance(m, MalformedMessage)]
    assert len(malformed) == 1 and reason in malformed[0].reason
    assert malformed[0].request == RequestTarget("Number", DEVICE, "POLLING_PERIOD")


def test_the_first_of_repeated_attributes_and_escaped_values_are_read() -> None:
    data = b'<newTextVector name="A &amp; B" device="D" name="C"><oneText name="X">x</oneText></newTextVector>\n'
    (malformed,) = XmlStream().feed(data)
    assert isinstance(malformed, MalformedMessage)
    assert malformed.request == RequestTarget("Text", "D", "A & B")


@pytest.mark.parametrize("data", [b"stray words <<\n", b'<message device="D">&x;</message>\n', b"<!DOCTYPE x>\n"])
def test_other_malformed_input_names_no_request(data: bytes) -> None:
    malformed = [m for m in XmlStream().feed(data + b"<getProperties/>") if isinstance(m, MalformedMessage)]
    assert malformed and all(m.request is None for m in malformed)


def test_a_malformed_request_for_our_property_sends_it_back_in_alert_with_the_reason(driver) -> None:
    driver.props.defined["POLLING_PERIOD"] = None
    (malformed,) = XmlStream().feed(HEAD + b'<oneNumber name="PERIOD_MS">&deg;</oneNumber></newNumberVector>\n')
    driver.report_malformed(malformed)
    out = driver.outbox.take().decode()
    assert out.startswith("<setNumberVector") and 'state="Alert"' in out
    assert "Request refused: malformed INDI message: not well-formed XML: Entity 'deg' not defined" in out
    assert driver.props.number("POLLING_PERIOD")["PERIOD_MS"].value == 1000


def test_a_malformed_request_for_another_device_is_only_reported(driver) -> None:
    driver.props.defined["POLLING_PERIOD"] = None
    data = HEAD.replace(b"AstroLink 4 USB", b"Other") + b'<oneNumber name="PERIOD_MS">&deg;</oneNumber></newNumberVector>\n'
    (malformed,) = XmlStream().feed(data)
    driver.report_malformed(malformed)
    out = driver.outbox.take().decode()
    assert out.startswith("<message") and "Malformed INDI message dropped" in out
    assert driver.props["POLLING_PERIOD"].state.value == "Idle"


@pytest.mark.parametrize("device", [None, ""])
async def test_a_request_naming_no_device_is_refused_and_changes_nothing(driver, device) -> None:
    driver.props.defined["POLLING_PERIOD"] = None
    await driver.handle_request(NewVector("Number", device, "POLLING_PERIOD", (("PERIOD_MS", "2000"),), None))
    assert driver.props.number("POLLING_PERIOD")["PERIOD_MS"].value == 1000
    out = driver.outbox.take().decode()
    assert out.startswith("<message") and "newNumberVector 'POLLING_PERIOD' names no device" in out
