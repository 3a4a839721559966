"""The AstroLink 4's session CSV log on trio's fake clock: the status is sampled twice a second while the log is on
and every sample becomes a row, the periodic fsync runs in a worker thread (a slow SD card does not hold up polling
and client requests), and DATA_LOG_DIR stays inside the user's home unless the driver's environment allows more."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import trio

from astrolink_sim import astrolink_request, start_astrolink
from indi_astrojolo.astrolink4 import datalog
from indi_astrojolo.astrolink4.sessionlog import SESSION_SAMPLE_PERIOD


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)
    monkeypatch.delenv(datalog.ALLOWED_DIRECTORIES_VARIABLE, raising=False)


def data_rows(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]


def log_file(driver) -> Path:
    """The file the log writes, as DATA_LOG_DIR shows it."""
    shown = driver.props.text("DATA_LOG_DIR")["FILE"].value
    assert shown, "no session log file is shown"
    return Path(shown)


async def test_rows_are_written_on_each_poll_and_synced_off_the_event_loop(autojump_clock, monkeypatch) -> None:
    synced_in: dict[int, str] = {}  # descriptor -> name of the thread that fsynced it
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            synced_in[fd] = threading.current_thread().name
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        assert driver.props.switch("DATA_LOG")["INDI_ENABLED"].on  # on by default

        # The flushes are observed from trio's side: a flush is counted once its worker thread has returned, so no
        # assertion depends on how far the fake clock jumped while a thread ran.
        real_flush = driver.session_logging.flush
        flushed: list[int] = []
        three_flushed = trio.Event()

        async def observed_flush(fd: int) -> None:
            await real_flush(fd)
            flushed.append(fd)
            if len(flushed) >= 3:
                three_flushed.set()

        monkeypatch.setattr(driver.session_logging, "flush", observed_flush)
        polls_before = driver.polls
        await trio.sleep(95.0)
        polls = driver.polls - polls_before
        path = log_file(driver)
        assert path.parent == datalog.default_directory()
        assert 189 <= polls <= 191  # twice a second, although POLLING_PERIOD is 1000 ms
        # Every sample a row (the connect-time poll comes before the log opens).
        assert len(data_rows(path)) == driver.polls - 1
        await three_flushed.wait()  # due every 30 s: at 30, 60 and 90 s
        nursery.cancel_scope.cancel()
    for fd in flushed[:3]:
        assert synced_in[fd] != threading.main_thread().name


async def polls_in(driver, seconds: float) -> int:
    before = driver.polls
    await trio.sleep(seconds)
    return driver.polls - before


async def test_the_log_samples_twice_a_second_without_slowing_a_faster_poll(autojump_clock) -> None:
    assert SESSION_SAMPLE_PERIOD == 0.5
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await trio.sleep(1.0)  # past the poll that opening the log asked for
        assert 59 <= await polls_in(driver, 30.0) <= 61

        await driver.handle_request(astrolink_request("Switch", "DATA_LOG", INDI_DISABLED=True))
        assert driver.props["DATA_LOG"].state.value == "Ok"
        await trio.sleep(1.0)
        assert 29 <= await polls_in(driver, 30.0) <= 31  # back to POLLING_PERIOD (1000 ms)

        await driver.handle_request(astrolink_request("Number", "POLLING_PERIOD", PERIOD_MS=5000))
        await driver.handle_request(astrolink_request("Switch", "DATA_LOG", INDI_ENABLED=True))
        assert driver.props["DATA_LOG"].state.value == "Ok"
        await trio.sleep(1.0)  # the log asks for a poll at once rather than after the 5 s period
        assert 59 <= await polls_in(driver, 30.0) <= 61

        await driver.handle_request(astrolink_request("Number", "POLLING_PERIOD", PERIOD_MS=200))
        await trio.sleep(1.0)
        assert 149 <= await polls_in(driver, 30.0) <= 151  # a faster POLLING_PERIOD is kept
        nursery.cancel_scope.cancel()


async def test_a_due_flush_still_runs_and_closes_its_descriptor_when_the_connection_is_going_away(
    autojump_clock, tmp_path, monkeypatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        descriptor = os.open(tmp_path / "flushed", os.O_WRONLY | os.O_CREAT)
        flushed = os.fstat(descriptor).st_ino
        with trio.CancelScope() as going_away:
            going_away.cancel()  # a disconnect cancels the connection's tasks, this flush among them
            await driver.session_logging.flush(descriptor)
        assert descriptor in synced
        assert not still_open(descriptor, flushed)  # not leaked with every disconnect
        nursery.cancel_scope.cancel()


def still_open(descriptor: int, inode: int) -> bool:
    """Is the descriptor still open on that file? (A closed number may already be reused for another one.)"""
    try:
        return os.fstat(descriptor).st_ino == inode
    except OSError:
        return False


# --- DATA_LOG_DIR -----------------------------------------------------------------------------------------------------


async def set_directory(driver, directory: str) -> tuple[str, str]:
    """Ask for a data directory as a client would; the vector's state and what it now holds."""
    await driver.handle_request(astrolink_request("Text", "DATA_LOG_DIR", DIRECTORY=directory, FILE=""))
    vector = driver.props.text("DATA_LOG_DIR")
    return vector.state.value, vector["DIRECTORY"].value


async def test_a_directory_outside_the_home_is_refused_and_changes_nothing(
    autojump_clock, tmp_path, monkeypatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (home / "link").symlink_to(outside)
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        await trio.sleep(2.0)
        before = log_file(driver)
        for directory in (str(outside / "logs"), str(home / "link" / "logs"), "/etc/astro", str(home / ".." / "x")):
            state, kept = await set_directory(driver, directory)
            assert (state, kept) == ("Alert", ""), directory
            assert log_file(driver) == before
        assert not (outside / "logs").exists()
        assert "outside your home directory" in driver.outbox.take().decode()

        state, kept = await set_directory(driver, str(home / "no" / "such" / "nights"))
        assert (state, kept) == ("Alert", "")  # only the last level is ever created
        assert not (home / "no").exists()

        state, kept = await set_directory(driver, "~/nights")
        assert (state, kept) == ("Ok", "~/nights")
        await trio.sleep(2.0)
        assert log_file(driver).parent == home / "nights"
        assert len(data_rows(log_file(driver))) >= 3
        nursery.cancel_scope.cancel()


async def test_a_directory_outside_the_home_listed_in_the_environment_is_used(
    autojump_clock, tmp_path, monkeypatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv(datalog.ALLOWED_DIRECTORIES_VARIABLE, f"relative/ignored{os.pathsep}{shared}")
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        state, _ = await set_directory(driver, str(shared / "astrolink"))
        assert state == "Ok"
        await trio.sleep(2.0)
        assert log_file(driver).parent == shared / "astrolink"
        assert len(data_rows(log_file(driver))) >= 3
        nursery.cancel_scope.cancel()


async def test_a_directory_no_longer_allowed_stops_the_log_on_the_next_connect(
    autojump_clock, tmp_path, monkeypatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv(datalog.ALLOWED_DIRECTORIES_VARIABLE, str(shared))
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        state, _ = await set_directory(driver, str(shared / "astrolink"))
        assert state == "Ok"
        await trio.sleep(2.0)
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", DISCONNECT=True))
        # Set (and perhaps saved with the config) while ASTROJOLO_DATA_DIRS allowed it; the driver restarted without.
        monkeypatch.delenv(datalog.ALLOWED_DIRECTORIES_VARIABLE)
        rows_before = len(data_rows(next((shared / "astrolink").glob("*.csv"))))
        await driver.handle_request(astrolink_request("Switch", "CONNECTION", CONNECT=True))
        assert driver.connected
        assert driver.props["DATA_LOG"].state.value == "Alert"
        assert "outside your home directory" in driver.outbox.take().decode()
        await trio.sleep(5.0)
        assert len(data_rows(next((shared / "astrolink").glob("*.csv")))) == rows_before
        assert 4 <= await polls_in(driver, 5.0) <= 6  # back to POLLING_PERIOD: no log to sample for
        nursery.cancel_scope.cancel()
