"""The fixed move rates 1–9: one table (aux.MOVE_RATES) gives the labels of TELESCOPE_SLEW_RATE, the margins that stop
a manual move before a limit, and the emulator's speeds; a controller with the slower measured rates is stopped in
time too."""

from __future__ import annotations

import pytest
import trio

from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.emulator import DEFAULT_MOVE_RATES, MEASURED_SLOWER_MOVE_RATES
from mount_sim import request, start_mount, true_direction

SIDEREAL_DEG_S = aux.SIDEREAL_ARCSEC_PER_S / 3600.0


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def test_the_table_is_the_hand_controller_manuals() -> None:
    """Reference §5.3: 2×, 4×, 8×, 16×, 32× sidereal, then 0.5, 1, 2 and 4 °/s."""
    expected = [2 * SIDEREAL_DEG_S, 4 * SIDEREAL_DEG_S, 8 * SIDEREAL_DEG_S, 16 * SIDEREAL_DEG_S, 32 * SIDEREAL_DEG_S,
                0.5, 1.0, 2.0, 4.0]  # fmt: skip
    assert [rate.level for rate in aux.MOVE_RATES] == list(range(1, 10))
    assert [rate.deg_per_s for rate in aux.MOVE_RATES] == pytest.approx(expected)
    assert [round(rate.deg_per_s, 3) for rate in aux.MOVE_RATES] == [0.008, 0.017, 0.033, 0.067, 0.134, 0.5, 1, 2, 4]


def test_labels_say_the_speed_of_each_rate() -> None:
    labels = [rate.label for rate in aux.MOVE_RATES]
    assert labels[2] == "3 (8x sidereal, 0.033 deg/s)"
    assert labels[5] == "6 (0.5 deg/s)"
    assert labels[7] == "8 (2 deg/s)"
    assert labels[8] == "9 (max, up to 4 deg/s)"


def test_the_emulator_moves_at_the_table_speeds_by_default() -> None:
    assert DEFAULT_MOVE_RATES[:8] == tuple(rate.deg_per_s for rate in aux.MOVE_RATES[:8])
    assert DEFAULT_MOVE_RATES[8] <= aux.MOVE_RATES[8].deg_per_s  # rate 9: the controller's own maximum
    assert all(slow <= fast for slow, fast in zip(MEASURED_SLOWER_MOVE_RATES, DEFAULT_MOVE_RATES))


async def test_the_driver_shows_the_tables_labels(autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        shown = driver.props.switch("TELESCOPE_SLEW_RATE")
        assert [shown[f"{rate.level}x"].label for rate in aux.MOVE_RATES] == [rate.label for rate in aux.MOVE_RATES]
        definition = driver.outbox.take().decode()
        assert 'label="6 (0.5 deg/s)"' in definition  # what a client is sent
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("lowest", [-10.0, -10.1, -10.2])  # where a poll falls relative to the limit varies
@pytest.mark.parametrize("rates", [DEFAULT_MOVE_RATES, MEASURED_SLOWER_MOVE_RATES], ids=["manual-table", "slower"])
@pytest.mark.parametrize("level", [5, 6, 7, 8, 9])
async def test_a_manual_move_stops_before_the_altitude_limit(autojump_clock, rates, level, lowest) -> None:
    async with trio.open_nursery() as nursery:
        driver = await start_mount(nursery, latitude=50.0, longitude=20.0)
        assert driver.simulator is not None
        driver.simulator.config.move_rates_deg_per_s = rates
        await driver.handle_request(request("Number", "ALTITUDE_LIMITS", MIN_ALT=lowest, MAX_ALT=90.0))
        await driver.handle_request(request("Switch", "TELESCOPE_SLEW_RATE", **{f"{level}x": True}))
        await driver.handle_request(request("Switch", "TELESCOPE_MOTION_NS", MOTION_NORTH=False, MOTION_SOUTH=True))
        assert driver.props["TELESCOPE_MOTION_NS"].state.value == "Busy"
        with trio.fail_after(3600):
            while driver.props["TELESCOPE_MOTION_NS"].state.value != "Alert":
                await trio.sleep(0.05)
        await trio.sleep(5.0)  # the axis decelerates to rest
        _, altitude = true_direction(driver)
        assert lowest <= altitude < lowest + 5.0, f"stopped at {altitude:.4f}° with the limit at {lowest}°"
        nursery.cancel_scope.cancel()
