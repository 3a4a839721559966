"""The astrolink4-charts tool: reading a session log back, the rows as the charts use them (derived columns, chart
points, gaps), the nightly summary, the charts, and the command line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from indi_astrojolo.astrolink4 import datalog
from indi_astrojolo.astrolink4.datalog import COLUMNS, Sample, SessionLog
from indi_astrojolo.tools import chart_drawing, charts, night_summary, session_rows
from indi_astrojolo.tools.chart_drawing import render_charts
from indi_astrojolo.tools.session_csv import read_csv

UTC = timezone.utc
EVENING = datetime(2024, 3, 9, 20, 0, 0, tzinfo=UTC)


def sample(when: datetime = EVENING, **values: object) -> Sample:
    defaults: dict[str, object] = dict(position=12000, temperature_1=7.25, humidity_1=81.5, voltage=12.3, output_1=True)
    defaults.update(values)
    return Sample(when, **defaults)  # type: ignore[arg-type]


# --- reading ----------------------------------------------------------------------------------------------------------


def test_read_csv_skips_damage(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    good = datalog.format_row(sample(position=1)).rstrip("\n")
    later = datalog.format_row(sample(EVENING + timedelta(seconds=1), position=2)).rstrip("\n")
    path = tmp_path / "damaged.csv"
    path.write_bytes(
        (header + "\n" + good + "\n" + "2024-03-09T20:00:00.50Z,1,2\n" + "\x00\x00\x00\n\n" + later + "\n").encode()
        + b"\xff\xfe,\n"
        + b"not-a-time"
        + good[len("2024-03-09T20:00:00.00Z") :].encode()
        + b"\n"
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
    points = session_rows.average(rows, 5.0)
    assert len(points) == 4  # 20 s of samples at 2 Hz: 40 samples, 10 to a point
    assert [point["temperature_1"] for point in points] == [4.5, 14.5, 24.5, 34.5]
    assert [point["position"] for point in points] == [109, 119, 129, 139]  # where the focuser was, not a mean
    assert [point["output_1"] for point in points] == [True, False, False, True]
    assert points[0]["time_utc"] == EVENING + timedelta(seconds=2.25)  # the mean time of its samples
    assert session_rows.average(rows, 0) == rows  # every sample
    assert len(session_rows.average(rows, 10.0)) == 2
    with pytest.raises(ValueError):
        session_rows.average(rows, -1)


def test_chart_points_are_aligned_to_whole_periods_and_skip_missing_values() -> None:
    rows = two_hertz(6, start=EVENING + timedelta(seconds=3), humidity_1=lambda i: None if i < 3 else 80.0 + i)
    points = session_rows.average(rows, 5.0)
    # 20:00:03-20:00:04.5 falls in the period starting at 20:00:00, the rest in the one from 20:00:05.
    assert len(points) == 2
    assert points[0]["humidity_1"] == 83.0  # only the sample that had a value
    assert points[1]["humidity_1"] == pytest.approx(sum(80.0 + i for i in range(4, 12)) / 8)


def test_energy_used_counts_across_a_device_restart_and_is_never_negative() -> None:
    counter = [5.0, 5.5, None, 6.0, 0.2, 0.7, -1.0, 1.0]  # restarted between 6.0 and 0.2
    rows = [{"time_utc": EVENING + timedelta(seconds=i), "watt_hours": value} for i, value in enumerate(counter)]
    assert session_rows.energy_used(rows, "watt_hours") == pytest.approx([0.0, 0.5, None, 1.0, 1.2, 1.7, None, 2.0])
    derived = session_rows.with_derived(rows)
    assert [row["energy_used_wh"] for row in derived] == session_rows.energy_used(rows, "watt_hours")


def test_no_line_is_drawn_across_a_gap() -> None:
    import numpy as np

    rows = two_hertz(60, voltage=12.0) + two_hertz(60, start=EVENING + timedelta(minutes=30), voltage=12.5)
    rows.append({"time_utc": EVENING + timedelta(hours=1), "voltage": 13.0})  # a lone sample, after another gap
    points = session_rows.average(rows, 5.0)
    track = chart_drawing._track(points, ["voltage"])
    values = track.columns["voltage"]
    breaks = np.flatnonzero(np.isnan(values))
    assert len(breaks) == 2  # one after each stretch: matplotlib does not join across NaN
    assert values[breaks[0] - 1] == 12.0 and values[breaks[0] + 1] == 12.5
    assert track.x[breaks[0]] - track.x[breaks[0] - 1] == pytest.approx(1 / 86400)  # the line stops a second on
    assert values[track.isolated] == [13.0]  # the lone sample gets a dot
    assert len(track.spans) == 3


def test_the_gap_threshold_follows_the_spacing_of_the_points() -> None:
    half_seconds = [EVENING + timedelta(seconds=i / 2) for i in range(10)]
    assert session_rows.gap_threshold(half_seconds) == session_rows.MIN_GAP
    minutes = [EVENING + timedelta(minutes=i) for i in range(10)]  # a log from a 60 s POLLING_PERIOD
    assert session_rows.gap_threshold(minutes) == timedelta(minutes=3)


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
    summary = night_summary.night_summary(summary_rows())
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
    assert night_summary.compensations(rows, night_summary.focus_moves(rows)) == []
    rows = two_hertz(3, pending_compensation=lambda i: 8 if i < 3 else 0, position=500)  # the focuser at its end
    assert night_summary.compensations(rows, night_summary.focus_moves(rows)) == [8]


def test_summary_text() -> None:
    lines = night_summary.summary_text(night_summary.night_summary(summary_rows()))
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
    derived = session_rows.with_derived(session_rows.ordered_rows(rows))
    return chart_drawing.chart_figure(name, session_rows.average(derived, average_s), session_rows.night_label(derived))


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
    assert charts.main([str(csv_path)]) == 0
    printed = capsys.readouterr().out.split()
    stem = csv_path.stem
    names = ("focus", "power", "environment", "summary")
    assert printed == [str(tmp_path / f"{stem}-{name}.png") for name in names]
    assert all(Path(path).read_bytes().startswith(b"\x89PNG") for path in printed)


def test_main_summary_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_log(tmp_path, night_rows())
    out = tmp_path / "out"
    assert charts.main([str(csv_path), "--out", str(out), "--summary", "--average", "10"]) == 0
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
def test_main_refuses_a_bad_averaging_period(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    csv_path = write_log(tmp_path, night_rows(10))
    with pytest.raises(SystemExit) as exit:
        charts.main([str(csv_path), "--average", value])
    assert exit.value.code == 2
    assert "--average" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []


def test_main_missing_or_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert charts.main([str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(COLUMNS) + "\n")
    assert charts.main([str(empty)]) == 2
    assert "no samples" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []
