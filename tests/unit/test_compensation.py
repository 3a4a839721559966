from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import pytest
from compensation_points import eight_points_with_outlier
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.astrolink4 import compensation as c
from indi_astrojolo.astrolink4.compensation import (
    FitError,
    Point,
    PointNumberError,
    PointStore,
    StoreError,
    default_path,
    fit,
)
from indi_astrojolo.tools.compensation import render_table


def line_points(temperatures: list[float], slope: float, intercept: float) -> list[Point]:
    return [Point(t, round(intercept + slope * t)) for t in temperatures]


def range_warnings(result: c.Fit) -> list[str]:
    return [w for w in result.warnings if "covers only" in w]


# --- fit -------------------------------------------------------------------------------------------------------


def test_exact_line_is_recovered() -> None:
    result = fit(line_points([0.0, 2.0, 5.0, 8.0, 12.0], 35, 15000))
    assert result.coefficient == pytest.approx(35)
    assert result.intercept == pytest.approx(15000)
    assert result.r_squared == pytest.approx(1.0)
    assert result.residual_rms == pytest.approx(0.0, abs=1e-9)
    assert result.temperature_range == pytest.approx(12.0)
    assert result.count == 5
    assert result.outliers == ()
    assert result.warnings == ()


def test_negative_slope() -> None:
    result = fit(line_points([-10.0, -4.0, 3.0, 10.0], -12, 40000))
    assert result.coefficient == pytest.approx(-12)
    assert result.intercept == pytest.approx(40000)
    assert result.r_squared == pytest.approx(1.0)


def test_hand_worked_three_points() -> None:
    # T = 0, 1, 2; P = 100, 130, 140. Means 1 and 370/3; Sxx = 2, Sxy = 40, so slope 20 and intercept 310/3.
    # Residuals -10/3, 20/3, -10/3: SSres = 600/9, SStot = 7800/9, r² = 1 - 600/7800 = 12/13, RMS = sqrt(200/9).
    result = fit([Point(0, 100), Point(1, 130), Point(2, 140)])
    assert result.coefficient == pytest.approx(20)
    assert result.intercept == pytest.approx(310 / 3)
    assert result.r_squared == pytest.approx(12 / 13)
    assert result.residual_rms == pytest.approx(math.sqrt(200 / 9))
    assert result.temperature_range == pytest.approx(2)


def test_agrees_with_the_standard_library() -> None:
    points = [Point(3.2, 15110), Point(7.9, 15260), Point(11.4, 15390), Point(14.0, 15480), Point(1.1, 15020)]
    result = fit(points)
    slope, intercept = statistics.linear_regression([p.temperature for p in points], [p.position for p in points])
    assert (result.coefficient, result.intercept) == pytest.approx((slope, intercept))


def test_positive_when_falling_temperature_needs_falling_position() -> None:
    assert fit([Point(20, 15700), Point(10, 15350)]).coefficient > 0


def test_flat_positions_fit_perfectly() -> None:
    result = fit([Point(0, 5000), Point(6, 5000), Point(12, 5000)])
    assert result.coefficient == pytest.approx(0)
    assert result.r_squared == 1.0


temperatures_strategy = st.lists(
    st.integers(min_value=-600, max_value=600).map(lambda tenths: tenths / 10),
    min_size=3,
    max_size=30,
    unique=True,
).filter(lambda ts: max(ts) - min(ts) >= 1.0)


@settings(max_examples=200, deadline=None)
@given(
    temperatures=temperatures_strategy,
    slope=st.floats(min_value=-300, max_value=300, allow_nan=False),
    intercept=st.floats(min_value=50_000, max_value=9_000_000, allow_nan=False),
)
def test_fit_recovers_random_lines(temperatures: list[float], slope: float, intercept: float) -> None:
    result = fit(line_points(temperatures, slope, intercept))
    # Rounding positions to whole steps moves each by at most half a step, which bounds the error of the
    # least-squares slope by 0.5·Σ|T - T̄| / Σ(T - T̄)², and the intercept by 0.5 + |T̄|·(slope error).
    mean = statistics.fmean(temperatures)
    sxx = sum((t - mean) ** 2 for t in temperatures)
    slope_bound = 0.5 * sum(abs(t - mean) for t in temperatures) / sxx
    assert abs(result.coefficient - slope) <= slope_bound + 1e-6
    assert abs(result.intercept - intercept) <= 0.5 + abs(mean) * slope_bound + 1e-3
    assert result.residual_rms <= 1.0
    assert 0.0 <= result.r_squared <= 1.0


@pytest.mark.parametrize("points", [[], [Point(10, 15000)]])
def test_too_few_points(points: list[Point]) -> None:
    with pytest.raises(FitError, match="at least 2 points"):
        fit(points)


def test_all_temperatures_equal() -> None:
    with pytest.raises(FitError, match="different temperatures"):
        fit([Point(12.5, 15000), Point(12.5, 15100), Point(12.5, 15050)])


def test_fit_error_is_a_value_error() -> None:
    assert issubclass(FitError, ValueError)


# --- warnings --------------------------------------------------------------------------------------------------


def test_narrow_range_warns() -> None:
    result = fit(line_points([10.0, 11.0, 12.1], 35, 15000))
    [warning] = range_warnings(result)
    assert "2.1 °C" in warning
    assert "5 to 10 °C" in warning


@pytest.mark.parametrize("temperatures", [[10.0, 15.0], [10.1, 12.0, 15.1], [0.0, 9.0]])
def test_range_of_five_or_more_does_not_warn(temperatures: list[float]) -> None:
    assert range_warnings(fit(line_points(temperatures, 35, 15000))) == []


def test_range_just_under_five_is_not_rounded_up() -> None:
    [warning] = range_warnings(fit(line_points([10.0, 14.96], 35, 15000)))
    assert "4.9 °C" in warning


@pytest.mark.parametrize(("number", "error"), [(4, 150), (1, -120), (8, 200), (5, 400)])
def test_injected_outlier_is_reported_by_number(number: int, error: int) -> None:
    points = eight_points_with_outlier(number, error)
    result = fit(points)
    assert result.outliers == (number,)
    messages = [w for w in result.warnings if "far from the line" in w]
    assert len(messages) == 1
    bad = points[number - 1]
    assert messages[0].startswith(f"point {number} ({bad.temperature:.1f} °C, {bad.position})")
    assert "remove it if it was a mistake" in messages[0]


def test_two_mistakes_are_both_reported() -> None:
    # The manual: "one or two points are incorrect, and all others fit straight line nicely".
    points = eight_points_with_outlier(7, 180)
    points[7] = Point(points[7].temperature, points[7].position + 160)
    assert fit(points).outliers == (7, 8)


def test_outlier_message_gives_distance_from_the_other_points() -> None:
    [message] = [w for w in fit(eight_points_with_outlier(8, 200)).warnings if "far from the line" in w]
    # The least-squares line leans towards an end point; the robust line does not, so nearly all 200 steps show.
    distance = int(re.search(r"\(([+-]\d+) steps\)", message).group(1))  # type: ignore[union-attr]
    assert 190 <= distance <= 205


def test_noisy_but_honest_points_have_no_outliers() -> None:
    assert fit(eight_points_with_outlier(1, 0)).outliers == ()


def test_almost_perfect_points_do_not_flag_rounding() -> None:
    # Whole-step positions on a fractional slope are off the line by up to half a step; that is not a mistake.
    points = [Point(t / 2, 15000 + round(33.3 * t / 2)) for t in range(20)]
    assert fit(points).outliers == ()


def test_outliers_need_five_points() -> None:
    points = [Point(0, 15000), Point(5, 15175), Point(10, 15350), Point(15, 17000)]
    assert fit(points).outliers == ()


def test_curved_points_warn_of_poor_fit() -> None:
    result = fit([Point(float(t), 15000 + 8 * t * t) for t in range(-6, 7)])
    assert result.r_squared < 0.8
    [warning] = [w for w in result.warnings if "straight line" in w]
    assert f"r² = {result.r_squared:.2f}" in warning


def test_good_fit_has_no_poor_fit_warning() -> None:
    assert not [w for w in fit(eight_points_with_outlier(1, 0)).warnings if "straight line" in w]


# --- point validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "position", "message"),
    [
        (math.nan, 100, "finite"),
        (math.inf, 100, "finite"),
        (-60.5, 100, "outside"),
        (61, 100, "outside"),
        ("12", 100, "number"),
        (True, 100, "number"),
        (12.0, -1, "outside"),
        (12.0, 10_000_001, "outside"),
        (12.0, 100.5, "whole number"),
        (12.0, False, "whole number"),
    ],
)
def test_bad_points_are_rejected(temperature: object, position: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Point(temperature, position)  # type: ignore[arg-type]


def test_limits_are_accepted_and_temperature_is_a_float() -> None:
    assert Point(-60, 0).temperature == -60.0
    assert isinstance(Point(60, 10_000_000).temperature, float)


# --- the store -------------------------------------------------------------------------------------------------


def test_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    store = PointStore(tmp_path / "points.json")
    assert store.points == []
    assert not store.path.exists()


def test_round_trip_through_a_fresh_store(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    store = PointStore(path)
    assert store.add(Point(10.0, 15350)) == 1
    assert store.add(Point(12.5, 15440)) == 2
    assert store.add(Point(15.0, 15525)) == 3
    assert PointStore(path).points == [Point(10.0, 15350), Point(12.5, 15440), Point(15.0, 15525)]

    store.edit(2, Point(12.0, 15420))
    assert PointStore(path).points == [Point(10.0, 15350), Point(12.0, 15420), Point(15.0, 15525)]

    assert store.delete(1) == Point(10.0, 15350)
    assert PointStore(path).points == [Point(12.0, 15420), Point(15.0, 15525)]

    store.clear()
    assert PointStore(path).points == []


def test_file_format(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    store = PointStore(path)
    store.add(Point(-3.5, 14800))
    store.add(Point(8, 15200))
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "format": "astrojolo-compensation-points",
        "version": 1,
        "points": [{"temperature": -3.5, "position": 14800}, {"temperature": 8.0, "position": 15200}],
    }


def test_points_is_a_copy(tmp_path: Path) -> None:
    store = PointStore(tmp_path / "points.json")
    store.add(Point(1, 100))
    store.points.append(Point(2, 200))
    assert store.points == [Point(1, 100)]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[]",
        '{"format": "something else", "version": 1, "points": []}',
        '{"format": "astrojolo-compensation-points", "version": 2, "points": []}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": {}}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": [{"temperature": 5}]}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": [{"temperature": "x", "position": 1}]}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": [{"temperature": 5, "position": 1.5}]}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": [{"temperature": NaN, "position": 1}]}',
        '{"format": "astrojolo-compensation-points", "version": 1, "points": [{"temperature": 99, "position": 1}]}',
    ],
)
def test_damaged_file_raises_and_is_left_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "points.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StoreError, match="damaged"):
        PointStore(path)
    assert path.read_text(encoding="utf-8") == content
    assert [p.name for p in tmp_path.iterdir()] == ["points.json"]


def test_damaged_point_is_named(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    good = {"temperature": 5, "position": 100}
    path.write_text(json.dumps({"format": c.FILE_FORMAT, "version": 1, "points": [good, {"temperature": 5}]}))
    with pytest.raises(StoreError, match="point 2"):
        PointStore(path)


def test_whole_float_position_is_read(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    entry = {"temperature": 5, "position": 15000.0}
    path.write_text(json.dumps({"format": c.FILE_FORMAT, "version": 1, "points": [entry]}))
    assert PointStore(path).points == [Point(5.0, 15000)]


@pytest.mark.parametrize("number", [0, 3, -1, True, "1"])
def test_bad_numbers_raise(tmp_path: Path, number: object) -> None:
    store = PointStore(tmp_path / "points.json")
    store.add(Point(1, 100))
    store.add(Point(2, 200))
    with pytest.raises(StoreError, match="no point"):
        store.edit(number, Point(3, 300))  # type: ignore[arg-type]
    with pytest.raises(PointNumberError, match="numbers 1 to 2"):
        store.delete(number)  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        store.delete(number)  # type: ignore[arg-type]
    assert PointStore(store.path).points == [Point(1, 100), Point(2, 200)]


def test_delete_from_empty_store(tmp_path: Path) -> None:
    with pytest.raises(PointNumberError, match="empty"):
        PointStore(tmp_path / "points.json").delete(1)


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = PointStore(tmp_path / "points.json")
    for number in range(5):
        store.add(Point(number, 100 * number))
    store.edit(1, Point(0.5, 50))
    store.delete(2)
    store.save()
    store.clear()
    assert [p.name for p in tmp_path.iterdir()] == ["points.json"]


def test_failed_write_keeps_memory_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PointStore(tmp_path / "points.json")
    store.add(Point(1, 100))

    def failing_write(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(c, "save_document", failing_write)
    with pytest.raises(OSError):
        store.add(Point(2, 200))
    assert store.points == [Point(1, 100)]
    assert PointStore(store.path).points == [Point(1, 100)]


def test_add_adopts_points_added_by_another_program(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    driver = PointStore(path)
    driver.add(Point(1, 100))
    PointStore(path).add(Point(2, 200))  # e.g. the command line, while the driver runs
    assert driver.add(Point(3, 300)) == 3
    assert PointStore(path).points == [Point(1, 100), Point(2, 200), Point(3, 300)]


def test_numbered_changes_refuse_a_file_changed_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    driver = PointStore(path)
    driver.add(Point(1, 100))
    driver.add(Point(2, 200))
    other = PointStore(path)
    other.delete(1)
    for change in (lambda: driver.delete(1), lambda: driver.edit(1, Point(5, 500)), driver.clear):
        with pytest.raises(StoreError, match="changed by another program"):
            change()
    assert PointStore(path).points == [Point(2, 200)]
    driver.reload()
    assert driver.points == [Point(2, 200)]
    driver.delete(1)
    assert PointStore(path).points == []


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path("AstroLink 4 USB") == tmp_path / ".indi" / "AstroLink 4 USB_compensation.json"


@pytest.mark.parametrize("name", ["", " ", "..", "a/b"])
def test_default_path_rejects_names_that_are_not_file_names(name: str) -> None:
    with pytest.raises(ValueError):
        default_path(name)


# --- the firmware's sign --------------------------------------------------------------------------------------------


def status_lines(sign: int, coefficient: float, temperatures, position: int = 10000, reference: float | None = None):
    """(temperature, pending, position) as a device with this sign reports them while the air changes."""
    reference = temperatures[0] if reference is None else reference
    return [(t, round(sign * coefficient * (t - reference)), position) for t in temperatures]


def learn(lines, coefficient: float) -> int | None:
    learner = c.SignLearner()
    for temperature, pending, position in lines:
        learner.observe(temperature, pending, position, coefficient, moving=False)
    return learner.sign


def cooling(start: float, drop: float, lines: int = 60) -> list[float]:
    return [start - drop * i / (lines - 1) for i in range(lines)]


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
@pytest.mark.parametrize("coefficient", [12.0, -35.0, 2.5])
def test_the_sign_is_learnt_from_the_pending_count_as_it_cools(sign: int, coefficient: float) -> None:
    drop = 3.0 * (c.SIGN_TOLERANCE_STEPS + abs(coefficient) * c.SIGN_TOLERANCE_DEGREES) / abs(coefficient)
    assert learn(status_lines(sign, coefficient, cooling(10.0, drop)), coefficient) == sign


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
def test_a_small_change_teaches_nothing(sign: int) -> None:
    # 0.4 °C at 12 steps/°C: about 5 steps, within what rounding and sensor noise can do
    assert learn(status_lines(sign, 12.0, cooling(10.0, 0.4)), 12.0) is None


def test_nothing_is_learnt_without_a_coefficient() -> None:
    assert learn(status_lines(1, 0.0, cooling(10.0, 5.0)), 0.0) is None


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
def test_compensations_applied_on_the_way_do_not_mislead_it(sign: int) -> None:
    # AUTO mode with a 5-step threshold: the device moves by the pending count and starts counting from 0 again
    learner, position, reference = c.SignLearner(), 10000, 10.0
    for temperature in cooling(10.0, 2.0, 80):
        pending = round(sign * 12.0 * (temperature - reference))
        if abs(pending) >= 5:
            position, reference, pending = position + pending, temperature, 0
        learner.observe(temperature, pending, position, 12.0, moving=False)
    assert learner.sign == sign


def test_a_move_the_user_asked_for_starts_the_observation_again() -> None:
    learner = c.SignLearner()
    # a move outward by 30 steps while it cooled by 0.5 °C would fit the "outward" sign (+6) only by accident: the
    # change of 30 fits neither sign, so nothing is concluded from it
    for temperature, pending, position in [(10.0, 0, 10000), (9.5, -6, 10030), (9.5, -6, 10030), (9.5, -6, 10030)]:
        learner.observe(temperature, pending, position, 12.0, moving=False)
    assert learner.sign is None


def test_status_lines_while_moving_are_not_used() -> None:
    learner = c.SignLearner()
    for temperature, pending, position in status_lines(-1, 12.0, cooling(10.0, 2.0)):
        learner.observe(temperature, pending, position, 12.0, moving=True)
    assert learner.sign is None


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
def test_noisy_temperatures_do_not_make_it_decide_wrongly(sign: int) -> None:
    import random

    noise = random.Random(7)
    for _ in range(50):
        temperatures = [t + noise.uniform(-0.05, 0.05) for t in cooling(10.0, 2.0)]
        # the device rounds from its own, slightly different, reading
        lines = [
            (t + noise.uniform(-0.05, 0.05), pending, position)
            for t, pending, position in status_lines(sign, 12.0, temperatures, reference=10.0)
        ]
        assert learn(lines, 12.0) in (sign, None)
    assert learn(status_lines(sign, 12.0, cooling(10.0, 2.0)), 12.0) == sign


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
def test_the_device_coefficient_makes_the_focuser_follow_the_points(sign: int) -> None:
    # points where colder means further out: slope -12 steps/°C
    slope = c.fit([c.Point(12.0, 10000), c.Point(10.0, 10024), c.Point(8.0, 10048)]).coefficient
    written = c.device_coefficient(slope, sign)
    pending_after_two_degrees_colder = sign * written * -2.0
    assert pending_after_two_degrees_colder == pytest.approx(24.0)


def test_a_point_six_steps_off_at_an_rms_of_two_and_a_half_is_no_outlier() -> None:
    # The audit's case: the MAD of tightly grouped points made this a "5 sigma" outlier, and the warning told the
    # user to remove a point that is 6 steps off while the fit's RMS residual was 2.5 and the line hardly moves.
    points = [Point(10.0 + i, 10000 - 12 * i + n) for i, n in enumerate([2, -1, 1, 0, -1, -7, 1, 0])]
    result = fit(points)
    assert result.residual_rms == pytest.approx(2.5, abs=0.05)
    assert abs(points[5].position - result.predict(points[5].temperature)) == pytest.approx(6, abs=0.2)
    assert result.outliers == ()
    assert not [w for w in result.warnings if "far from the line" in w]


@pytest.mark.parametrize(("number", "error"), [(4, 150), (1, -120), (8, 200), (5, 400), (3, 0), (6, 7)])
def test_warnings_table_and_outlier_count_tell_the_same_story(number: int, error: int) -> None:
    points = eight_points_with_outlier(number, error)
    result = fit(points)
    warned = [int(w.split()[1]) for w in result.warnings if "far from the line" in w]
    marked = [i for i, row in enumerate(render_table(points, result).splitlines()[1:], 1) if "outlier?" in row]
    assert warned == marked == list(result.outliers)


def test_the_outlier_message_says_how_closely_the_others_follow_the_line() -> None:
    [message] = [w for w in fit(eight_points_with_outlier(4, 150)).warnings if "far from the line" in w]
    scatter = float(re.search(r"within (\d+\.\d) steps RMS", message).group(1))  # type: ignore[union-attr]
    assert 0.5 <= scatter <= 2.0  # the noise of the other seven points, not the 50-step RMS the mistake causes


@pytest.mark.parametrize("sign", [c.MANUAL_RULE, c.MANUAL_EXAMPLE])
def test_a_short_move_that_happens_to_mimic_the_other_sign_teaches_nothing(sign: int) -> None:
    # 1 °C colder at 12 steps/°C, then an autofocus run ends exactly 24 steps away on the other side: position +
    # pending then looks like the other sign's prediction. The move was not a compensation, so nothing is concluded.
    learner = c.SignLearner()
    lines = [(10.0, 0, 10000), (9.0, round(sign * -12.0), 10000), (9.0, round(sign * -12.0), 10000 + sign * 24)]
    lines += [lines[-1]] * 5
    for temperature, pending, position in lines:
        learner.observe(temperature, pending, position, 12.0, moving=False)
    assert learner.sign is None
