"""AstroLink 4 weather safety and family detection through a real indiserver and pyindi-client, the emulator on a pty
(whose speed it reads from the port, as a real device only understands its own)."""

from __future__ import annotations

from harness import Emulator

ASTROLINK = "AstroLink 4 USB"


def test_an_unplugged_sky_sensor_makes_the_weather_unsafe_and_says_which_sensor(astrolink) -> None:
    assert astrolink.wait_state("WEATHER_STATUS", ("Ok", "Busy")).state in ("Ok", "Busy")
    assert astrolink.wait_state("SAFETY_STATUS", ("Ok", "Busy")).state in ("Ok", "Busy")
    start = len(astrolink.client.messages)
    astrolink.emulator.control("set config.sky_sensor False")
    status = astrolink.wait_state("WEATHER_STATUS", "Alert", timeout=5)  # WEATHER_UPDATE is 60 s: this is at once
    assert status.values["WEATHER_CLOUD_COVER"] == "Idle"
    assert astrolink.wait_state("SAFETY_STATUS", "Alert", timeout=5).values == {"SAFETY": "Alert"}
    assert astrolink.wait_state("WEATHER_PARAMETERS", "Idle", timeout=5)
    assert astrolink.wait_state("WEATHER_CLOUD_COVER", "Idle", timeout=5)
    assert astrolink.wait_state("SKY_SENSOR", "Idle", timeout=5)
    # Messages riding on a property's update reach the client as messages (libindi's BaseDevice hands them on).
    said = astrolink.client.wait_message(astrolink.device, "Unsafe, weather unknown", timeout=5, start=start)
    assert "Cloud cover (Sky temperature sensor is not connected)" in said
    # The user's explicit escape still works.
    astrolink.set_switch("WEATHER_OVERRIDE", {"OVERRIDE": True})
    astrolink.wait_state("WEATHER_STATUS", "Ok")
    astrolink.wait_state("SAFETY_STATUS", "Ok")


def test_a_mini_is_found_at_115200_baud_with_the_default_speed_selected(server_factory, client_factory) -> None:
    with Emulator("indi_astrojolo.astrolink4.emulator", "--mini", "--wrong-baud-noise") as emulator:
        server = server_factory("indi_astrolink4_usb")
        client = client_factory(server)
        assert client.wait_property(ASTROLINK, "DEVICE_BAUD_RATE").values["38400"] is True
        client.set_text(ASTROLINK, "DEVICE_PORT", {"PORT": emulator.address})
        client.wait_state(ASTROLINK, "DEVICE_PORT", "Ok")
        client.connect_device(ASTROLINK)
        assert client.wait_property(ASTROLINK, "DEVICE_INFO").values["MODEL"] == "AstroLink 4 mini"
        client.wait_for(lambda: client.get(ASTROLINK, "DEVICE_BAUD_RATE").values["115200"], 5, "115200 shown")
        assert any("not understood" in command for command in emulator.get("commands"))  # 38400 was tried first


def test_a_device_at_neither_speed_fails_clearly(server_factory, client_factory) -> None:
    with Emulator("indi_astrojolo.astrolink4.emulator", "--baud", "57600") as emulator:
        server = server_factory("indi_astrolink4_usb")
        client = client_factory(server)
        client.set_text(ASTROLINK, "DEVICE_PORT", {"PORT": emulator.address})
        client.wait_state(ASTROLINK, "DEVICE_PORT", "Ok")
        client.set_switch(ASTROLINK, "CONNECTION", ["CONNECT"])
        assert client.wait_state(ASTROLINK, "CONNECTION", "Alert", timeout=20).values["DISCONNECT"] is True
        text = client.wait_message(ASTROLINK, "Connection failed", timeout=5)
        assert "no AstroLink 4 answered" in text and "at 38400 or 115200 baud" in text
