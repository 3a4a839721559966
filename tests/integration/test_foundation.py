"""Both executables under a real indiserver, queried with indi_getprop/indi_setprop and driven with pyindi-client,
connected to the emulators over ptys and 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from harness import Emulator, executable, wait_until

ASTROLINK = "AstroLink 4 USB"
NEXSTAR = "NexStar AUX"
ASTROLINK_EMULATOR = "indi_astrojolo.astrolink4.emulator"
NEXSTAR_EMULATOR = "indi_astrojolo.nexstar.emulator"

GENERAL = ["CONNECTION", "DRIVER_INFO", "DEBUG", "SIMULATION", "CONFIG_PROCESS", "POLLING_PERIOD"]
CONNECTION = ["CONNECTION_MODE", "DEVICE_PORT", "DEVICE_BAUD_RATE", "DEVICE_ADDRESS", "DEVICE_PORT_SCAN"]


def test_both_drivers_define_their_general_properties(server_factory) -> None:
    server = server_factory("indi_astrolink4_usb", "indi_nexstar_aux")
    for device in (ASTROLINK, NEXSTAR):  # both drivers are up: a wildcard query only waits its timeout for answers
        server.getprop_when_defined(f"{device}.DRIVER_INFO.DRIVER_INTERFACE")
    values = server.getprop("*.*.*", timeout=2)
    for device in (ASTROLINK, NEXSTAR):
        for name in GENERAL + CONNECTION:
            assert any(key.startswith(f"{device}.{name}.") for key in values), f"{device}.{name} missing"
    assert values[f"{ASTROLINK}.DRIVER_INFO.DRIVER_INTERFACE"] == "295048"
    assert values[f"{NEXSTAR}.DRIVER_INFO.DRIVER_INTERFACE"] == "5"
    assert values[f"{ASTROLINK}.DRIVER_INFO.DRIVER_EXEC"] == "indi_astrolink4_usb"
    assert values[f"{ASTROLINK}.DEVICE_BAUD_RATE.38400"] == "On"
    assert values[f"{NEXSTAR}.DEVICE_BAUD_RATE.19200"] == "On"
    assert values[f"{NEXSTAR}.DEVICE_ADDRESS.PORT"] == "2000"
    assert values[f"{ASTROLINK}.CONNECTION.DISCONNECT"] == "On"
    # nothing of the device is defined before connecting
    assert not any(key.startswith(f"{ASTROLINK}.DEVICE_INFO") for key in values)


def test_indi_setprop_changes_a_setting(server_factory) -> None:
    server = server_factory("indi_astrolink4_usb")
    key = f"{ASTROLINK}.POLLING_PERIOD.PERIOD_MS"
    server.getprop_when_defined(key)  # indi_setprop gives a driver still starting (on a loaded machine) only 2 s
    result = server.setprop(f"{key}=500")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: server.getprop(key).get(key) == "500", 30, what=f"{key} = 500")  # only a hang takes 30 s


@pytest.mark.parametrize("mini", [False, True])
def test_astrolink_connects_over_a_pty_and_identifies_the_model(server_factory, client_factory, mini) -> None:
    with Emulator(ASTROLINK_EMULATOR, *(["--mini"] if mini else [])) as emulator:
        server = server_factory("indi_astrolink4_usb")
        client = client_factory(server)
        client.set_text(ASTROLINK, "DEVICE_PORT", {"PORT": emulator.address})
        client.wait_state(ASTROLINK, "DEVICE_PORT", "Ok")
        client.connect_device(ASTROLINK)
        info = client.wait_property(ASTROLINK, "DEVICE_INFO")
        assert info.values["MODEL"] == ("AstroLink 4 mini" if mini else "AstroLink 4 USB")
        assert info.values["IDENTITY"] == ("AstroLink4mini" if mini else "AstroLink4USB")
        wait_until(lambda: emulator.get("commands").count("q") >= 2, 5, what="polling")
        client.set_switch(ASTROLINK, "CONNECTION", ["DISCONNECT"])
        client.wait_for(lambda: (ASTROLINK, "DEVICE_INFO") in client.removed, 5, "DEVICE_INFO deleted")
        assert client.wait_state(ASTROLINK, "CONNECTION", "Idle").values["DISCONNECT"]


def test_astrolink_connect_fails_clearly_when_the_port_is_missing(server_factory, client_factory, tmp_path) -> None:
    server = server_factory("indi_astrolink4_usb")
    client = client_factory(server)
    client.set_text(ASTROLINK, "DEVICE_PORT", {"PORT": str(tmp_path / "no-such-port")})
    client.set_switch(ASTROLINK, "CONNECTION", ["CONNECT"])
    snapshot = client.wait_state(ASTROLINK, "CONNECTION", "Alert")
    assert snapshot.values["DISCONNECT"] is True
    assert "no-such-port" in client.wait_message(ASTROLINK, "Connection failed")


def test_astrolink_silent_device_fails_the_handshake(server_factory, client_factory) -> None:
    with Emulator(ASTROLINK_EMULATOR) as emulator:
        emulator.control("set faults.silent True")
        server = server_factory("indi_astrolink4_usb")
        client = client_factory(server)
        client.set_text(ASTROLINK, "DEVICE_PORT", {"PORT": emulator.address})
        client.set_switch(ASTROLINK, "CONNECTION", ["CONNECT"])
        client.wait_state(ASTROLINK, "CONNECTION", "Alert", timeout=15)
        assert "no reply" in client.wait_message(ASTROLINK, "Connection failed")
        # the handshake was tried, then tried again after the reset delay
        assert emulator.get("commands").count("#") == 2


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_nexstar_connects_and_scans_the_bus(server_factory, client_factory, transport) -> None:
    with Emulator(NEXSTAR_EMULATOR, "--gps", tcp=transport == "tcp") as emulator:
        server = server_factory("indi_nexstar_aux")
        client = client_factory(server)
        if transport == "tcp":
            client.set_switch(NEXSTAR, "CONNECTION_MODE", ["CONNECTION_TCP"])
            client.set_text(NEXSTAR, "DEVICE_ADDRESS", {"ADDRESS": "127.0.0.1", "PORT": str(emulator.tcp_port)})
            client.wait_state(NEXSTAR, "DEVICE_ADDRESS", "Ok")
        else:
            client.set_text(NEXSTAR, "DEVICE_PORT", {"PORT": emulator.address})
            client.wait_state(NEXSTAR, "DEVICE_PORT", "Ok")
        client.connect_device(NEXSTAR)
        info = client.wait_state(NEXSTAR, "MOUNT_INFO", "Ok")  # the accessories are scanned after CONNECTION Ok
        assert info.values["MODEL"] == "Evolution"
        assert info.values["AZM_VERSION"] == "7.10.4109"
        assert info.values["ALT_VERSION"] == "7.10.4109"
        assert "GPS 1.0" in info.values["BUS_DEVICES"]
        assert "hand controller" in info.values["BUS_DEVICES"]


def test_nexstar_without_motor_controllers_is_a_clear_connection_error(server_factory, client_factory) -> None:
    with Emulator(NEXSTAR_EMULATOR) as emulator:
        emulator.control("set faults.silent True")
        server = server_factory("indi_nexstar_aux")
        client = client_factory(server)
        client.set_text(NEXSTAR, "DEVICE_PORT", {"PORT": emulator.address})
        client.set_switch(NEXSTAR, "CONNECTION", ["CONNECT"])
        client.wait_state(NEXSTAR, "CONNECTION", "Alert", timeout=15)
        text = client.wait_message(NEXSTAR, "Connection failed")
        assert "azimuth/RA motor controller (0x10) does not answer" in text


@pytest.mark.parametrize("device", [ASTROLINK, NEXSTAR])
def test_simulation_connects_without_hardware(server_factory, client_factory, device) -> None:
    server = server_factory("indi_astrolink4_usb", "indi_nexstar_aux")
    client = client_factory(server)
    client.set_switch(device, "SIMULATION", ["ENABLE"])
    client.wait_state(device, "SIMULATION", "Ok")
    client.connect_device(device)
    # The NexStar's MOUNT_INFO is Busy while the accessories are scanned, after CONNECTION is Ok.
    info = client.wait_state(device, "DEVICE_INFO" if device == ASTROLINK else "MOUNT_INFO", ("Ok", "Alert"))
    assert info.state == "Ok"


def test_bad_requests_get_alert_and_a_message_and_change_nothing(server_factory, client_factory) -> None:
    server = server_factory("indi_astrolink4_usb")
    client = client_factory(server)
    client.wait_property(ASTROLINK, "POLLING_PERIOD")
    start = len(client.messages)
    # out of range: refused with Alert, the value stays
    server.raw(
        b'<newNumberVector device="AstroLink 4 USB" name="POLLING_PERIOD">'
        b'<oneNumber name="PERIOD_MS">99999999</oneNumber></newNumberVector>\n'
    )
    snapshot = client.wait_state(ASTROLINK, "POLLING_PERIOD", "Alert")
    assert snapshot.values["PERIOD_MS"] == 1000
    assert "outside the allowed range" in client.wait_message(ASTROLINK, "POLLING_PERIOD.PERIOD_MS", start=start)
    # unknown member, unknown property, rule violation
    server.raw(
        b'<newSwitchVector device="AstroLink 4 USB" name="DEBUG"><oneSwitch name="ENABLE">On</oneSwitch>'
        b'<oneSwitch name="DISABLE">On</oneSwitch></newSwitchVector>\n'
        b'<newTextVector device="AstroLink 4 USB" name="NO_SUCH"><oneText name="X">1</oneText></newTextVector>\n'
        b'<newTextVector device="AstroLink 4 USB" name="DEVICE_PORT"><oneText name="NOPE">1</oneText></newTextVector>\n'
    )
    client.wait_message(ASTROLINK, "allows only one switch On", start=start)
    client.wait_message(ASTROLINK, "unknown property 'NO_SUCH'", start=start)
    client.wait_message(ASTROLINK, "has no member 'NOPE'", start=start)
    assert client.get(ASTROLINK, "DEBUG").values == {"ENABLE": False, "DISABLE": True}
    # the driver is alive and well: a valid request still works
    client.set_number(ASTROLINK, "POLLING_PERIOD", {"PERIOD_MS": 2000})
    assert client.wait_state(ASTROLINK, "POLLING_PERIOD", "Ok").values["PERIOD_MS"] == 2000


def test_malformed_xml_on_stdin_is_dropped_and_the_stream_recovers(tmp_path) -> None:
    """Straight to the driver's stdin (indiserver itself would drop malformed XML before the driver saw it)."""
    env = dict(os.environ, HOME=str(tmp_path))
    process = subprocess.Popen(
        [executable("indi_astrolink4_usb")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    stdin = (
        b'<getProperties version="1.7"/>\n'
        b'<newNumberVector device="AstroLink 4 USB" name="POLLING_PERIOD"><oneNumber name="PERIOD_MS">5</oneNumber>'
        b"</newNumberVector oops>\n"
        b'<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa">]><x>&a;</x>\n'
        b"R&D <<<\n"
        b'<newNumberVector device="AstroLink 4 USB" name="POLLING_PERIOD"><oneNumber name="PERIOD_MS">750</oneNumber>'
        b"</newNumberVector>\n"
    )
    out, err = process.communicate(stdin, timeout=20)
    assert process.returncode == 0
    text = out.decode()
    assert "Malformed INDI message dropped" in text
    assert '<oneNumber name="PERIOD_MS">750</oneNumber>' in text
    assert 'state="Ok"' in text.split("PERIOD_MS\">750")[0].rsplit("<setNumberVector", 1)[1]
    # every stderr line indiserver would log stays under its 1024-byte limit
    assert all(len(line) < 1000 for line in err.splitlines())


def test_indidev_and_indiconfig_are_honoured(server_factory, client_factory, tmp_path) -> None:
    config_file = tmp_path / "custom" / "focuser.xml"
    server = server_factory("indi_astrolink4_usb", env={"INDIDEV": "Pier Box", "INDICONFIG": str(config_file)})
    client = client_factory(server)
    client.set_text("Pier Box", "DEVICE_PORT", {"PORT": "/dev/ttyAL4"})
    client.wait_state("Pier Box", "DEVICE_PORT", "Ok")
    client.set_switch("Pier Box", "CONFIG_PROCESS", ["CONFIG_SAVE"])
    client.wait_state("Pier Box", "CONFIG_PROCESS", "Ok")
    assert "/dev/ttyAL4" in config_file.read_text()
    assert config_file.with_name("focuser.xml.default").exists()
    assert "DRIVER_INFO" not in config_file.read_text()


def test_saved_settings_are_back_after_a_restart(server_factory, client_factory, tmp_path) -> None:
    server = server_factory("indi_nexstar_aux", workdir=tmp_path)
    client = client_factory(server)
    client.set_switch(NEXSTAR, "CONNECTION_MODE", ["CONNECTION_TCP"])
    client.set_text(NEXSTAR, "DEVICE_ADDRESS", {"ADDRESS": "127.0.0.1", "PORT": "2001"})
    client.wait_state(NEXSTAR, "DEVICE_ADDRESS", "Ok")
    client.set_switch(NEXSTAR, "CONFIG_PROCESS", ["CONFIG_SAVE"])
    client.wait_state(NEXSTAR, "CONFIG_PROCESS", "Ok")
    server.stop()
    again = server_factory("indi_nexstar_aux", workdir=tmp_path)
    # asked by name until the restarted driver answers (a wildcard query's 1 s was less than a loaded start-up)
    assert again.getprop_when_defined(f"{NEXSTAR}.DEVICE_ADDRESS.PORT") == {f"{NEXSTAR}.DEVICE_ADDRESS.PORT": "2001"}
    mode = f"{NEXSTAR}.CONNECTION_MODE.CONNECTION_TCP"
    assert again.getprop_when_defined(mode) == {mode: "On"}


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_drivers_exit_when_indiserver_goes_away(server_factory, how) -> None:
    server = server_factory("indi_astrolink4_usb", "indi_nexstar_aux")
    server.getprop(f"{ASTROLINK}.CONNECTION.CONNECT")
    pids = wait_until(lambda: len(server.driver_pids()) == 2 and server.driver_pids(), 5, what="two drivers")
    server.process.send_signal(how)
    server.process.wait(timeout=5)

    def all_gone() -> bool:
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    if handle.read().split()[2] == "Z":
                        continue  # exited; only waiting to be reaped by init
            except FileNotFoundError:
                continue
            return False
        return True

    wait_until(all_gone, 10, what="drivers to exit after indiserver died")


def test_driver_answers_every_get_properties_at_once(server_factory) -> None:
    server = server_factory("indi_nexstar_aux")
    server.getprop_when_defined(f"{NEXSTAR}.CONNECTION.CONNECT")  # started: its start-up is not what is timed
    started = time.monotonic()
    for _ in range(3):
        values = server.getprop(f"{NEXSTAR}.CONNECTION.CONNECT", timeout=2)
        assert values[f"{NEXSTAR}.CONNECTION.CONNECT"] == "Off"
    assert time.monotonic() - started < 5


def test_config_process_load_default_and_purge(server_factory, client_factory, tmp_path) -> None:
    server = server_factory("indi_astrolink4_usb")
    client = client_factory(server)
    config_file = server.home / ".indi" / f"{ASTROLINK}_config.xml"

    def period() -> float:
        return client.get(ASTROLINK, "POLLING_PERIOD").values["PERIOD_MS"]

    def press(action: str) -> None:
        mark = client.mark(ASTROLINK, "CONFIG_PROCESS")
        client.set_switch(ASTROLINK, "CONFIG_PROCESS", [action])
        client.wait_for(
            lambda: any(s.state in ("Ok", "Alert") for s in client.updates_since(ASTROLINK, "CONFIG_PROCESS", mark)),
            5,
            f"{action} to finish",
        )
        assert client.get(ASTROLINK, "CONFIG_PROCESS").state == "Ok", client.messages[-2:]
        assert not any(client.get(ASTROLINK, "CONFIG_PROCESS").values.values())  # switches reset

    client.set_number(ASTROLINK, "POLLING_PERIOD", {"PERIOD_MS": 2000})
    client.wait_for(lambda: period() == 2000, 5)
    press("CONFIG_SAVE")
    assert config_file.exists()
    client.set_number(ASTROLINK, "POLLING_PERIOD", {"PERIOD_MS": 3000})
    client.wait_for(lambda: period() == 3000, 5)
    press("CONFIG_LOAD")
    client.wait_for(lambda: period() == 2000, 5, "the saved period back")
    press("CONFIG_DEFAULT")
    client.wait_for(lambda: period() == 1000, 5, "the driver's default period")
    press("CONFIG_PURGE")
    assert not config_file.exists()


@pytest.mark.parametrize("driver, device", [("indi_astrolink4_usb", ASTROLINK), ("indi_nexstar_aux", NEXSTAR)])
def test_loading_when_nothing_was_saved_yet_is_information_not_an_error(
    server_factory, client_factory, driver, device
) -> None:
    """Ekos presses CONFIG_LOAD on every connect; on a first run there is no file yet, which is normal."""
    server = server_factory(driver)
    client = client_factory(server)
    config_file = server.home / ".indi" / f"{device}_config.xml"
    assert not config_file.exists()
    client.wait_property(device, "CONFIG_PROCESS")
    mark = client.mark(device, "CONFIG_PROCESS")
    first_message = len(client.messages)
    client.set_switch(device, "CONFIG_PROCESS", ["CONFIG_LOAD"])
    answer = client.wait_for(lambda: client.updates_since(device, "CONFIG_PROCESS", mark), 5, "the load's answer")[0]
    assert answer.state == "Idle"
    assert not any(answer.values.values())  # switches reset
    text = client.wait_message(device, "No previous configuration found", start=first_message)
    assert "[INFO] No previous" in text and str(config_file) in text and "press Save in the Options tab" in text
    assert not any("[ERROR]" in text for dev, text in client.messages[first_message:] if dev == device)
    assert not config_file.exists()  # loading writes nothing
    # The driver's defaults (written on the first connect or save) are missing too: that load is still refused.
    mark = client.mark(device, "CONFIG_PROCESS")
    client.set_switch(device, "CONFIG_PROCESS", ["CONFIG_DEFAULT"])
    answer = client.wait_for(lambda: client.updates_since(device, "CONFIG_PROCESS", mark), 5, "the default load's answer")[0]
    assert answer.state == "Alert"
    assert "no config file at" in client.wait_message(device, ".default", start=first_message)


def test_port_scan_answers(server_factory, client_factory) -> None:
    server = server_factory("indi_nexstar_aux")
    client = client_factory(server)
    client.set_switch(NEXSTAR, "DEVICE_PORT_SCAN", ["Scan Ports"])
    snapshot = client.wait_state(NEXSTAR, "DEVICE_PORT_SCAN", "Ok")
    assert snapshot.values == {"Scan Ports": False}
    assert "serial port(s) found" in client.wait_message(NEXSTAR, "serial port(s) found")


def test_debug_logs_the_bytes_on_the_wire(server_factory, client_factory) -> None:
    with Emulator(NEXSTAR_EMULATOR) as emulator:
        server = server_factory("indi_nexstar_aux")
        client = client_factory(server)
        client.set_switch(NEXSTAR, "DEBUG", ["ENABLE"])
        client.wait_state(NEXSTAR, "DEBUG", "Ok")
        client.set_text(NEXSTAR, "DEVICE_PORT", {"PORT": emulator.address})
        client.connect_device(NEXSTAR)
        # GET_VER to the azimuth controller, as it went out, and the controller's reply
        wait_until(lambda: "-> 3b 03 20 10 fe cf" in server.log(), 5, what="the request bytes in the log")
        assert "<- " in server.log()
        assert all(len(line) < 1024 for line in server.log().splitlines())
