"""libindi's logging controls under a real indiserver, as KStars uses them: DEBUG on, the levels chosen, the log
file found where libindi puts it under the driver's HOME, and debug messages at the client only while asked for."""

from __future__ import annotations

import re

import pytest

from tests.support.harness import wait_until

LINE = re.compile(r"^(ERROR|WARNING|INFO|DEBUG|LINK)\t\d+\.\d{6} sec\t: (.*)$")


@pytest.mark.parametrize(
    "device, exec_name", [("AstroLink 4 USB", "indi_astrolink4_usb"), ("NexStar AUX", "indi_nexstar_aux")]
)
def test_debug_to_the_client_and_to_the_log_file(server_factory, client_factory, device, exec_name) -> None:
    server = server_factory(exec_name)
    client = client_factory(server)
    client.set_switch(device, "SIMULATION", ["ENABLE"])
    client.wait_state(device, "SIMULATION", "Ok")
    client.set_switch(device, "DEBUG", ["ENABLE"])
    client.wait_state(device, "DEBUG", "Ok")
    levels = client.wait_property(device, "DEBUG_LEVEL")
    assert levels.values == {
        "DBG_ERROR": True, "DBG_WARNING": True, "DBG_SESSION": True, "DBG_DEBUG": False, "DBG_EXTRA_1": False
    }
    client.set_switch(device, "DEBUG_LEVEL", {"DBG_DEBUG": True, "DBG_EXTRA_1": True})
    client.wait_state(device, "DEBUG_LEVEL", "Ok")
    client.set_switch(device, "LOGGING_LEVEL", {"LOG_DEBUG": True, "LOG_EXTRA_1": True})
    client.wait_state(device, "LOGGING_LEVEL", "Ok")
    client.set_switch(device, "LOG_OUTPUT", {"CLIENT_DEBUG": True, "FILE_DEBUG": True})
    client.wait_state(device, "LOG_OUTPUT", "Ok")
    session = client.wait_message(device, "Session log file")
    path = session.split("Session log file ", 1)[1].strip()
    folder = server.home / ".indi" / "logs"
    (log_file,) = folder.glob(f"*/{exec_name}/{exec_name}_*.log")
    assert str(log_file) == path
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", log_file.parent.parent.name)

    client.connect_device(device)
    client.set_number(device, "POLLING_PERIOD", {"PERIOD_MS": 1500})
    client.wait_state(device, "POLLING_PERIOD", "Ok")
    client.wait_message(device, "[DEBUG] POLLING_PERIOD requested: PERIOD_MS=1500")
    client.wait_message(device, "[LINK] ")  # the bytes on the (simulated) serial line

    def file_lines() -> list[tuple[str, str]]:
        return [match.groups() for line in log_file.read_text().splitlines() if (match := LINE.match(line))]

    wait_until(lambda: ("DEBUG", "POLLING_PERIOD requested: PERIOD_MS=1500") in file_lines(), 10, what="the request")
    tags = {tag for tag, _ in file_lines()}
    assert {"INFO", "DEBUG", "LINK"} <= tags
    assert all(LINE.match(line) for line in log_file.read_text().splitlines())

    # not to the client any more: the file goes on
    client.set_switch(device, "LOG_OUTPUT", {"CLIENT_DEBUG": False, "FILE_DEBUG": True})
    client.wait_state(device, "LOG_OUTPUT", "Ok")
    # the request's own debug line is the last one sent (it is logged before the request is applied)
    last = client.wait_message(device, "[DEBUG] LOG_OUTPUT requested: CLIENT_DEBUG=Off")
    start = client.messages.index((device, last)) + 1
    client.set_number(device, "POLLING_PERIOD", {"PERIOD_MS": 2500})
    client.wait_state(device, "POLLING_PERIOD", "Ok")
    wait_until(lambda: ("DEBUG", "POLLING_PERIOD requested: PERIOD_MS=2500") in file_lines(), 10, what="in the file")
    later = [text for device, text in client.messages[start:] if device == device]
    assert not any("[DEBUG]" in text or "[LINK]" in text for text in later), later

    # debug off: the levels go, the file is closed
    client.set_switch(device, "DEBUG", ["DISABLE"])
    client.wait_state(device, "DEBUG", "Ok")
    client.wait_for(lambda: client.get(device, "LOG_OUTPUT") is None, 10, "LOG_OUTPUT deleted")
    size = log_file.stat().st_size
    client.set_number(device, "POLLING_PERIOD", {"PERIOD_MS": 1000})
    client.wait_state(device, "POLLING_PERIOD", "Ok")
    assert log_file.stat().st_size == size
