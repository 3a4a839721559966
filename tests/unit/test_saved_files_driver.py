"""Saved files seen from the whole driver, on trio's fake clock against the emulators: a damaged config is reported,
applied as far as it can be read and kept aside; a damaged park or pointing file never stops the mount connecting;
a state directory that cannot be written is said in words; a connection that fails part-way leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from lxml import etree

from astrolink_sim import astrolink_request
from disk_faults import refuse_new_files
from mount_sim import DEVICE, request, true_direction
from rotator_sim import say

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.emulator import AstroLink4Emulator, EmulatorConfig
from indi_astrojolo.astrolink4.main import SPEC as ASTROLINK_SPEC
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.spec import connected_names, prepare_properties
from indi_astrojolo.indi.xmlstream import GetProperties
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC
from indi_astrojolo.nexstar.motion import Phase


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)
    monkeypatch.delenv("INDIDEV", raising=False)


def indi_dir(tmp_path: Path) -> Path:
    return tmp_path / ".indi"


def config_file(tmp_path: Path) -> Path:
    return indi_dir(tmp_path) / f"{DEVICE}_config.xml"


def kept_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".damaged-*"))


async def connect_mount(nursery: trio.Nursery, notes: list | None = None) -> NexStarDriver:
    """A NexStar driver as the process starts one (saved config read first), asked to connect to its simulator."""
    props = prepare_properties(SPEC, (lambda level, text: notes.append((level, text))) if notes is not None else None)
    driver = NexStarDriver(SPEC, props, Outbox())
    driver.runtime_nursery = nursery
    await driver.handle_request(request("Switch", "SIMULATION", ENABLE=True))
    await driver.handle_request(request("Switch", "CONNECTION", CONNECT=True))
    return driver


async def save_limits(nursery: trio.Nursery) -> None:
    """A config as a user leaves it: altitude limits 20-80°, cord wrap on at 90°."""
    driver = await connect_mount(nursery)
    assert driver.connected
    await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=20, MAX_ALT=80))
    await driver.handle_request(request("Switch", "CORDWRAP", INDI_ENABLED=True, INDI_DISABLED=False))
    await driver.handle_request(request("Number", "CORDWRAP_POS", POSITION=90))
    await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
    assert driver.props["CONFIG_PROCESS"].state.value == "Ok"
    await driver.handle_request(request("Switch", "CONNECTION", DISCONNECT=True))


# --- a damaged config ---------------------------------------------------------------------------------------------


async def test_a_damaged_config_is_reported_applied_as_far_as_it_reads_and_kept_aside(autojump_clock, tmp_path) -> None:
    async with trio.open_nursery() as nursery:
        await save_limits(nursery)
        path = config_file(tmp_path)
        damaged = path.read_bytes().replace(b"</INDIDriver>", b"")  # the only damage: the closing tag is lost
        path.write_bytes(damaged)

        notes: list = []
        driver = await connect_mount(nursery, notes)
        assert driver.connected
        said = driver.outbox.take().decode()
        # At start-up (before any client is there: logged, and said after the first definitions) and on connecting.
        assert notes and notes[0][0] == "WARNING" and f"{path} is damaged (Premature end of data" in notes[0][1]
        assert f"[WARNING] {path} is damaged (Premature end of data" in said
        # Everything readable was applied: the user's limits and cord wrap, not the defaults.
        assert driver.props.number("ALTITUDE_LIMITS").values() == {"MIN_ALT": 20, "MAX_ALT": 80}
        assert driver.props.switch("CORDWRAP")["INDI_ENABLED"].on
        assert driver.props.number("CORDWRAP_POS")["POSITION"].value == 90
        # One copy of the damaged file (start-up and connect made the same one), byte for byte.
        copies = kept_aside(path)
        assert len(copies) == 1 and copies[0].read_bytes() == damaged
        assert f"a copy of it was kept as {copies[0].name}" in said
        assert driver.props["CONFIG_PROCESS"].state.value == "Alert"

        # Saving replaces the damaged file; the copy stays.
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        assert path.read_bytes().rstrip().endswith(b"</INDIDriver>")
        assert kept_aside(path) == copies and copies[0].read_bytes() == damaged
        nursery.cancel_scope.cancel()


async def test_after_a_damaged_config_the_mount_does_not_move_until_the_limits_are_confirmed(autojump_clock, tmp_path) -> None:
    async with trio.open_nursery() as nursery:
        await save_limits(nursery)
        path = config_file(tmp_path)
        path.write_bytes(path.read_bytes()[:-40])  # cut inside the last entry
        driver = await connect_mount(nursery)
        assert driver.connected
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=50.0, LONG=20.0, ELEV=0))
        limits = driver.props.number("ALTITUDE_LIMITS")
        assert limits.state.value == "Alert"
        driver.outbox.take()

        moves = [
            request("Number", "HORIZONTAL_COORD", AZ=120.0, ALT=45.0),
            request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=True),
            request("Switch", "TELESCOPE_PARK", PARK=True),
            request("Switch", "TELESCOPE_HOME", GO=True),
            request("Number", "TELESCOPE_TIMED_GUIDE_WE", TIMED_GUIDE_W=500),
            request("Switch", "TELESCOPE_TRACK_STATE", TRACK_ON=True),
        ]
        for move in moves:
            await driver.handle_request(move)
            said = driver.outbox.take().decode()
            assert "motion is held: the saved configuration" in said, move.name
            assert driver.props[move.name].state.value == "Alert", move.name
        assert await say(driver, "P 120 45\n") == b"RPRT -9\n"  # the rotctld endpoint: rejected, in hamlib's words
        await trio.sleep(5)
        assert driver.motion.phase is Phase.IDLE
        assert true_direction(driver) == pytest.approx((0.0, 0.0), abs=1e-6)  # nothing moved
        # Syncing and stopping never move, so they are not held.
        await driver.handle_request(request("Switch", "TELESCOPE_ABORT_MOTION", ABORT=True))
        with trio.fail_after(10):  # the abort is Busy until the encoders show the axes at rest
            while driver.props["TELESCOPE_ABORT_MOTION"].state.value == "Busy":
                await trio.sleep(0.1)
        assert driver.props["TELESCOPE_ABORT_MOTION"].state.value == "Ok"

        # The user looks at the limits and sets them (unchanged): the mount may move.
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=limits["MIN_ALT"].value, MAX_ALT=limits["MAX_ALT"].value))
        assert limits.state.value == "Ok" and "Altitude limits confirmed" in driver.outbox.take().decode()
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=120.0, ALT=45.0))
        assert driver.motion.phase is Phase.SLEWING
        nursery.cancel_scope.cancel()


async def test_a_whole_config_holds_nothing(autojump_clock, tmp_path) -> None:
    async with trio.open_nursery() as nursery:
        await save_limits(nursery)
        driver = await connect_mount(nursery)
        assert driver.connected and driver.limits_unconfirmed is None
        assert driver.props["ALTITUDE_LIMITS"].state.value != "Alert"
        assert kept_aside(config_file(tmp_path)) == []
        nursery.cancel_scope.cancel()


async def test_a_config_damaged_while_connected_is_kept_before_a_save_replaces_it(autojump_clock, tmp_path) -> None:
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        assert driver.connected
        path = config_file(tmp_path)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"<INDIDriver><newNumberVector device='NexStar AUX' name='ALTITUDE_LIMITS'><oneNumber name='MIN")
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        assert driver.props["CONFIG_PROCESS"].state.value == "Ok"
        copies = kept_aside(path)
        assert len(copies) == 1 and copies[0].read_bytes().endswith(b"name='MIN")
        nursery.cancel_scope.cancel()


async def test_a_config_over_the_size_limit_is_kept_aside_and_the_driver_starts_without_it(autojump_clock, tmp_path) -> None:
    path = config_file(tmp_path)
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    notes: list = []
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery, notes)
        assert driver.connected
        assert notes and "104,857,600 bytes, more than the 1,048,576" in notes[0][1] and "kept aside" in notes[0][1]
        assert not path.exists() and len(kept_aside(path)) == 1
        nursery.cancel_scope.cancel()


# --- damaged park and pointing files --------------------------------------------------------------------------------

PARK_DAMAGE = [
    ("garbage", b"\x00\x17 not json"),
    ("missing axis1", json.dumps({"format": "astrojolo-park", "version": 1, "axis2": 0.0}).encode()),
    ("a list", b"[1, 2, 3]"),
    ("a string for a number", json.dumps({"format": "astrojolo-park", "version": 1, "axis1": "abc", "axis2": 0}).encode()),
    ("NaN", b'{"format": "astrojolo-park", "version": 1, "parked": true, "axis1": NaN, "axis2": 0, "encoders": [1, 2]}'),
    ("huge encoders", json.dumps({"format": "astrojolo-park", "version": 1, "parked": True, "axis1": 0, "axis2": 0, "encoders": [1e30, 2]}).encode()),
]


@pytest.mark.parametrize("what, content", PARK_DAMAGE, ids=[what for what, _ in PARK_DAMAGE])
async def test_a_damaged_park_file_never_stops_the_mount_connecting(autojump_clock, tmp_path, what, content) -> None:
    path = indi_dir(tmp_path) / f"{DEVICE}_park.json"
    path.parent.mkdir()
    path.write_bytes(content)
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        said = driver.outbox.take().decode()
        assert driver.connected, said[-600:]
        assert f"[WARNING] Park file {path}: it is damaged" in said
        assert "sync on a star or home the mount" in said
        park = driver.props.switch("TELESCOPE_PARK")
        assert park.state.value == "Alert" and park.selected() is None  # unknown: neither parked nor unparked
        assert not path.exists() and [p.read_bytes() for p in kept_aside(path)] == [content]
        # Parking again writes a good file; nothing of the damaged one is lost.
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=50.0, LONG=20.0, ELEV=0))
        await driver.handle_request(request("Switch", "TELESCOPE_PARK", PARK=True))
        with trio.fail_after(600):
            while driver.props["TELESCOPE_PARK"].state.value == "Busy":
                await trio.sleep(1)
        assert driver.props.switch("TELESCOPE_PARK").selected() == "PARK"
        assert json.loads(path.read_text())["parked"] is True
        assert [p.read_bytes() for p in kept_aside(path)] == [content]
        nursery.cancel_scope.cancel()


POINTING_DAMAGE = [
    ("a string for a number", {"format": "astrojolo-pointing-model", "version": 1, "points": [{"sky1": "1", "sky2": 2, "mount1": 3, "mount2": 4}]}),
    ("points not a list", {"format": "astrojolo-pointing-model", "version": 1, "points": {"sky1": 1}}),
    ("a missing field", {"format": "astrojolo-pointing-model", "version": 1, "points": [{"sky1": 1, "sky2": 2, "mount1": 3}]}),
    ("a label that is not text", {"format": "astrojolo-pointing-model", "version": 1, "points": [{"sky1": 1, "sky2": 2, "mount1": 3, "mount2": 4, "label": 5}]}),
]


@pytest.mark.parametrize("what, document", POINTING_DAMAGE, ids=[what for what, _ in POINTING_DAMAGE])
async def test_a_damaged_pointing_file_never_stops_the_mount_connecting(autojump_clock, tmp_path, what, document) -> None:
    path = indi_dir(tmp_path) / f"{DEVICE}_pointing.json"
    path.parent.mkdir()
    path.write_text(json.dumps(document))
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        said = driver.outbox.take().decode()
        assert driver.connected, said[-600:]
        assert f"[WARNING] Pointing model file {path}: it is damaged" in said and "sync again to rebuild it" in said
        assert driver.props.number("POINTING_MODEL")["POINTS"].value == 0
        assert not path.exists() and len(kept_aside(path)) == 1
        nursery.cancel_scope.cancel()


async def test_a_nan_in_the_pointing_file_never_reaches_the_mount(autojump_clock, tmp_path) -> None:
    path = indi_dir(tmp_path) / f"{DEVICE}_pointing.json"
    path.parent.mkdir()
    path.write_text('{"format": "astrojolo-pointing-model", "version": 1, "points": [{"sky1": NaN, "sky2": 2, "mount1": 3, "mount2": 4}]}')
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        assert driver.connected
        await driver.handle_request(request("Number", "GEOGRAPHIC_COORD", LAT=50.0, LONG=20.0, ELEV=0))
        await driver.handle_request(request("Switch", "ON_COORD_SET", SLEW=True))
        await driver.handle_request(request("Number", "HORIZONTAL_COORD", AZ=120.0, ALT=45.0))
        assert b"non-finite" not in driver.outbox.take()
        assert driver.motion.phase is Phase.SLEWING
        nursery.cancel_scope.cancel()


# --- a state directory that cannot be used ----------------------------------------------------------------------------


async def test_the_state_directory_being_a_plain_file_never_stops_the_mount_connecting(autojump_clock, tmp_path) -> None:
    indi_dir(tmp_path).write_text("made by mistake")
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        said = driver.outbox.take().decode()
        assert driver.connected, said[-800:]
        assert driver.props["CONNECTION"].state.value == "Ok"
        assert f"Park file {indi_dir(tmp_path)}/{DEVICE}_park.json: it cannot be read (Not a directory)" in said
        assert f"Pointing model file {indi_dir(tmp_path)}/{DEVICE}_pointing.json: it cannot be read (Not a directory)" in said
        assert "internal error" not in said
        # Saving is refused in words, and so is a sync that cannot keep its point.
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        said = driver.outbox.take().decode()
        assert driver.props["CONFIG_PROCESS"].state.value == "Alert"
        assert f"Configuration not saved: cannot write {indi_dir(tmp_path)}: Not a directory" in said
        # A small correction of where the mount points (a large one would first ask to be confirmed).
        pointing = driver.props["EQUATORIAL_EOD_COORD"]
        with trio.fail_after(10):  # the first reading of the axes is shown
            while pointing["RA"].value == 0.0 and pointing["DEC"].value == 0.0:
                await trio.sleep(0.1)
        ra, dec = pointing["RA"].value, pointing["DEC"].value
        await driver.handle_request(request("Switch", "ON_COORD_SET", SYNC=True))
        await driver.handle_request(request("Number", "EQUATORIAL_EOD_COORD", RA=(ra + 0.01) % 24.0, DEC=dec - 0.1))
        said = driver.outbox.take().decode()
        assert driver.props["EQUATORIAL_EOD_COORD"].state.value == "Alert"
        assert "Not a directory" in said and "internal error" not in said, said[-1500:]
        assert indi_dir(tmp_path).read_text() == "made by mistake"
        nursery.cancel_scope.cancel()


async def test_a_read_only_state_directory_never_stops_the_mount_connecting(autojump_clock, tmp_path, monkeypatch) -> None:
    """Root ignores permission bits, so new files fail here the way they fail on a read-only mount."""
    async with trio.open_nursery() as nursery:
        await save_limits(nursery)  # a config to load, so the .default file is due on connecting
    Path(f"{config_file(tmp_path)}.default").unlink()

    refuse_new_files(monkeypatch, indi_dir(tmp_path))
    async with trio.open_nursery() as nursery:
        driver = await connect_mount(nursery)
        said = driver.outbox.take().decode()
        assert driver.connected and driver.props["CONNECTION"].state.value == "Ok", said[-800:]
        assert "The default configuration was not kept: cannot write" in said and "Read-only file system" in said
        await driver.handle_request(request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        said = driver.outbox.take().decode()
        assert "Configuration not saved: cannot write" in said and "Read-only file system" in said
        assert "internal error" not in said
        nursery.cancel_scope.cancel()


# --- a connection that fails part-way ---------------------------------------------------------------------------------


async def test_a_connection_that_fails_part_way_leaves_nothing_behind(autojump_clock, tmp_path) -> None:
    """The AstroLink stops answering when its dew heater is given its start-up duty, after the connected properties
    were defined and the saved config applied."""
    async with trio.open_nursery() as nursery:
        first = AstroLink4Driver(ASTROLINK_SPEC, prepare_properties(ASTROLINK_SPEC), Outbox())
        first.runtime_nursery = nursery
        await first.handle_request(astrolink_request("Switch", "SIMULATION", ENABLE=True))
        await first.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert first.connected
        await first.handle_request(astrolink_request("Number", "DEW_STARTUP", DEW_CHANNEL_1=40))
        await first.handle_request(astrolink_request("Switch", "CONFIG_PROCESS", CONFIG_SAVE=True))
        await first.handle_request(astrolink_request("Switch", "CONNECTION", DISCONNECT=True))

        driver = AstroLink4Driver(ASTROLINK_SPEC, prepare_properties(ASTROLINK_SPEC), Outbox())
        driver.runtime_nursery = nursery
        driver.simulator = AstroLink4Emulator(EmulatorConfig(), now=trio.current_time())
        driver.simulator.faults.silent_from = "B:"
        await driver.handle_request(astrolink_request("Switch", "SIMULATION", ENABLE=True))
        driver.outbox.take()
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        said = driver.outbox.take().decode()
        connection = driver.props.switch("CONNECTION")
        assert not driver.connected
        assert connection.state.value == "Alert" and connection.selected() == "DISCONNECT"
        assert "Connection failed:" in said and "internal error" not in said and "AssertionError" not in said
        assert 'state="Ok"' not in said.split('name="CONNECTION"')[-1].split(">")[0]  # never said Ok on the way
        connected = set(connected_names(ASTROLINK_SPEC, driver.name))
        assert not connected & set(driver.props.defined), "connected properties left defined"
        sent = etree.fromstring(f"<wire>{said}</wire>")
        defined = {e.get("name") for e in sent if e.tag.startswith("def")}
        updated = {e.get("name") for e in sent if e.tag.startswith("set")}
        assert not (defined | updated) & connected  # the definitions wait for the Ok: no client was shown them
        # The driver still answers, and connects once the device does.
        driver.outbox.take()
        driver.answer_get_properties(GetProperties(None, driver.name, None))
        answer = driver.outbox.take().decode()
        assert 'name="CONNECTION"' in answer and 'name="DEW_STARTUP"' not in answer
        driver.simulator.faults.silent_from = ""
        driver.simulator.faults.silent = False
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected and connection.state.value == "Ok"
        nursery.cancel_scope.cancel()


# --- start-up ----------------------------------------------------------------------------------------------------------


def test_a_huge_config_does_not_hold_up_the_first_get_properties(tmp_path) -> None:
    """The driver process as indiserver starts it: a 100 MB config is kept aside unread (it used to be read and
    parsed before the first answer, 9 s), the definitions are sent and the warning follows them."""
    path = config_file(tmp_path)
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("INDICONFIG", None)
    env.pop("INDIDEV", None)
    process = subprocess.run(
        [sys.executable, "-c", "from indi_astrojolo.nexstar.main import main; main()"],
        input=b'<getProperties version="1.7"/>\n',
        capture_output=True,
        env=env,
        timeout=120,  # a hang guard only: what is checked is that the file was never read
    )
    answer = process.stdout.decode()
    assert process.returncode == 0, process.stderr[-800:]
    assert 'name="CONNECTION"' in answer
    warning = answer.index("[WARNING] The saved configuration was not applied:")
    assert warning > answer.index('name="CONNECTION"')  # said after the definitions, not instead of them
    assert "104,857,600 bytes, more than the 1,048,576" in answer[warning:]
    assert b"104,857,600 bytes" in process.stderr  # and in indiserver's log
    assert not path.exists() and len(kept_aside(path)) == 1
