"""The AstroLink 4's session CSV log on trio's fake clock: rows go out on every status poll, and the periodic fsync
runs in a worker thread, so a slow SD card does not hold up polling and client requests."""

from __future__ import annotations

import os
import stat
import threading

import pytest
import trio

from astrolink_sim import start_astrolink
from indi_astrojolo.astrolink4 import datalog


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


async def test_rows_are_written_on_each_poll_and_synced_off_the_event_loop(autojump_clock, monkeypatch) -> None:
    synced_in: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            synced_in.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    async with trio.open_nursery() as nursery:
        driver = await start_astrolink(nursery)
        assert driver.props.switch("DATA_LOG")["INDI_ENABLED"].on  # on by default
        await trio.sleep(95.0)
        path = driver.session_log.path
        assert path is not None and path.parent == datalog.default_directory()
        rows = path.read_text().splitlines()[1:]
        assert len(rows) >= 90  # one a second at the default polling period
        assert len(synced_in) >= 3  # every 30 s
        assert threading.main_thread().name not in synced_in
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
            await driver._sync_session_log(descriptor)
        assert descriptor in synced
        assert not still_open(descriptor, flushed)  # not leaked with every disconnect
        nursery.cancel_scope.cancel()


def still_open(descriptor: int, inode: int) -> bool:
    """Is the descriptor still open on that file? (A closed number may already be reused for another one.)"""
    try:
        return os.fstat(descriptor).st_ino == inode
    except OSError:
        return False
