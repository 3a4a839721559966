"""The three switchable 12 V outputs, power monitoring and the device's over-voltage/over-current protection.

Output states are read from every status line (the C++ drivers stopped reading them once set, so changes made by the
hand controller or a protection trip went unseen). A protection trip is reported the moment a status line shows it,
with the value that tripped it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from .commands import Commands

CHANNELS = ("POWER_CHANNEL_1", "POWER_CHANNEL_2", "POWER_CHANNEL_3")
DEFAULT_MEMBERS = ("POW_DEF_ON1", "POW_DEF_ON2", "POW_DEF_ON3")


class Power(Part):
    def __init__(self, publisher: Publisher, commands: Commands) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.commands = commands
        self.tripped: p.ProtectionTrip | None = None
        self.handlers: dict[str, Handler] = {
            "POWER_CHANNELS": self._on_channels,
            "POWER_LOCK": self._on_lock,
            "POWER_LABELS": self._on_labels,
            "POW_DEF_ON": self._on_defaults,
            "OTHER_SETTINGS": self._on_protection_settings,
            "OVER_VOLTAGE_PROTECTION": self._on_over_voltage_protection,
        }
        self._apply_labels()

    def locked(self) -> bool:
        return bool(self.props.switch("POWER_LOCK")["INDI_ENABLED"].on)

    # --- device settings -------------------------------------------------------------------------------------

    def show_settings(self, blocks: Mapping[str, p.SettingsBlock]) -> None:
        if "u" in blocks:
            focuser = p.FocuserSettings.from_block(blocks["u"])
            defaults = self.props.switch("POW_DEF_ON")
            defaults.apply(dict(zip(DEFAULT_MEMBERS, focuser.output_defaults)))
            self.publisher.update(defaults.name, State.OK)
        if "n" in blocks:
            settings = p.DeviceSettings.from_block(blocks["n"])
            other = self.props.number("OTHER_SETTINGS")
            other.apply(
                {
                    "SET_AREF_COEFF": settings.aref_coefficient,
                    "SET_OVER_TIME": settings.over_time_ms,
                    "SET_OVER_VOLT": settings.over_voltage,
                    "SET_OVER_AMP": settings.over_current,
                }
            )
            self.publisher.update(other.name, State.OK)
            # libindi's PowerInterface shows the same protection voltage under its own name
            over_voltage = self.props.number("OVER_VOLTAGE_PROTECTION")
            over_voltage.apply({"OVERVOLTAGE": settings.over_voltage})
            self.publisher.update(over_voltage.name, State.OK)

    async def _on_defaults(self, update: Update) -> None:
        changes = {p.U_OUTPUT_1_DEFAULT + i: 1 if update[name] else 0 for i, name in enumerate(DEFAULT_MEMBERS)}
        await self.commands.write_settings("u", changes)
        self.show_settings(self.commands.blocks)

    async def _on_protection_settings(self, update: Update) -> None:
        changes = {}
        changed = update.changed()
        if "SET_AREF_COEFF" in changed:
            changes[p.N_AREF_COEFFICIENT] = p.encode_setting("n", p.N_AREF_COEFFICIENT, update["SET_AREF_COEFF"])
        if "SET_OVER_VOLT" in changed:
            changes[p.N_OVER_VOLTAGE] = p.encode_setting("n", p.N_OVER_VOLTAGE, update["SET_OVER_VOLT"])
        if "SET_OVER_AMP" in changed:
            changes[p.N_OVER_CURRENT] = p.encode_setting("n", p.N_OVER_CURRENT, update["SET_OVER_AMP"])
        if "SET_OVER_TIME" in changed:
            changes[p.N_OVER_TIME] = round(update["SET_OVER_TIME"])
        await self._write_protection(changes)

    async def _on_over_voltage_protection(self, update: Update) -> None:
        changes = {}
        if "OVERVOLTAGE" in update.changed():
            changes[p.N_OVER_VOLTAGE] = p.encode_setting("n", p.N_OVER_VOLTAGE, update["OVERVOLTAGE"])
        await self._write_protection(changes)

    async def _write_protection(self, changes: dict[int, int]) -> None:
        """The one writer of the n block's protection fields (read-modify-write), for OTHER_SETTINGS and
        OVER_VOLTAGE_PROTECTION alike; both then show what the device holds."""
        if changes:
            await self.commands.write_settings("n", changes)
        self.show_settings(self.commands.blocks)

    # --- outputs ---------------------------------------------------------------------------------------------

    async def _on_channels(self, update: Update) -> None:
        changed = update.changed()
        if changed and self.locked():
            raise ValidationError("the outputs are locked (POWER_LOCK); unlock them first")
        for index, name in enumerate(CHANNELS):
            if name in changed:
                await self.commands.expect_ack(p.set_output(index, bool(update[name])))
        self.publisher.accept(update, State.BUSY if changed else State.OK)
        self.publisher.poll_soon()  # the next status line confirms the outputs

    async def _on_lock(self, update: Update) -> None:
        locked = bool(update["INDI_ENABLED"])
        self.publisher.accept(update, message="Outputs locked" if locked else "Outputs unlocked")

    async def _on_labels(self, update: Update) -> None:
        self.publisher.accept(update)
        self._apply_labels()
        if "POWER_CHANNELS" in self.props.defined:
            # libindi clients ignore a repeated definition: a new label needs the property deleted and defined again.
            self.publisher.delete("POWER_CHANNELS")
            self.publisher.define("POWER_CHANNELS")

    def _apply_labels(self) -> None:
        labels = self.props.text("POWER_LABELS")
        channels = self.props.switch("POWER_CHANNELS")
        defaults = self.props.switch("POW_DEF_ON")
        for name, default in zip(CHANNELS, DEFAULT_MEMBERS):
            label = labels[name].value.strip() or labels[name].label
            channels[name].label = label
            defaults[default].label = label

    # --- status ----------------------------------------------------------------------------------------------

    def on_status(self, status: p.Status) -> None:
        publisher = self.publisher
        if status.outputs is not None:
            channels = self.props.switch("POWER_CHANNELS")
            values = dict(zip(CHANNELS, status.outputs))
            if channels.values() != values or channels.state is not State.OK:
                channels.apply(values)
                publisher.update(channels.name, State.OK)
        if status.input_voltage is not None:
            sensors = self.props.number("POWER_SENSORS")
            sensors.apply(
                {
                    "SENSOR_VOLTAGE": status.input_voltage,
                    "SENSOR_CURRENT": status.current,
                    "SENSOR_POWER": status.input_voltage * status.current,
                }
            )
            publisher.update(sensors.name, State.OK)
        if status.amp_hours is not None and status.watt_hours is not None:
            energy = self.props.number("POWER_ENERGY")
            energy.apply({"ENERGY_AH": status.amp_hours, "ENERGY_WH": status.watt_hours})
            publisher.update(energy.name, State.OK)
        self._show_protection(status.protection)

    def _show_protection(self, trip: p.ProtectionTrip | None) -> None:
        lights = self.props.light("PROTECTION_STATUS")
        if trip == self.tripped and lights.state is not State.IDLE:
            return
        previous, self.tripped = self.tripped, trip
        if trip is None:
            lights.apply({"OVER_VOLTAGE": State.OK, "OVER_CURRENT": State.OK})
            message = "[INFO] Protection cleared" if previous is not None else None
            self.publisher.update(lights.name, State.OK, message)
            return
        voltage = trip.kind == "over-voltage"
        lights.apply(
            {"OVER_VOLTAGE": State.ALERT if voltage else State.OK, "OVER_CURRENT": State.OK if voltage else State.ALERT}
        )
        unit = "V" if voltage else "A"
        self.publisher.update(
            lights.name,
            State.ALERT,
            f"[ERROR] {trip.kind.capitalize()} protection tripped at {trip.value:.2f} {unit}: "
            "the device switched every 12 V and PWM output off",
        )
