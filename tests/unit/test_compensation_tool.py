"""The astrolink4-compensation tool: the table it prints, the plot, and the command line over the points file."""

from __future__ import annotations

from pathlib import Path

import pytest
from compensation_points import eight_points_with_outlier

from indi_astrojolo.astrolink4.compensation import Point, PointStore, fit
from indi_astrojolo.tools.compensation import main, render_table
from indi_astrojolo.tools.compensation_plot import plot

# --- table and plot --------------------------------------------------------------------------------------------


def test_render_table_lists_points_and_fit() -> None:
    points = eight_points_with_outlier(4, 150)
    result = fit(points)
    text = render_table(points, result)
    for number, point in enumerate(points, start=1):
        assert any(
            line.split()[:3] == [str(number), f"{point.temperature:.2f}", str(point.position)]
            for line in text.splitlines()
        )
    assert f"{result.coefficient:.2f} steps/°C" in text
    assert "outlier?" in text
    assert all(warning in text for warning in result.warnings)


def test_render_table_without_fit_and_empty() -> None:
    text = render_table([Point(10, 15350)], None)
    assert "15350" in text and "Coefficient" not in text and "Residual" not in text
    assert render_table([], None) == "no points yet\n"


@pytest.mark.parametrize("with_fit", [True, False])
def test_plot_writes_png(tmp_path: Path, with_fit: bool) -> None:
    points = eight_points_with_outlier(4, 150)
    output = tmp_path / "plot.png"
    plot(points, fit(points) if with_fit else None, output)
    assert output.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_plot_with_no_points(tmp_path: Path) -> None:
    plot([], None, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes().startswith(b"\x89PNG")


# --- command line ----------------------------------------------------------------------------------------------


def test_main_add_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "points.json")
    assert main(["--file", path, "--add", "10", "15350"]) == 0
    assert "added point 1" in capsys.readouterr().out
    assert main(["--file", path, "--add", "-5", "14825"]) == 0
    assert "added point 2" in capsys.readouterr().out
    assert main(["--file", path]) == 0
    out = capsys.readouterr().out
    assert "Coefficient:       35.00 steps/°C" in out
    assert "14825" in out and "15350" in out


def test_main_without_file_says_no_points(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--file", str(tmp_path / "points.json")]) == 0
    assert "no points yet" in capsys.readouterr().out
    assert not (tmp_path / "points.json").exists()


def test_main_one_point_explains_missing_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--file", str(tmp_path / "points.json"), "--add", "10", "15350"]) == 0
    assert "No fit yet: need at least 2 points" in capsys.readouterr().out


def test_main_uses_device_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["--device", "Focuser 2", "--add", "10", "15350"]) == 0
    assert PointStore(tmp_path / ".indi" / "Focuser 2_compensation.json").points == [Point(10, 15350)]


def test_main_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "points.json"
    store = PointStore(path)
    for point in eight_points_with_outlier(4, 150):
        store.add(point)
    output = tmp_path / "out.png"
    assert main(["--file", str(path), "--plot", str(output)]) == 0
    assert output.read_bytes().startswith(b"\x89PNG")
    assert "Plot written" in capsys.readouterr().out


def test_main_delete_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "points.json"
    store = PointStore(path)
    store.add(Point(1, 100))
    store.add(Point(2, 200))
    assert main(["--file", str(path), "--delete", "1"]) == 0
    assert PointStore(path).points == [Point(2, 200)]
    assert main(["--file", str(path), "--clear"]) == 0
    assert PointStore(path).points == []


def test_main_delete_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "points.json"
    PointStore(path).add(Point(1, 100))
    assert main(["--file", str(path), "--delete", "5"]) == 2
    captured = capsys.readouterr()
    assert "no point 5" in captured.err and "numbers 1 to 1" in captured.err
    assert PointStore(path).points == [Point(1, 100)]


@pytest.mark.parametrize(
    ("add", "message"),
    [(["warm", "100"], "not a number"), (["10", "15000.5"], "whole number"), (["80", "100"], "outside")],
)
def test_main_bad_add(tmp_path: Path, capsys: pytest.CaptureFixture[str], add: list[str], message: str) -> None:
    assert main(["--file", str(tmp_path / "points.json"), "--add", *add]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "points.json").exists()


def test_main_damaged_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "points.json"
    path.write_text("{oops")
    assert main(["--file", str(path), "--add", "1", "2"]) == 2
    assert "damaged" in capsys.readouterr().err
    assert path.read_text() == "{oops"
