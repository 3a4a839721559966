"""The compensation points and their fitted line as a PNG, like the vendor panel's chart (`--plot`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ..astrolink4.compensation import Fit, Point
from ..files import atomic_write_bytes


def plot(points: Sequence[Point], fit: Fit | None, output: Path) -> None:
    """A PNG like the vendor panel's: green points, red x for suspected outliers, the red fitted line."""
    try:
        # Figure with the Agg canvas, not pyplot: no global backend state to switch, and no display needed.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'indi_astrojolo[plots]'") from error

    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    outliers = set(fit.outliers) if fit else set()
    numbered = list(enumerate(points, start=1))
    kept = [point for number, point in numbered if number not in outliers]
    suspect = [point for number, point in numbered if number in outliers]
    if kept:
        axes.scatter([p.temperature for p in kept], [p.position for p in kept], color="green", label="points", zorder=3)
    if suspect:
        axes.scatter(
            [p.temperature for p in suspect],
            [p.position for p in suspect],
            color="red",
            marker="x",
            s=60,
            label="outliers?",
            zorder=4,
        )
    for number, point in numbered:
        # Numbers let the user find the row to delete.
        axes.annotate(
            str(number), (point.temperature, point.position), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    if fit:
        low, high = min(p.temperature for p in points), max(p.temperature for p in points)
        axes.plot([low, high], [fit.predict(low), fit.predict(high)], color="red", label="fitted line", zorder=2)
        axes.set_title(f"Compensation coefficient {fit.coefficient:.2f} steps/°C, r² = {fit.r_squared:.3f}")
    else:
        axes.set_title("Compensation points (no fit yet)")
    axes.set_xlabel("Temperature (°C)")
    axes.set_ylabel("Focuser position (steps)")
    axes.ticklabel_format(useOffset=False, style="plain")  # positions read as steps, not "1e4 + offset"
    axes.grid(True, alpha=0.3)
    if points:
        axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(output, buffer.getvalue())
