"""The AstroLink 4 session data log: append-only CSV rows that survive a killed process, and charts from them."""

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
from indi_astrojolo.astrolink4.datalog import COLUMNS, Sample, SessionLog, file_for, read_csv, render_charts

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


def test_module_does_not_load_matplotlib() -> None:
    code = "import sys, indi_astrojolo.astrolink4.datalog; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- reading ----------------------------------------------------------------------------------------------------------


def test_read_csv_skips_damage(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    good = datalog.format_row(sample(position=1)).rstrip("\n")
    later = datalog.format_row(sample(EVENING + timedelta(seconds=1), position=2)).rstrip("\n")
    path = tmp_path / "damaged.csv"
    path.write_bytes(
        (header + "\n" + good + "\n" + "2024-03-09T20:00:00.50Z,1,2\n" + "\x00\x00\x00\n\n" + later + "\n").encode()
        + b"\xff\xfe,\n"
        + b"not-a-time" + good[len("2024-03-09T20:00:00.00Z") :].encode() + b"\n"
        + good.encode()[:30]
    )
    assert [row["position"] for row in read_csv(path)] == [1, 2]


def test_read_csv_skips_a_last_line_torn_inside_its_last_field(tmp_path: Path) -> None:
    # Such a line has every comma and would parse, with a wrong last value: only the missing newline tells.
    whole = datalog.format_row(sample(position=1, pending_compensation=123))
    torn = datalog.format_row(sample(EVENING + timedelta(seconds=1), position=2, pending_compensation=123))
    path = tmp_path / "torn.csv"
    path.write_text(datalog.HEADER_LINE + whole + torn[:-2])
    assert [row["pending_compensation"] for row in read_csv(path)] == [123]


# --- chart points and the summary -------------------------------------------------------------------------------------


def night_rows(count: int = 100) -> list[Sample]:
    rows = []
    for index in range(count):
        rows.append(
            Sample(
                EVENING + timedelta(seconds=index / 2 + (600 if index >= 60 else 0)),  # a gap, as after a reconnect
                position=10_000 + index // 10 * 5,
                temperature_1=8 - index * 0.02,
                humidity_1=70 + index * 0.1,
                dew_point_1=2.5,
                temperature_2=None,  # sensor 2 not connected: no line, no error
                sky_temperature=-18 + (index % 7) * 0.1,
                ambient_minus_sky=26.0,
                sky_brightness=20.5 + index * 0.005,
                pwm_1=40 if index < 50 else 80,
                output_1=index % 20 < 10,
                output_2=True,
                voltage=12.4 - index * 0.001,
                current=1.5,
                amp_hours=index * 0.0004,
                watt_hours=index * 0.005,
            )
        )
    return rows


def two_hertz(seconds: float, start: datetime = EVENING, **columns: object) -> list[dict[str, object]]:
    """Rows as read_csv returns them, two a second; a callable column gets the sample's index."""
    rows = []
    for index in range(int(seconds * 2)):
        row: dict[str, object] = {"time_utc": start + timedelta(seconds=index / 2)}
        for name, value in columns.items():
            row[name] = value(index) if callable(value) else value
        rows.append(row)
    return rows


def test_chart_points_average_the_panels_period_and_step_columns_keep_their_last_value() -> None:
    rows = two_hertz(20, temperature_1=lambda i: float(i), position=lambda i: 100 + i, output_1=lambda i: i % 3 == 0)
    points = datalog.average(rows, 5.0)
    assert len(points) == 4  # 20 s of samples at 2 Hz: 40 samples, 10 to a point
    assert [point["temperature_1"] for point in points] == [4.5, 14.5, 24.5, 34.5]
    assert [point["position"] for point in points] == [109, 119, 129, 139]  # where the focuser was, not a mean
    assert [point["output_1"] for point in points] == [True, False, False, True]
    assert points[0]["time_utc"] == EVENING + timedelta(seconds=2.25)  # the mean time of its samples
    assert datalog.average(rows, 0) == rows  # every sample
    assert len(datalog.average(rows, 10.0)) == 2
    with pytest.raises(ValueError):
        datalog.average(rows, -1)


def test_chart_points_are_aligned_to_whole_periods_and_skip_missing_values() -> None:
    rows = two_hertz(6, start=EVENING + timedelta(seconds=3), humidity_1=lambda i: None if i < 3 else 80.0 + i)
    points = datalog.average(rows, 5.0)
    # 20:00:03-20:00:04.5 falls in the period starting at 20:00:00, the rest in the one from 20:00:05.
    assert len(points) == 2
    assert points[0]["humidity_1"] == 83.0  # only the sample that had a value
    assert points[1]["humidity_1"] == pytest.approx(sum(80.0 + i for i in range(4, 12)) / 8)


def test_energy_used_counts_across_a_device_restart_and_is_never_negative() -> None:
    counter = [5.0, 5.5, None, 6.0, 0.2, 0.7, -1.0, 1.0]  # restarted between 6.0 and 0.2
    rows = [{"time_utc": EVENING + timedelta(seconds=i), "watt_hours": value} for i, value in enumerate(counter)]
    assert datalog.energy_used(rows, "watt_hours") == pytest.approx([0.0, 0.5, None, 1.0, 1.2, 1.7, None, 2.0])
    derived = datalog.with_derived(rows)
    assert [row["energy_used_wh"] for row in derived] == datalog.energy_used(rows, "watt_hours")


def test_no_line_is_drawn_across_a_gap() -> None:
    import numpy as np

    rows = two_hertz(60, voltage=12.0) + two_hertz(60, start=EVENING + timedelta(minutes=30), voltage=12.5)
    rows.append({"time_utc": EVENING + timedelta(hours=1), "voltage": 13.0})  # a lone sample, after another gap
    points = datalog.average(rows, 5.0)
    track = datalog._track(points, ["voltage"])
    values = track.columns["voltage"]
    breaks = np.flatnonzero(np.isnan(values))
    assert len(breaks) == 2  # one after each stretch: matplotlib does not join across NaN
    assert values[breaks[0] - 1] == 12.0 and values[breaks[0] + 1] == 12.5
    assert track.x[breaks[0]] - track.x[breaks[0] - 1] == pytest.approx(1 / 86400)  # the line stops a second on
    assert values[track.isolated] == [13.0]  # the lone sample gets a dot
    assert len(track.spans) == 3


def test_the_gap_threshold_follows_the_spacing_of_the_points() -> None:
    half_seconds = [EVENING + timedelta(seconds=i / 2) for i in range(10)]
    assert datalog.gap_threshold(half_seconds) == datalog.MIN_GAP
    minutes = [EVENING + timedelta(minutes=i) for i in range(10)]  # a log from a 60 s POLLING_PERIOD
    assert datalog.gap_threshold(minutes) == timedelta(minutes=3)


def summary_rows() -> list[dict[str, object]]:
    def position(i: int) -> int:
        if i < 20:
            return 1000
        if i < 26:
            return 1000 - (i - 19) * 50  # a move of -300 steps, 3 s long
        if i < 100:
            return 700
        return 712 if i >= 101 else 706  # a compensation of +12 steps, starting with the pending falling

    def pending(i: int) -> int:
        return i // 10 if i < 100 else 0  # climbs to 9 and is applied

    first = two_hertz(
        60,
        position=position,
        pending_compensation=pending,
        temperature_1=lambda i: 10.0 - i / 100,
        dew_point_1=lambda i: 5.0 + i / 100,
        humidity_1=lambda i: 70.0 + i / 10,
        watt_hours=lambda i: 100.0 + i / 10,
        amp_hours=lambda i: 8.0 + i / 100,
    )
    later = EVENING + timedelta(hours=1)  # the device was switched off and on: its counters start again
    second = two_hertz(10, start=later, position=712, temperature_1=9.0, humidity_1=80.0, watt_hours=lambda i: i / 10)
    return first + second


def test_night_summary() -> None:
    summary = datalog.night_summary(summary_rows())
    assert summary.night == "2024-03-09/10"
    assert summary.gaps == ((EVENING + timedelta(seconds=59.5), EVENING + timedelta(hours=1)),)
    assert summary.logged == timedelta(seconds=59.5 + 9.5)
    temperature = summary.extremes["temperature_1"]
    assert (temperature.minimum, temperature.maximum) == (pytest.approx(8.81), 10.0)
    assert temperature.minimum_at == EVENING + timedelta(seconds=59.5)
    assert summary.extremes["humidity_1"].maximum == pytest.approx(81.9)
    margin = summary.extremes["dew_margin_1"]  # 10 - i/100 - (5 + i/100), smallest at the last sample with both
    assert margin.minimum == pytest.approx(2.62) and margin.minimum_at == EVENING + timedelta(seconds=59.5)
    assert summary.energy_wh == pytest.approx(11.9 + 1.9)  # 100.0 -> 111.9, then 0.0 -> 1.9 after the restart
    assert summary.energy_ah == pytest.approx(1.19)
    assert summary.counter_restarts == 1
    assert (summary.focus_moves, summary.focus_steps) == (2, 312)
    assert (summary.position_first, summary.position_last) == (1000, 712)
    assert (summary.compensations, summary.compensation_steps) == (1, 12)  # the move's steps, not the last pending
    assert "temperature_2" not in summary.extremes


def test_pending_compensation_jitter_is_not_a_correction() -> None:
    rows = two_hertz(30, pending_compensation=lambda i: 5 + (i % 2), position=500)
    assert datalog.compensations(rows, datalog.focus_moves(rows)) == []
    rows = two_hertz(3, pending_compensation=lambda i: 8 if i < 3 else 0, position=500)  # the focuser at its end
    assert datalog.compensations(rows, datalog.focus_moves(rows)) == [8]


def test_summary_text() -> None:
    lines = datalog.summary_text(datalog.night_summary(summary_rows()))
    assert lines[0] == "Night of 2024-03-09/10, times UTC"
    assert lines[1] == "logged 20:00–21:00, 1 min"
    assert lines[2] == "not logged 20:00–21:00"
    table = {line[:16].strip(): line[16:].split() for line in lines[4:] if line[:16].strip()}
    assert table["temperature 1"] == ["8.8", "°C", "20:00", "10.0", "°C", "20:00"]
    assert table["dew margin 1"][:3] == ["2.6", "°C", "20:00"]
    assert table["energy used"] == ["13.8", "Wh", "/", "1.19", "Ah"]
    assert table["focus moves"] == ["2,", "312", "steps", "travelled,", "1000", "→", "712"]
    assert table["compensation"] == ["applied", "once,", "+12", "steps", "in", "all"]
    assert "(the device restarted once: counted across)" in " ".join(lines)
    assert all(len(line) <= 70 for line in lines)
    assert "temperature 2" not in table


# --- charts -----------------------------------------------------------------------------------------------------------


def figure_of(name: str, rows: list, average_s: float = 5.0):
    derived = datalog.with_derived(datalog._as_rows(rows))
    return datalog.chart_figure(name, datalog.average(derived, average_s), datalog.night_label(derived))


def axis_labelled(figure, label: str):
    return next(axis for axis in figure.axes if axis.get_ylabel().startswith(label))


def test_charts_have_one_time_axis_in_hours_and_minutes_and_the_night_in_the_title() -> None:
    from matplotlib import dates as mdates

    figure = figure_of("environment", night_rows())
    assert figure.get_suptitle() == "Environment — night of 2024-03-09/10"
    bottom = [axis for axis in figure.axes if axis.xaxis.get_ticklabels() and axis.xaxis.get_label_text()]
    assert [axis.get_xlabel() for axis in bottom] == ["time (UTC)"]
    for axis in figure.axes:
        formatter = axis.xaxis.get_major_formatter()
        assert isinstance(formatter, mdates.DateFormatter) and formatter.fmt == "%H:%M"
        assert formatter(mdates.date2num(EVENING + timedelta(minutes=7))) == "20:07"
    figure.canvas.draw()
    shown = [axis for axis in figure.axes if any(t.get_text() for t in axis.get_xticklabels())]
    assert len(shown) == 1


def test_humidity_has_a_fixed_scale_and_sky_brightness_is_darker_up() -> None:
    figure = figure_of("environment", night_rows())
    assert axis_labelled(figure, "humidity (%)").get_ylim() == (0.0, 100.0)
    sky = axis_labelled(figure, "sky brightness\n(mag/arcsec²")
    low, high = sky.get_ylim()
    assert low < 20.5 and high > 21.0 and high - low >= 1.0  # at least one magnitude: noise does not fill it
    assert not sky.yaxis_inverted()  # magnitudes grow upwards: a darker sky is higher


def test_energy_is_plotted_in_watt_hours_and_never_below_zero() -> None:
    figure = figure_of("power", night_rows())
    energy = axis_labelled(figure, "energy used (Wh)")
    assert energy.get_ylim()[0] == 0.0
    (line,) = energy.get_lines()
    assert line.get_label() == "energy used"
    current = next(axis for axis in figure.axes if axis.get_ylabel() == "current (A)")
    assert 0.0 <= current.get_ylim()[0] < 1.5  # a constant 1.5 A: a span of 1 A around it
    assert not any("Ah" in axis.get_ylabel() for axis in figure.axes)


def test_a_chart_without_data_says_so() -> None:
    rows = [Sample(EVENING + timedelta(seconds=i), voltage=12.0).as_row() for i in range(20)]
    figure = figure_of("environment", rows)
    assert [text.get_text() for axis in figure.axes for text in axis.texts] == ["no data for this chart"]


def test_render_charts_writes_four_pngs(tmp_path: Path) -> None:
    out = tmp_path / "charts"
    paths = render_charts(night_rows(), out, "night")
    assert paths == [out / f"night-{name}.png" for name in ("focus", "power", "environment", "summary")]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temporary files left


def test_render_charts_with_a_chart_without_data(tmp_path: Path) -> None:
    rows = [Sample(EVENING + timedelta(seconds=i), position=i, voltage=12.0).as_row() for i in range(20)]
    paths = render_charts(rows, tmp_path, "sparse", average_s=0)
    assert len(paths) == 4 and all(path.read_bytes().startswith(b"\x89PNG") for path in paths)
    with pytest.raises(ValueError):
        render_charts([], tmp_path, "empty")


def write_log(directory: Path, rows: list[Sample]) -> Path:
    with SessionLog(directory) as log:
        for row in rows:
            path = log.append(row)
    return path


def test_main_writes_charts_next_to_the_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_log(tmp_path, night_rows())
    assert datalog.main([str(csv_path)]) == 0
    printed = capsys.readouterr().out.split()
    stem = csv_path.stem
    names = ("focus", "power", "environment", "summary")
    assert printed == [str(tmp_path / f"{stem}-{name}.png") for name in names]
    assert all(Path(path).read_bytes().startswith(b"\x89PNG") for path in printed)


def test_main_summary_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_log(tmp_path, night_rows())
    out = tmp_path / "out"
    assert datalog.main([str(csv_path), "--out", str(out), "--summary", "--average", "10"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "Night of 2024-03-09/10, times UTC"
    assert "not logged 20:00–20:10" in lines
    assert any(line.startswith("temperature 1") and "°C" in line for line in lines)
    assert any(line.startswith("energy used") and "Wh" in line for line in lines)
    assert "rows: 100" in lines
    assert "from: 2024-03-09T20:00:00.00Z" in lines
    assert "to:   2024-03-09T20:10:49.50Z" in lines
    position = next(line.split() for line in lines if line.startswith("position "))
    assert position == ["position", "100", "10000.000", "10045.000", "10022.500"]
    temperature_2 = next(line.split() for line in lines if line.startswith("temperature_2 "))
    assert temperature_2 == ["temperature_2", "0", "-", "-", "-"]
    assert str(out / f"{csv_path.stem}-power.png") in lines
    assert (out / f"{csv_path.stem}-summary.png").is_file()


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "7200"])
def test_main_refuses_a_bad_averaging_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    csv_path = write_log(tmp_path, night_rows(10))
    with pytest.raises(SystemExit) as exit:
        datalog.main([str(csv_path), "--average", value])
    assert exit.value.code == 2
    assert "--average" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []


def test_main_missing_or_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert datalog.main([str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(COLUMNS) + "\n")
    assert datalog.main([str(empty)]) == 2
    assert "no samples" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []
