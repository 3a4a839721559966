"""The AstroLink 4 session data log's writer: append-only CSV rows that survive a killed process, in the right file.

Rows are checked by reading them back with the charts tool's reader (tools/session_csv.py); its own tests, with the
summary's and the charts', are in test_night_charts.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indi_astrojolo.astrolink4 import datalog
from indi_astrojolo.astrolink4.datalog import COLUMNS, Sample, SessionLog, file_for
from indi_astrojolo.tools.session_csv import read_csv

UTC = timezone.utc
EVENING = datetime(2024, 3, 9, 20, 0, 0, tzinfo=UTC)
FILE_NAME = "astrolink-4-usb-2024-03-09.csv"


def sample(when: datetime = EVENING, **values: object) -> Sample:
    defaults: dict[str, object] = dict(position=12000, temperature_1=7.25, humidity_1=81.5, voltage=12.3, output_1=True)
    defaults.update(values)
    return Sample(when, **defaults)  # type: ignore[arg-type]


def lines_of(path: Path) -> list[str]:
    return path.read_text().split("\n")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the clock time of every fsync of a regular file (directory fsyncs after creating a file are apart)."""
    calls: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(datalog.os, "fsync", recording_fsync)
    return calls


# --- writing ----------------------------------------------------------------------------------------------------------


def test_header_once_and_one_row_per_sample(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    for second in range(3):
        path = log.append(sample(EVENING + timedelta(seconds=second)))
    log.close()
    assert path == tmp_path / FILE_NAME == log.path
    assert log.rows_written == 3
    lines = lines_of(path)
    assert lines[0] == ",".join(COLUMNS)
    assert lines[-1] == ""  # every row ends in a newline
    assert len(lines) == 1 + 3 + 1
    assert sum(line.startswith("time_utc") for line in lines) == 1

    # A second session on the same night continues the file without a second header.
    with SessionLog(tmp_path) as again:
        again.append(sample(EVENING + timedelta(minutes=5)))
    lines = lines_of(path)
    assert sum(line.startswith("time_utc") for line in lines) == 1
    assert len(read_csv(path)) == 4


def test_row_formatting(tmp_path: Path) -> None:
    when = datetime(2024, 3, 9, 20, 1, 2, 987_654, tzinfo=UTC)
    log = SessionLog(tmp_path)
    path = log.append(
        Sample(
            when,
            position=-15,
            temperature_1=7.0,
            humidity_1=81.25,
            dew_point_1=-0.0001,  # rounds to "-0", written as "0"
            temperature_2=1.23456,
            sky_temperature=float("nan"),  # not a value a spreadsheet could take: left empty
            pwm_1=100,
            output_1=True,
            output_2=False,
            voltage=12.1,
            pending_compensation=0,
        )
    )
    log.close()
    row = dict(zip(COLUMNS, lines_of(path)[1].split(",")))
    assert row["time_utc"] == "2024-03-09T20:01:02.98Z"  # centiseconds, truncated
    assert row["position"] == "-15"
    assert row["temperature_1"] == "7"
    assert row["humidity_1"] == "81.25"
    assert row["dew_point_1"] == "0"
    assert row["temperature_2"] == "1.235"
    assert row["sky_temperature"] == ""
    assert row["humidity_2"] == ""
    assert row["pwm_1"] == "100"
    assert row["output_1"] == "1"
    assert row["output_2"] == "0"
    assert row["output_3"] == ""
    assert row["voltage"] == "12.1"
    assert row["pending_compensation"] == "0"


def test_sample_time_must_be_aware_and_is_stored_in_utc() -> None:
    with pytest.raises(ValueError):
        Sample(datetime(2024, 3, 9, 20, 0))
    plus_two = timezone(timedelta(hours=2))
    assert Sample(datetime(2024, 3, 9, 22, 0, tzinfo=plus_two)).time == EVENING
    assert Sample(datetime(2024, 3, 9, 22, 0, tzinfo=plus_two)).time.tzinfo is UTC


thousandths = st.integers(min_value=-10_000_000, max_value=10_000_000).map(lambda n: n / 1000)
optional_float = st.none() | thousandths
optional_int = st.none() | st.integers(min_value=-(2**31), max_value=2**31)
optional_bool = st.none() | st.booleans()
centisecond_times = st.integers(min_value=0, max_value=20 * 365 * 86400 * 100).map(
    lambda n: datetime(2015, 1, 1, tzinfo=UTC) + timedelta(seconds=n / 100)
)
samples = st.builds(
    Sample,
    time=centisecond_times,
    position=optional_int,
    temperature_1=optional_float,
    humidity_1=optional_float,
    dew_point_1=optional_float,
    temperature_2=optional_float,
    humidity_2=optional_float,
    dew_point_2=optional_float,
    sky_temperature=optional_float,
    ambient_minus_sky=optional_float,
    sky_brightness=optional_float,
    pwm_1=optional_int,
    pwm_2=optional_int,
    output_1=optional_bool,
    output_2=optional_bool,
    output_3=optional_bool,
    voltage=optional_float,
    current=optional_float,
    amp_hours=optional_float,
    watt_hours=optional_float,
    pending_compensation=optional_int,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(samples, min_size=1, max_size=8))
def test_rows_read_back_as_written(written: list[Sample]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        log = SessionLog(Path(directory))
        expected: dict[Path, list[dict[str, object]]] = {}
        for item in written:
            expected.setdefault(log.append(item), []).append(item.as_row())
        log.close()
        assert log.rows_written == len(written)
        for path, rows in expected.items():
            assert path == file_for(Path(directory), rows[0]["time_utc"])  # type: ignore[arg-type]
            back = read_csv(path)
            assert back == rows
            for row in back:
                for name in ("position", "pwm_1", "pwm_2", "pending_compensation"):
                    assert row[name] is None or type(row[name]) is int
                for name in ("output_1", "output_2", "output_3"):
                    assert row[name] is None or type(row[name]) is bool


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes) -> int:
        calls.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(datalog.os, "write", recording_write)
    return calls


def assert_one_row_per_write(calls: list[bytes]) -> None:
    for data in calls:
        assert data.endswith(b"\n")
        # A leading newline may close a torn line; past it, exactly one line.
        assert data.lstrip(b"\n").count(b"\n") == 1, data


def test_each_row_is_one_write(tmp_path: Path, writes: list[bytes]) -> None:
    log = SessionLog(tmp_path)
    for second in range(5):
        log.append(sample(EVENING + timedelta(seconds=second), position=second))
    log.close()
    assert len(writes) == 1 + 5  # the header, then one per row
    assert writes[0].decode() == ",".join(COLUMNS) + "\n"
    assert_one_row_per_write(writes)
    assert b"".join(writes) == (tmp_path / FILE_NAME).read_bytes()


def test_torn_last_line_is_closed_before_the_next_row(tmp_path: Path, writes: list[bytes]) -> None:
    with SessionLog(tmp_path) as log:
        path = log.append(sample(EVENING, position=1))
        log.append(sample(EVENING + timedelta(seconds=1), position=2))
    # A process killed in the middle of a row (or a crash before its data reached the disk).
    torn = "2024-03-09T20:00:02.00Z,3,7.2"
    with open(path, "a") as handle:
        handle.write(torn)
    before = [sample(EVENING, position=1).as_row(), sample(EVENING + timedelta(seconds=1), position=2).as_row()]
    assert read_csv(path) == before

    writes.clear()
    with SessionLog(tmp_path) as log:
        log.append(sample(EVENING + timedelta(seconds=3), position=4))
    assert_one_row_per_write(writes)
    assert len(writes) == 1 and writes[0].startswith(b"\n")
    lines = lines_of(path)
    assert lines[3] == torn  # kept as it was, on its own line
    assert lines[4].startswith("2024-03-09T20:00:03.00Z,4,")
    assert [row["position"] for row in read_csv(path)] == [1, 2, 4]


def test_file_holding_only_a_torn_header_gets_a_header(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("time_utc,posit")
    with SessionLog(tmp_path) as log:
        log.append(sample(position=7))
    lines = lines_of(path)
    assert lines[0] == "time_utc,posit"
    assert lines[1] == ",".join(COLUMNS)
    assert [row["position"] for row in read_csv(path)] == [7]


def test_file_with_other_columns_gets_our_header_before_our_rows(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("time_utc,position\n2024-03-09T19:00:00.00Z,5\n")
    with SessionLog(tmp_path) as log:
        log.append(sample(position=6))
    rows = read_csv(path)
    assert rows[0] == {"time_utc": datetime(2024, 3, 9, 19, tzinfo=UTC), "position": 5}
    assert rows[1] == sample(position=6).as_row()


def test_failed_write_leaves_no_merged_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = SessionLog(tmp_path)
    path = log.append(sample(EVENING, position=1))
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datalog.os, "write", disk_full)
    with pytest.raises(OSError):
        log.append(sample(EVENING + timedelta(seconds=1), position=2))
    monkeypatch.setattr(datalog.os, "write", real_write)
    log.append(sample(EVENING + timedelta(seconds=2), position=3))
    log.close()
    assert log.rows_written == 2
    assert [row["position"] for row in read_csv(path)] == [1, 3]


def test_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def at_most_seven_bytes(fd: int, data: bytes) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(datalog.os, "write", at_most_seven_bytes)
    with SessionLog(tmp_path) as log:
        path = log.append(sample(position=9))
    assert [row["position"] for row in read_csv(path)] == [9]


def test_file_changes_at_noon_utc_not_at_midnight(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    before_midnight = log.append(sample(datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC)))
    after_midnight = log.append(sample(datetime(2024, 3, 10, 0, 0, 1, tzinfo=UTC)))
    before_noon = log.append(sample(datetime(2024, 3, 10, 11, 59, 59, 990_000, tzinfo=UTC)))
    at_noon = log.append(sample(datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)))
    log.close()
    assert before_midnight == after_midnight == before_noon == tmp_path / "astrolink-4-usb-2024-03-09.csv"
    assert at_noon == log.path == tmp_path / "astrolink-4-usb-2024-03-10.csv"
    assert len(read_csv(before_noon)) == 3
    assert len(read_csv(at_noon)) == 1
    assert lines_of(at_noon)[0] == ",".join(COLUMNS)


def test_file_for_names() -> None:
    directory = Path("/logs")
    assert file_for(directory, datetime(2024, 3, 10, 5, 0, tzinfo=UTC)) == directory / "astrolink-4-usb-2024-03-09.csv"
    assert file_for(directory, datetime(2024, 3, 10, 12, 0, tzinfo=UTC), "AstroLink 4 mini / #2") == (
        directory / "astrolink-4-mini-2-2024-03-10.csv"
    )
    # An aware local time is taken as the UTC instant it names: 01:00 at +02:00 is 23:00 UTC the day before.
    assert file_for(directory, datetime(2024, 3, 10, 13, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        directory / "astrolink-4-usb-2024-03-09.csv"
    )
    assert datalog.default_directory() == Path.home() / "astrojolo" / "astrolink4"


def test_fsync_at_most_every_interval_and_on_close(tmp_path: Path, fsyncs: list[int]) -> None:
    clock = FakeClock()
    log = SessionLog(tmp_path, fsync_interval=30.0, clock=clock)
    synced_at: list[float] = []
    for index in range(200):  # 100 s of samples, two a second
        clock.now = 1000.0 + index * 0.5
        before = len(fsyncs)
        log.append(sample(EVENING + timedelta(seconds=index * 0.5)))
        if len(fsyncs) > before:
            synced_at.append(clock.now)
    assert synced_at == [1030.0, 1060.0, 1090.0]
    log.close()
    assert len(fsyncs) == 4
    log.close()  # closing twice is harmless and syncs nothing more
    assert len(fsyncs) == 4


def test_a_due_fsync_can_be_detached_for_a_worker_thread(tmp_path: Path, fsyncs: list[int]) -> None:
    clock = FakeClock()
    log = SessionLog(tmp_path, fsync_interval=30.0, clock=clock)
    detached_at: list[float] = []
    for index in range(200):  # 100 s of samples, two a second
        clock.now = 1000.0 + index * 0.5
        log.append(sample(EVENING + timedelta(seconds=index * 0.5)), sync=False)
        fd = log.detach_due_sync()
        if fd is not None:
            detached_at.append(clock.now)
            assert os.path.samefile(f"/proc/self/fd/{fd}", log.path)
            os.fsync(fd)
            os.close(fd)
    assert detached_at == [1030.0, 1060.0, 1090.0]
    assert len(fsyncs) == 3  # the three above: the log itself synced nothing
    assert log.detach_due_sync() is None  # nothing is due again until the interval has passed
    clock.now += 30.0
    fd = log.detach_due_sync()
    assert fd is not None
    log.close()  # nothing written since that detach: close leaves the sync to its holder
    assert len(fsyncs) == 3
    os.fsync(fd)  # the duplicate stays usable after the log is closed
    os.close(fd)
    assert len(fsyncs) == 4


def test_fsync_interval_zero_syncs_every_row_and_sync_flushes(tmp_path: Path, fsyncs: list[int]) -> None:
    clock = FakeClock()
    log = SessionLog(tmp_path, fsync_interval=0.0, clock=clock)
    for second in range(3):
        log.append(sample(EVENING + timedelta(seconds=second)))
    assert len(fsyncs) == 3
    log.sync()  # nothing new since the last fsync
    log.close()
    assert len(fsyncs) == 3

    slow = SessionLog(tmp_path, clock=clock)
    slow.append(sample(EVENING + timedelta(seconds=10)))
    slow.sync()
    assert len(fsyncs) == 4
    slow.close()
    assert len(fsyncs) == 4


def test_switching_files_syncs_the_old_one(tmp_path: Path, fsyncs: list[int]) -> None:
    log = SessionLog(tmp_path, clock=FakeClock())
    log.append(sample(datetime(2024, 3, 10, 11, 59, 59, tzinfo=UTC)))
    assert fsyncs == []
    log.append(sample(datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)))
    assert len(fsyncs) == 1
    log.close()
    assert len(fsyncs) == 2


def test_only_the_last_directory_level_is_created(tmp_path: Path) -> None:
    with SessionLog(tmp_path / "nights") as log:
        path = log.append(sample())
    assert path.parent == tmp_path / "nights" and path.is_file()

    typo = SessionLog(tmp_path / "not" / "there" / "yet")
    with pytest.raises(FileNotFoundError, match="only the last level is created"):
        typo.append(sample())
    assert not (tmp_path / "not").exists()

    # The driver's own default (~/astrojolo/astrolink4) may need its parent too.
    with SessionLog(tmp_path / "astrojolo" / "astrolink4", create_parents=True) as log:
        assert log.append(sample()).is_file()


def test_a_symlink_in_place_of_the_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "bashrc"
    victim.write_text("export PATH\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / FILE_NAME).symlink_to(victim)
    log = SessionLog(tmp_path / "logs")
    with pytest.raises(OSError, match="symbolic link"):
        log.append(sample())
    assert victim.read_text() == "export PATH\n"
    assert log.path is None and log.rows_written == 0

    (tmp_path / "logs" / FILE_NAME).unlink()
    os.mkfifo(tmp_path / "logs" / FILE_NAME)
    with pytest.raises(OSError, match="not a regular file"):
        log.append(sample())


@pytest.mark.parametrize("umask, expected", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_the_file_follows_the_umask(tmp_path: Path, umask: int, expected: int) -> None:
    previous = os.umask(umask)
    try:
        with SessionLog(tmp_path) as log:
            path = log.append(sample())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == expected


def test_check_directory_keeps_the_log_in_the_home_or_an_allowed_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shared = tmp_path / "shared"
    for directory in (home, shared, tmp_path / "other"):
        directory.mkdir()
    (home / "escape").symlink_to(tmp_path / "other")
    roots = datalog.allowed_roots(home, {datalog.ALLOWED_DIRECTORIES_VARIABLE: f"{shared}:relative:"})
    assert roots == [home, shared]
    for inside in (home, home / "astrojolo" / "astrolink4", shared / "nights", home / "astrojolo" / ".." / "x"):
        datalog.check_directory(inside, roots)
    # ../ after a symlink climbs from where the link points, as the kernel does: home/escape/.. is tmp_path.
    outside_ones = (tmp_path / "other", home / "escape" / "logs", home / "escape" / ".." / "x", home / ".." / "x")
    for outside in outside_ones + (Path("/etc"),):
        with pytest.raises(datalog.DirectoryRefused, match="outside your home directory"):
            datalog.check_directory(outside, roots)
    assert datalog.allowed_roots(home, {}) == [home]


def test_unwritable_directory_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    log = SessionLog(blocker / "logs")
    with pytest.raises(OSError):
        log.append(sample())
    assert log.path is None and log.rows_written == 0


def test_bad_fsync_interval() -> None:
    with pytest.raises(ValueError):
        SessionLog(Path("."), fsync_interval=-1)


# The driver process: its entry point, and the driver that entry point loads when it starts.
DRIVER_MODULES = "indi_astrojolo.astrolink4.main, indi_astrojolo.astrolink4.driver"


@pytest.mark.parametrize(
    "modules", ["indi_astrojolo.astrolink4.datalog", "indi_astrojolo.astrolink4.compensation", DRIVER_MODULES]
)
def test_the_driver_does_not_load_matplotlib(modules: str) -> None:
    # Charts and plots are the tools' (indi_astrojolo/tools/): the driver process must not pay for matplotlib.
    code = f"import sys, {modules}; assert 'matplotlib' not in sys.modules, 'matplotlib loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
