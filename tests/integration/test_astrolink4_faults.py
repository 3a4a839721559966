"""AstroLink 4: the driver survives every fault the emulator can inject, says so with Alert and a message, and
recovers when the device does."""

from __future__ import annotations

import pytest

from harness import wait_until


def recovered(rig) -> None:
    mark = rig.client.mark(rig.device, "POWER_SENSORS")
    rig.client.wait_for(
        lambda: any(s.state == "Ok" for s in rig.client.updates_since(rig.device, "POWER_SENSORS", mark)), 10, "fresh readings"
    )


@pytest.mark.parametrize(
    "fault, setting",
    [("silence", "faults.silent True"), ("error replies", "faults.wrong_letter True"), ("truncated status", "faults.truncate_status True")],
)
def test_a_failing_device_is_reported_and_recovery_is_automatic(astrolink, fault, setting) -> None:
    start = len(astrolink.client.messages)
    astrolink.emulator.control(f"set {setting}")
    astrolink.client.wait_message(astrolink.device, "does not answer", timeout=15, start=start)
    astrolink.wait_state("POWER_SENSORS", "Alert")
    assert astrolink.wait_state("WEATHER_STATUS", "Alert").state == "Alert"  # no readings is not safe
    assert astrolink.client.get(astrolink.device, "CONNECTION").values["CONNECT"] is True
    attribute = setting.split()[0]
    astrolink.emulator.control(f"set {attribute} False")
    astrolink.client.wait_message(astrolink.device, "answers again", timeout=15, start=start)
    recovered(astrolink)


def test_requests_during_silence_are_refused_with_a_reason(astrolink) -> None:
    astrolink.emulator.control("set faults.silent True")
    snapshot = astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_3": True}, kind="Switch")
    assert snapshot.state == "Alert"
    assert "did not answer" in astrolink.client.wait_message(astrolink.device, "did not answer")
    assert snapshot.values["POWER_CHANNEL_3"] is False  # the switch shows what the device has, not the request
    astrolink.emulator.control("set faults.silent False")
    recovered(astrolink)
    astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_3": True}, kind="Switch")
    assert astrolink.emulator.get("outputs")[2] is True


@pytest.mark.parametrize("setting", ["faults.garbage True", "faults.reply_for_other_command True"])
def test_junk_and_stale_replies_are_ignored(astrolink, setting) -> None:
    astrolink.emulator.control(f"set {setting}")
    result = astrolink.move_to(300)
    assert result.state == "Ok" and result.values["FOCUS_ABSOLUTE_POSITION"] == 300
    astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_2": True}, kind="Switch")
    assert astrolink.emulator.get("outputs")[1] is True


def test_crlf_line_endings(astrolink_factory) -> None:
    rig = astrolink_factory("--crlf")
    assert rig.values("DEVICE_INFO")["IDENTITY"] == "AstroLink4USB"
    assert rig.move_to(150).values["FOCUS_ABSOLUTE_POSITION"] == 150


def test_short_status_while_moving(astrolink_factory) -> None:
    rig = astrolink_factory("--short-status")
    result = rig.move_to(400)
    assert result.state == "Ok" and result.values["FOCUS_ABSOLUTE_POSITION"] == 400


def test_dropped_replies_cost_a_retry_not_a_failure(astrolink) -> None:
    astrolink.emulator.control("set faults.drop_replies 1")
    snapshot = astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_2": True}, kind="Switch")
    assert snapshot.state in ("Ok", "Busy")
    wait_until(lambda: astrolink.emulator.get("outputs")[1] is True, 5)


def test_unplugged_mid_move_then_back(astrolink) -> None:
    astrolink.set_number("FOCUSER_SETTINGS", {"FS_SPEED": 100})
    astrolink.wait_value("FOCUSER_SETTINGS", "FS_SPEED", lambda v: v == 100)
    astrolink.set_number("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 600})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v > 20)
    start = len(astrolink.client.messages)
    moves_before = [c for c in astrolink.commands() if c.startswith("R:")]
    astrolink.emulator.control("disconnect")  # the cable is pulled (the emulator offers a new pty at the same path)
    astrolink.wait_state("ABS_FOCUS_POSITION", "Alert")
    assert any("does not answer" in m or "unknown" in m for m in astrolink.messages_since(start))
    # the port is back: the driver reconnects by itself, reports what the device reports, and never re-sends the move
    astrolink.client.wait_message(astrolink.device, "answers again", timeout=15, start=start)
    recovered(astrolink)
    final = astrolink.wait_state("ABS_FOCUS_POSITION", "Ok", 20)
    assert final.values["FOCUS_ABSOLUTE_POSITION"] == astrolink.emulator.get("position")
    assert [c for c in astrolink.commands() if c.startswith("R:")] == moves_before


def test_astrolink_over_tcp(server_factory, client_factory) -> None:
    """A serial-to-network bridge: the same protocol over TCP on 127.0.0.1."""
    from harness import Emulator

    with Emulator("indi_astrojolo.astrolink4.emulator", tcp=True) as emulator:
        server = server_factory("indi_astrolink4_usb")
        client = client_factory(server)
        device = "AstroLink 4 USB"
        client.set_switch(device, "CONNECTION_MODE", ["CONNECTION_TCP"])
        client.set_text(device, "DEVICE_ADDRESS", {"ADDRESS": "127.0.0.1", "PORT": str(emulator.tcp_port)})
        client.wait_state(device, "DEVICE_ADDRESS", "Ok")
        client.connect_device(device)
        assert client.wait_property(device, "DEVICE_INFO").values["MODEL"] == "AstroLink 4 USB"
        client.set_number(device, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 120})
        client.wait_for(
            lambda: (s := client.get(device, "ABS_FOCUS_POSITION")) and s.state == "Ok"
            and s.values["FOCUS_ABSOLUTE_POSITION"] == 120, 20, "the move over TCP",
        )
        assert emulator.get("position") == 120
