"""libindi's logging controls: DEBUG, DEBUG_LEVEL, LOGGING_LEVEL and LOG_OUTPUT, the log file's place and lines, and
which of the driver's log records reach the client. The driver runs in this process on trio's fake clock; its
requests go through Device.handle_request as the runtime hands them over."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import trio
import trio.testing

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.indi import config, logs
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.indi.xmlstream import NewVector, OtherMessage, XmlStream

DEVICE = "AstroLink 4 USB"
LINE = re.compile(r"^(ERROR|WARNING|INFO|DEBUG|LINK)\t\d+\.\d{6} sec\t: (.*)$")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)
    root = logging.getLogger(logs.ROOT_LOGGER)
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def new_driver() -> AstroLink4Driver:
    return AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())


def switch(name: str, *on: str, off: tuple[str, ...] = ()) -> NewVector:
    members = tuple((member, "On") for member in on) + tuple((member, "Off") for member in off)
    return NewVector("Switch", DEVICE, name, members, None)


def replies(driver: AstroLink4Driver) -> list[OtherMessage]:
    return [m for m in XmlStream().feed(driver.outbox.take()) if isinstance(m, OtherMessage)]


def messages(found: list[OtherMessage]) -> list[str]:
    return [m.attrib["message"] for m in found if m.tag == "message"]


def run(test) -> None:
    trio.run(test, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_log_file_goes_where_libindi_puts_it() -> None:
    started = datetime(2026, 12, 7, 22, 5, 9, tzinfo=timezone.utc)
    path = logs.log_file_path("/home/astro", "indi_nexstar_aux", started)
    assert path == Path("/home/astro/.indi/logs/2026-12-07/indi_nexstar_aux/indi_nexstar_aux_22:05:09.log")


def test_a_log_line_has_libindis_tag_seconds_since_start_and_text() -> None:
    assert logs.file_line("INFO", 12.0345, "Focuser at 100") == "INFO\t12.034500 sec\t: Focuser at 100\n"
    assert logs.file_line("DEBUG", 0.9999999, "two\nlines") == "DEBUG\t0.999999 sec\t: two | lines\n"


@pytest.mark.parametrize(
    "level, logger, expected",
    [
        (logging.CRITICAL, "indi_astrojolo.nexstar", logs.DBG_ERROR),
        (logging.ERROR, "indi_astrojolo.nexstar", logs.DBG_ERROR),
        (logging.WARNING, "indi_astrojolo.wire", logs.DBG_WARNING),
        (logging.INFO, "indi_astrojolo.astrolink4", logs.DBG_SESSION),
        (logging.DEBUG, "indi_astrojolo.astrolink4", logs.DBG_DEBUG),
        (logging.DEBUG, "indi_astrojolo.wire", logs.DBG_EXTRA_1),
    ],
)
def test_a_records_level_and_logger_give_its_indi_level(level, logger, expected) -> None:
    record = logging.LogRecord(logger, level, __file__, 1, "x", None, None)
    assert logs.level_of(record) == expected


def test_the_level_vectors_appear_with_debug_and_go_with_it() -> None:
    async def test() -> None:
        driver = new_driver()
        for name in logs.LOGGING_PROPERTIES:
            assert name not in driver.props.defined
        await driver.handle_request(switch("DEBUG_LEVEL", "DBG_DEBUG"))
        assert any("DEBUG_LEVEL is available while DEBUG is enabled" in m for m in messages(replies(driver)))

        await driver.handle_request(switch("DEBUG", "ENABLE"))
        out = replies(driver)
        defined = {m.attrib["name"]: m for m in out if m.tag == "defSwitchVector"}
        assert list(defined) == list(logs.LOGGING_PROPERTIES)
        assert all(m.attrib["group"] == "Options" and m.attrib["rule"] == "AnyOfMany" for m in defined.values())
        assert driver.props.switch("DEBUG_LEVEL").values() == {
            "DBG_ERROR": True, "DBG_WARNING": True, "DBG_SESSION": True, "DBG_DEBUG": False, "DBG_EXTRA_1": False
        }
        assert driver.props.switch("LOG_OUTPUT").values() == {"CLIENT_DEBUG": True, "FILE_DEBUG": False}
        assert "[INFO] Debug is enabled" in messages(out)

        await driver.handle_request(switch("DEBUG", "DISABLE"))
        out = replies(driver)
        assert [m.attrib["name"] for m in out if m.tag == "delProperty"] == list(logs.LOGGING_PROPERTIES)
        assert "[INFO] Debug is disabled" in messages(out)

    run(test)


def test_debug_records_reach_the_client_only_when_asked() -> None:
    async def test() -> None:
        driver = new_driver()
        driver.log.debug("detail zero")
        driver.log.info("note zero")
        assert messages(replies(driver)) == []  # debug off: the driver's own log stays on stderr

        await driver.handle_request(switch("DEBUG", "ENABLE"))
        replies(driver)
        driver.log.debug("detail one")
        logging.getLogger(logs.WIRE_LOGGER).debug("AUX -> 3b 03")
        driver.log.info("note one")
        driver.log.warning("worry one")
        assert messages(replies(driver)) == ["[INFO] note one", "[WARNING] worry one"]

        await driver.handle_request(switch("DEBUG_LEVEL", "DBG_DEBUG", "DBG_EXTRA_1", off=("DBG_SESSION",)))
        assert driver.props.switch("DEBUG_LEVEL").state.value == "Ok"
        replies(driver)
        driver.log.debug("detail two")
        logging.getLogger(logs.WIRE_LOGGER).debug("AUX -> 3b 04")
        driver.log.info("note two")
        assert messages(replies(driver)) == ["[DEBUG] detail two", "[LINK] AUX -> 3b 04"]

        # what the driver says to clients anyway is not said twice
        driver.message("said once", "WARNING")
        assert messages(replies(driver)) == ["[WARNING] said once"]

        await driver.handle_request(switch("LOG_OUTPUT", off=("CLIENT_DEBUG",)))
        replies(driver)
        driver.log.debug("detail three")
        assert messages(replies(driver)) == []

        await driver.handle_request(switch("LOG_OUTPUT", "CLIENT_DEBUG"))
        await driver.handle_request(switch("DEBUG", "DISABLE"))
        replies(driver)
        driver.log.debug("detail four")
        driver.log.error("trouble four")
        assert messages(replies(driver)) == []

    run(test)


def test_file_logging_writes_the_chosen_levels_and_closes_when_turned_off(tmp_path) -> None:
    async def test() -> None:
        driver = new_driver()
        await driver.handle_request(switch("DEBUG", "ENABLE"))
        await driver.handle_request(switch("LOGGING_LEVEL", "LOG_DEBUG"))
        await driver.handle_request(switch("LOG_OUTPUT", "FILE_DEBUG"))
        path = driver.driver_log.path
        assert path.parent.parent.parent == tmp_path / ".indi" / "logs"
        assert path.parent.name == "indi_astrolink4_usb" and path.name.startswith("indi_astrolink4_usb_")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", path.parent.parent.name)
        assert f"[INFO] Session log file {path}" in messages(replies(driver))

        driver.log.debug("focuser detail")
        logging.getLogger(logs.WIRE_LOGGER).debug("not chosen for the file")
        driver.message("Focuser stopped", "WARNING")
        driver.log.info("note for the file")
        lines = path.read_text().splitlines()  # line buffered: each record is in the file once logged
        parsed = [LINE.match(line).groups() for line in lines]
        assert parsed == [
            ("INFO", f"Session log file {path}"),
            ("DEBUG", "focuser detail"),
            ("WARNING", "Focuser stopped"),
            ("INFO", "note for the file"),
        ]

        await driver.handle_request(switch("LOG_OUTPUT", off=("FILE_DEBUG",)))
        assert driver.driver_log.file is None
        driver.log.info("after the file was closed")
        assert "after the file was closed" not in path.read_text()

        # on again: the same file, appended to; debug off closes it
        await driver.handle_request(switch("LOG_OUTPUT", "FILE_DEBUG"))
        driver.log.info("appended")
        await driver.handle_request(switch("DEBUG", "DISABLE"))
        assert driver.driver_log.file is None
        driver.log.info("debug is off")
        text = path.read_text()
        assert text.startswith(lines[0]) and "appended" in text and "debug is off" not in text

    run(test)


def test_a_log_file_that_cannot_be_opened_is_refused_and_changes_nothing(tmp_path) -> None:
    async def test() -> None:
        (tmp_path / ".indi").mkdir()
        (tmp_path / ".indi" / "logs").write_text("a file where the folder should be")
        driver = new_driver()
        await driver.handle_request(switch("DEBUG", "ENABLE"))
        replies(driver)
        await driver.handle_request(switch("LOG_OUTPUT", "FILE_DEBUG"))
        out = replies(driver)
        (refusal,) = [m for m in out if m.tag == "setSwitchVector" and m.attrib["name"] == "LOG_OUTPUT"]
        assert refusal.attrib["state"] == "Alert"
        assert "File logging not started" in refusal.attrib["message"]
        assert driver.props.switch("LOG_OUTPUT").values() == {"CLIENT_DEBUG": True, "FILE_DEBUG": False}
        assert driver.driver_log.file is None

    run(test)


def test_saved_debug_and_log_settings_apply_at_start_up(tmp_path) -> None:
    async def test() -> None:
        driver = new_driver()
        await driver.handle_request(switch("DEBUG", "ENABLE"))
        await driver.handle_request(switch("DEBUG_LEVEL", "DBG_DEBUG"))
        await driver.handle_request(switch("LOG_OUTPUT", "FILE_DEBUG"))
        await driver.handle_request(switch("CONFIG_PROCESS", "CONFIG_SAVE"))
        saved = {r.name for r in config.read(config.config_path(DEVICE))}
        assert set(logs.LOGGING_PROPERTIES) | {"DEBUG"} <= saved
        await driver.shutdown()
        assert driver.driver_log.file is None

        again = new_driver()
        for name in logs.LOGGING_PROPERTIES:
            assert name in again.props.defined
        assert again.driver_log.file is not None  # the file logging chosen last time is on from the start
        replies(again)
        again.log.debug("detail after a restart")
        assert messages(replies(again)) == ["[DEBUG] detail after a restart"]
        await again.shutdown()

    run(test)


def test_levels_are_saved_while_debug_is_off() -> None:
    async def test() -> None:
        driver = new_driver()
        await driver.handle_request(switch("DEBUG", "ENABLE"))
        await driver.handle_request(switch("LOGGING_LEVEL", "LOG_DEBUG"))
        await driver.handle_request(switch("DEBUG", "DISABLE"))
        await driver.handle_request(switch("CONFIG_PROCESS", "CONFIG_SAVE"))
        requests = {r.name: dict(r.members) for r in config.read(config.config_path(DEVICE))}
        assert requests["DEBUG"]["ENABLE"] == "Off"
        assert requests["LOGGING_LEVEL"]["LOG_DEBUG"] == "On"

    run(test)


def test_a_log_file_write_that_fails_closes_the_file_and_says_so_once() -> None:
    async def test() -> None:
        driver = new_driver()
        await driver.handle_request(switch("DEBUG", "ENABLE"))
        await driver.handle_request(switch("LOG_OUTPUT", "FILE_DEBUG"))
        replies(driver)
        driver.driver_log.file.close()
        driver.driver_log.file = open("/dev/full", "w", buffering=1)  # every write fails: no space left on device
        driver.log.info("lost one")
        driver.log.info("lost two")
        said = messages(replies(driver))
        warnings = [m for m in said if m.startswith("[WARNING] The log file")]
        assert len(warnings) == 1 and "is no longer written" in warnings[0]
        assert driver.driver_log.file is None
        assert "[INFO] lost two" in said  # the client still hears the log

    run(test)
