"""DRIVER_INTERFACE: libindi's bit values written once (indi/spec.py DriverInterface), and the two drivers' bitmasks
as DESIGN.md's contract gives them."""

from __future__ import annotations

from indi_astrojolo.astrolink4.main import SPEC as ASTROLINK_SPEC
from indi_astrojolo.indi.spec import DriverInterface, build_properties
from indi_astrojolo.nexstar.main import SPEC as NEXSTAR_SPEC


def test_the_bits_are_libindis() -> None:
    # libs/indidevice/basedevice.h, enum DRIVER_INTERFACE
    assert DriverInterface.TELESCOPE == 1
    assert DriverInterface.GUIDER == 4
    assert DriverInterface.FOCUSER == 8
    assert DriverInterface.WEATHER == 128
    assert DriverInterface.AUX == 32768
    assert DriverInterface.POWER == 262144
    assert [flag.value for flag in DriverInterface if flag.value] == [1 << bit for bit in range(19)]


def test_the_drivers_bitmasks() -> None:
    assert ASTROLINK_SPEC.interface == 295048
    assert NEXSTAR_SPEC.interface == 5
    assert (NEXSTAR_SPEC.interface | DriverInterface.FOCUSER).text() == "13"


def test_driver_info_shows_the_decimal_bitmask(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for spec, shown in ((ASTROLINK_SPEC, "295048"), (NEXSTAR_SPEC, "5")):
        assert build_properties(spec).text("DRIVER_INFO")["DRIVER_INTERFACE"].value == shown
