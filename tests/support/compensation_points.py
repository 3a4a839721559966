"""Compensation points for the calculator's tests (test_compensation.py, test_compensation_tool.py)."""

from __future__ import annotations

from indi_astrojolo.astrolink4.compensation import Point


def eight_points_with_outlier(number: int, error: int) -> list[Point]:
    """Eight points on a 35 steps/°C line with a step or two of noise, point `number` (1-based) off by `error`."""
    noise = [0, 2, -1, 1, -2, 0, 1, -1]
    points = [Point(float(t), 15000 + 35 * t + n) for t, n in zip(range(0, 16, 2), noise)]
    bad = points[number - 1]
    points[number - 1] = Point(bad.temperature, bad.position + error)
    return points
