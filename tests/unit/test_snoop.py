"""INDI snooping: another device's def/set/del messages, forwarded by indiserver after a getProperties naming it,
parsed (xmlstream), routed to the role that follows that device (indi/snoop.py) and acted on by the NexStar
(ACTIVE_DEVICES: a GPS's site and time, a dome's park state under DOME_POLICY, a weather device's readings for
refraction)."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest
import trio

from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.runtime import Runtime
from indi_astrojolo.indi.snoop import Snooper
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.indi.xmlstream import GetProperties, OtherMessage, SnoopedVector, XmlStream, snooped_vector
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC
from mount_sim import request, start_mount

GENEROUS = 120.0  # seconds: only a hang reaches this, even on a loaded machine


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def parse_one(data: bytes) -> SnoopedVector | None:
    (message,) = XmlStream().feed(data)
    assert isinstance(message, OtherMessage)
    return snooped_vector(message)


def number_vector(verb: str, device: str, name: str, state: str, **members: object) -> bytes:
    tag = "defNumber" if verb == "def" else "oneNumber"
    body = "".join(f'<{tag} name="{member}">{value}</{tag}>' for member, value in members.items())
    return f'<{verb}NumberVector device="{device}" name="{name}" state="{state}">{body}</{verb}NumberVector>\n'.encode()


def snooped(verb: str, kind: str, device: str, name: str, state: str | None, **members: object) -> SnoopedVector:
    return SnoopedVector(verb, kind, device, name, state, {m: str(v) for m, v in members.items()}, {})


# --- pure parsing ----------------------------------------------------------------------------------------------


def test_a_set_number_vector_of_another_device_is_read_with_its_state_and_values() -> None:
    vector = parse_one(number_vector("set", "GPS Simulator", "GEOGRAPHIC_COORD", "Ok", LAT="29:30:00", LONG=48.5, ELEV=12))
    assert vector is not None
    assert (vector.verb, vector.kind, vector.device, vector.name, vector.state) == (
        "set", "Number", "GPS Simulator", "GEOGRAPHIC_COORD", "Ok"
    )  # fmt: skip
    assert vector.number("LAT") == 29.5  # sexagesimal, as libindi may send it
    assert (vector.number("LONG"), vector.number("ELEV"), vector.number("MISSING")) == (48.5, 12.0, None)


def test_a_def_switch_vector_and_a_del_property_are_read() -> None:
    vector = parse_one(
        b'<defSwitchVector device="Dome Simulator" name="DOME_PARK" state="Ok" perm="rw" rule="OneOfMany">'
        b'<defSwitch name="PARK">On</defSwitch><defSwitch name="UNPARK">Off</defSwitch></defSwitchVector>'
    )
    assert vector is not None and (vector.verb, vector.kind) == ("def", "Switch")
    assert (vector.switch("PARK"), vector.switch("UNPARK"), vector.switch("OTHER")) == (True, False, None)
    gone = parse_one(b'<delProperty device="Dome Simulator" name="DOME_PARK"/>')
    assert gone == SnoopedVector("del", "", "Dome Simulator", "DOME_PARK", None, {}, {})
    whole = parse_one(b'<delProperty device="Dome Simulator"/>')
    assert whole is not None and (whole.verb, whole.name) == ("del", "")


def test_messages_that_are_no_vector_are_not_snooped() -> None:
    assert parse_one(b'<message device="GPS Simulator" message="hello"/>') is None
    assert parse_one(b'<setNumberVector name="NO_DEVICE"><oneNumber name="A">1</oneNumber></setNumberVector>') is None


# --- the snooper ---------------------------------------------------------------------------------------------


async def test_the_snooper_subscribes_and_routes_only_what_a_role_follows() -> None:
    sent: list[bytes] = []
    seen: list[SnoopedVector] = []

    async def handler(vector: SnoopedVector) -> None:
        seen.append(vector)

    snooper = Snooper(sent.append, "NexStar AUX")
    assert snooper.follow("gps", "GPS Simulator", ("GEOGRAPHIC_COORD", "TIME_UTC"), handler) is False
    asked = [m for data in sent for m in XmlStream().feed(data)]
    assert asked == [
        GetProperties("1.7", "GPS Simulator", "GEOGRAPHIC_COORD"),
        GetProperties("1.7", "GPS Simulator", "TIME_UTC"),
    ]
    wanted = snooped("set", "Number", "GPS Simulator", "GEOGRAPHIC_COORD", "Ok", LAT=1)
    assert snooper.wants(wanted) and await snooper.route(wanted)
    for other in (
        snooped("set", "Number", "Other GPS", "GEOGRAPHIC_COORD", "Ok", LAT=1),  # another device
        snooped("set", "Number", "GPS Simulator", "GPS_REFRESH", "Ok"),  # a property not followed
    ):
        assert not snooper.wants(other) and not await snooper.route(other)
    assert seen == [wanted]

    sent.clear()
    assert snooper.follow("gps", "Other GPS", ("GEOGRAPHIC_COORD", "TIME_UTC"), handler) is True  # a change
    assert [m.device for data in sent for m in XmlStream().feed(data)] == ["Other GPS", "Other GPS"]
    assert not snooper.wants(wanted)  # the old device's messages keep coming: dropped
    sent.clear()
    assert snooper.follow("gps", "Other GPS", ("GEOGRAPHIC_COORD", "TIME_UTC"), handler) is False
    assert sent == []  # unchanged: not asked again
    assert snooper.follow("gps", "", ("GEOGRAPHIC_COORD",), handler) is True and sent == []  # follows nothing
    assert snooper.follow("self", "NexStar AUX", ("GEOGRAPHIC_COORD",), handler) is False and sent == []


# --- the NexStar ---------------------------------------------------------------------------------------------


async def test_a_gps_with_a_fix_sets_the_site_and_time(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        geo = driver.props.number("GEOGRAPHIC_COORD")
        await driver.handle_snooped(
            snooped("set", "Number", "GPS Simulator", "GEOGRAPHIC_COORD", "Busy", LAT=10, LONG=30, ELEV=5)
        )
        assert (geo["LAT"].value, geo["LONG"].value) == (50.0, 20.0)  # no fix: nothing taken
        await driver.handle_snooped(
            snooped("set", "Number", "Other GPS", "GEOGRAPHIC_COORD", "Ok", LAT=10, LONG=30, ELEV=5)
        )
        assert geo["LAT"].value == 50.0  # a device not followed
        await driver.handle_snooped(
            snooped("set", "Number", "GPS Simulator", "GEOGRAPHIC_COORD", "Ok", LAT=10, LONG=30, ELEV=5)
        )
        assert (geo["LAT"].value, geo["LONG"].value, geo["ELEV"].value) == (10.0, 30.0, 5.0)
        assert geo.state.value == "Ok"
        assert driver.props.number("REFRACTION_CONDITIONS")["PRESSURE"].value < 1013.25  # the site's elevation counts

        hour_ahead = driver.now_unix() + 3600
        utc = datetime.fromtimestamp(hour_ahead, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        await driver.handle_snooped(snooped("set", "Text", "GPS Simulator", "TIME_UTC", "Ok", UTC=utc, OFFSET="3"))
        assert driver.props.text("TIME_UTC")["UTC"].value == utc
        assert driver.clock_offset == pytest.approx(3600.5, abs=1.0)
        driver.outbox.take()
        await trio.sleep(1.0)  # the GPS's next update, one second on: the mount's clock agrees, nothing to apply
        again = datetime.fromtimestamp(hour_ahead + 1, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        await driver.handle_snooped(snooped("set", "Text", "GPS Simulator", "TIME_UTC", "Ok", UTC=again, OFFSET="3"))
        assert b'name="TIME_UTC"' not in driver.outbox.take() and driver.props.text("TIME_UTC")["UTC"].value == utc
        await driver.handle_snooped(snooped("set", "Text", "GPS Simulator", "TIME_UTC", "Ok", UTC=again, OFFSET="2"))
        assert driver.props.text("TIME_UTC")["OFFSET"].value == "2"  # a new time zone is taken
        nursery.cancel_scope.cancel()


async def test_a_gps_fix_from_before_the_mount_connected_is_taken_at_connect(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
        driver.runtime_nursery = nursery
        await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
        fix = snooped("set", "Number", "GPS Simulator", "GEOGRAPHIC_COORD", "Ok", LAT=-33.5, LONG=151.25, ELEV=40)
        await driver.handle_snooped(fix)
        assert driver.props.number("GEOGRAPHIC_COORD")["LAT"].value == 50.0  # not connected: kept for later
        await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected
        geo = driver.props.number("GEOGRAPHIC_COORD").values()
        assert geo == {"LAT": -33.5, "LONG": 151.25, "ELEV": 40.0}
        nursery.cancel_scope.cancel()


async def test_a_weather_device_feeds_refraction_with_its_live_readings_only(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        source = driver.props.text("REFRACTION_SOURCE")["SOURCE"]
        conditions = driver.props.number("REFRACTION_CONDITIONS")
        weather = "AstroLink 4 USB"
        readings = dict(WEATHER_TEMPERATURE=-4.5, WEATHER_HUMIDITY=81.0, WEATHER_DEWPOINT=-7.0)
        # The AstroLink's vector is Idle while any reading is not live; each range vector says which.
        await driver.handle_snooped(snooped("def", "Number", weather, "WEATHER_PARAMETERS", "Idle", **readings))
        assert driver.ambient is None  # nothing known to be live yet
        await driver.handle_snooped(snooped("def", "Number", weather, "WEATHER_TEMPERATURE", "Ok", MIN_OK=-10))
        await driver.handle_snooped(snooped("def", "Number", weather, "WEATHER_HUMIDITY", "Idle", MIN_OK=0))
        assert (conditions["TEMPERATURE"].value, conditions.state.value) == (-4.5, "Ok")
        assert conditions["HUMIDITY"].value == 50.0  # not live: assumed
        assert source.value.startswith("weather device AstroLink 4 USB: temperature; assumed:")
        await driver.handle_snooped(snooped("set", "Number", weather, "WEATHER_HUMIDITY", "Busy", MIN_OK=0))
        assert conditions["HUMIDITY"].value == 81.0  # a warning is still a reading
        assert "pressure of the standard atmosphere" in source.value  # the AstroLink has no barometer

        await driver.handle_snooped(snooped("set", "Number", weather, "WEATHER_TEMPERATURE", "Idle", MIN_OK=-10))
        await driver.handle_snooped(snooped("set", "Number", weather, "WEATHER_HUMIDITY", "Idle", MIN_OK=0))
        assert driver.ambient is None and conditions.state.value == "Idle"  # no live reading: standard atmosphere
        await driver.handle_snooped(snooped("set", "Number", weather, "WEATHER_TEMPERATURE", "Ok", MIN_OK=-10))
        assert conditions["TEMPERATURE"].value == -4.5
        await driver.handle_snooped(SnoopedVector("del", "", weather, "WEATHER_PARAMETERS", None, {}, {}))
        assert driver.ambient is None and source.value.startswith("no weather device")  # disconnected: forgotten

        # A device that marks nothing per reading: its vector's state says whether its readings are live.
        await driver.handle_request(request("Text", "ACTIVE_DEVICES", ACTIVE_WEATHER="Station"))
        assert b'<getProperties version="1.7" device="Station" name="WEATHER_PARAMETERS"/>' in driver.outbox.take()
        station = dict(WEATHER_TEMPERATURE=12.0, WEATHER_PRESSURE=950.0, WEATHER_HUMIDITY=40.0)
        await driver.handle_snooped(snooped("set", "Number", weather, "WEATHER_PARAMETERS", "Ok", **readings))
        assert driver.ambient is None  # the AstroLink is no longer followed
        await driver.handle_snooped(snooped("set", "Number", "Station", "WEATHER_PARAMETERS", "Ok", **station))
        assert conditions.values() == {"TEMPERATURE": 12.0, "PRESSURE": 950.0, "HUMIDITY": 40.0}
        assert source.value == "weather device Station: temperature, pressure, humidity"
        await driver.handle_request(request("Text", "ACTIVE_DEVICES", ACTIVE_WEATHER=""))
        assert driver.ambient is None  # following nothing forgets what the station said
        nursery.cancel_scope.cancel()


async def test_a_parked_dome_locks_gotos_and_unpark_only_with_dome_locks(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        dome = "Dome Simulator"
        await driver.handle_snooped(snooped("def", "Switch", dome, "DOME_PARK", "Ok", PARK="On", UNPARK="Off"))
        assert driver.snooped.dome_locked and not driver.snooped.locks()  # DOME_IGNORED by default
        await driver.handle_request(request("Switch", "DOME_POLICY", DOME_LOCKS=True))
        assert driver.snooped.locks()
        driver.outbox.take()
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=5.0, DEC=40.0))
        refused = driver.outbox.take()
        assert driver.props.number("EQUATORIAL_EOD_COORD").state.value == "Alert"
        assert b"the dome Dome Simulator is parked" in refused and driver.motion.phase.name == "IDLE"
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", UNPARK=True))
        assert driver.props.switch("TELESCOPE_PARK").state.value == "Alert"
        # A sync moves nothing: allowed
        await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
        ra, dec = driver.props.number("EQUATORIAL_EOD_COORD").values().values()
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        assert driver.props.number("EQUATORIAL_EOD_COORD").state.value != "Alert"

        # Unparking is not open until the dome says so
        await driver.handle_snooped(snooped("set", "Switch", dome, "DOME_PARK", "Busy", PARK="Off", UNPARK="On"))
        assert driver.snooped.locks()
        await driver.handle_snooped(snooped("set", "Switch", dome, "DOME_PARK", "Ok", PARK="Off", UNPARK="On"))
        assert not driver.snooped.locks()
        await driver.handle_request(request("Switch", "ON_COORD_SET", TRACK=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=ra, DEC=dec))
        assert driver.props.number("EQUATORIAL_EOD_COORD").state.value == "Busy"  # the goto went ahead
        nursery.cancel_scope.cancel()


async def test_active_devices_refuses_the_mount_itself(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        await driver.handle_request(request("Text", "ACTIVE_DEVICES", ACTIVE_GPS=driver.name))
        active = driver.props.text("ACTIVE_DEVICES")
        assert active.state.value == "Alert" and active["ACTIVE_GPS"].value == "GPS Simulator"
        nursery.cancel_scope.cancel()


# --- through the runtime -------------------------------------------------------------------------------------


async def test_the_runtime_subscribes_at_start_and_routes_forwarded_vectors_to_the_snooper() -> None:
    """indiserver's end of a socket pair: the driver asks for the devices it follows as soon as it runs; what
    indiserver then forwards reaches the snooper, never the request handling (no refusal, no error message)."""
    driver_end, peer_end = socket.socketpair()
    driver = NexStarDriver(SPEC, prepare_properties(SPEC), Outbox())
    runtime = Runtime(driver, XmlStream(), [], stdin=driver_end.fileno(), stdout=driver_end.fileno())
    peer = trio.SocketStream(trio.socket.from_stdlib_socket(peer_end))
    received: list = []
    parser = XmlStream()

    async def run_driver() -> None:
        try:
            await runtime.run()
        finally:
            driver_end.close()

    async def until(found, what: str) -> None:
        with trio.fail_after(GENEROUS):
            while not any(found(m) for m in received):
                received.extend(parser.feed(await peer.receive_some(1 << 16)))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_driver)
        await until(lambda m: m == GetProperties("1.7", "AstroLink 4 USB", "WEATHER_PARAMETERS"), "the subscription")
        assert GetProperties("1.7", "GPS Simulator", "GEOGRAPHIC_COORD") in received
        assert GetProperties("1.7", "Dome Simulator", "DOME_PARK") in received
        await peer.send_all(
            number_vector("def", "AstroLink 4 USB", "WEATHER_PARAMETERS", "Ok", WEATHER_TEMPERATURE=3.5, WEATHER_HUMIDITY=70)
            + number_vector("set", "Some Camera", "CCD_TEMPERATURE", "Ok", CCD_TEMPERATURE_VALUE=-10)
            # a request queued behind them: once it is answered, they have been served
            + b'<newSwitchVector device="NexStar AUX" name="DOME_POLICY"><oneSwitch name="DOME_IGNORED">On</oneSwitch>'
            + b"</newSwitchVector>\n"
        )
        await until(lambda m: isinstance(m, OtherMessage) and m.tag == "setSwitchVector", "the answer")
        assert driver.ambient is not None and (driver.ambient.temperature_c, driver.ambient.humidity_percent) == (3.5, 70.0)
        assert driver.ambient.source == "AstroLink 4 USB"
        assert not any(isinstance(m, OtherMessage) and m.tag == "message" for m in received)  # nothing refused
        nursery.cancel_scope.cancel()
    peer_end.close()
