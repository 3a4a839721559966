"""What the session charts show: each chart's panels and axes, the series on each, their labels and colours.

Data only, read by chart_drawing.py; no plotting here, so a chart's contents can be read (and changed) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS: dict[str, str] = {
    "position": "focuser position",
    "temperature_1": "temperature 1",
    "humidity_1": "humidity 1",
    "dew_point_1": "dew point 1",
    "temperature_2": "temperature 2",
    "humidity_2": "humidity 2",
    "dew_point_2": "dew point 2",
    "sky_temperature": "sky temperature",
    "ambient_minus_sky": "ambient − sky",
    "sky_brightness": "sky brightness",
    "pwm_1": "dew heater 1",
    "pwm_2": "dew heater 2",
    "output_1": "output 1",
    "output_2": "output 2",
    "output_3": "output 3",
    "voltage": "voltage",
    "current": "current",
    "energy_used_wh": "energy used",
    "energy_used_ah": "energy used (Ah)",
    "pending_compensation": "pending compensation",
    "dew_margin_1": "dew margin 1",
    "dew_margin_2": "dew margin 2",
}

# One colour per sensor or quantity on every chart; a dew point is dashed in its sensor's colour.
STYLES: dict[str, tuple[str, str]] = {
    "temperature_1": ("tab:blue", "-"),
    "dew_point_1": ("tab:blue", "--"),
    "humidity_1": ("tab:blue", "-"),
    "dew_margin_1": ("tab:blue", "-"),
    "temperature_2": ("tab:orange", "-"),
    "dew_point_2": ("tab:orange", "--"),
    "humidity_2": ("tab:orange", "-"),
    "dew_margin_2": ("tab:orange", "-"),
    "position": ("tab:red", "-"),
    "pending_compensation": ("tab:purple", "-"),
    "sky_temperature": ("tab:cyan", "-"),
    "ambient_minus_sky": ("tab:green", "-"),
    "sky_brightness": ("midnightblue", "-"),
    "voltage": ("darkgoldenrod", "-"),
    "current": ("tab:brown", "-"),
    "energy_used_wh": ("tab:red", "-"),
    "pwm_1": ("tab:blue", "-"),
    "pwm_2": ("tab:orange", "-"),
    "output_1": ("tab:green", "-"),
    "output_2": ("tab:purple", "-"),
    "output_3": ("tab:gray", "-"),
}


@dataclass(frozen=True, slots=True)
class Scale:
    """One y axis: its series and how its range is chosen."""

    label: str
    series: tuple[str, ...]
    limits: tuple[float, float] | None = None  # a fixed range
    min_span: float = 0.0  # otherwise automatic, but at least this wide: sensor noise must not fill the panel
    floor: float | None = None  # and never below this (energy, current: never shown negative)
    timeline: bool = False  # on/off series drawn as bars, one row each


@dataclass(frozen=True, slots=True)
class Panel:
    """One subplot: a scale on the left and, optionally, one on a twin right axis."""

    left: Scale
    right: Scale | None = None
    height: float = 1.0

    @property
    def scales(self) -> tuple[Scale, ...]:
        return (self.left,) if self.right is None else (self.left, self.right)


TEMPERATURES = ("temperature_1", "temperature_2")
TEMPERATURES_AND_DEW_POINTS = ("temperature_1", "dew_point_1", "temperature_2", "dew_point_2")
CHARTS: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "focus": (
        "Focus: temperature and focuser position",
        (
            Panel(
                Scale("temperature (°C)", TEMPERATURES, min_span=4.0),
                Scale("focuser position (steps)", ("position",), min_span=50.0),
                height=2.0,
            ),
            Panel(Scale("pending compensation\n(steps)", ("pending_compensation",), min_span=10.0), height=0.8),
        ),
    ),
    "power": (
        "Power",
        (
            Panel(
                Scale("input voltage (V)", ("voltage",), min_span=1.0),
                Scale("current (A)", ("current",), min_span=1.0, floor=0.0),
                height=1.4,
            ),
            Panel(Scale("energy used (Wh)", ("energy_used_wh",), min_span=1.0, floor=0.0), height=1.2),
            Panel(Scale("dew heaters (%)", ("pwm_1", "pwm_2"), limits=(0.0, 100.0)), height=1.0),
            Panel(Scale("12 V outputs", ("output_1", "output_2", "output_3"), timeline=True), height=0.6),
        ),
    ),
    "environment": (
        "Environment",
        (
            Panel(
                Scale("temperature (°C)", TEMPERATURES_AND_DEW_POINTS, min_span=4.0),
                height=1.8,
            ),
            Panel(Scale("humidity (%)", ("humidity_1", "humidity_2"), limits=(0.0, 100.0)), height=1.0),
            Panel(Scale("sky (°C)", ("sky_temperature", "ambient_minus_sky"), min_span=4.0), height=1.0),
            # Magnitudes per square arcsecond grow as the sky gets darker: larger values up, darker up.
            Panel(Scale("sky brightness\n(mag/arcsec², darker ↑)", ("sky_brightness",), min_span=1.0), height=1.0),
        ),
    ),
}


# The summary page's small panels, beside its table, sharing one time axis.
SUMMARY_PANELS: tuple[Scale, ...] = (
    Scale("temperature (°C)", TEMPERATURES_AND_DEW_POINTS, min_span=4.0),
    Scale("dew margin (°C)", ("dew_margin_1", "dew_margin_2"), min_span=4.0),
    Scale("focuser (steps)", ("position",), min_span=50.0),
    Scale("energy used (Wh)", ("energy_used_wh",), min_span=1.0, floor=0.0),
)
