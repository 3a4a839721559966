"""The two PWM outputs: dew heaters (or fans) in one of four modes per channel.

- Manual: DEW_DUTY_CYCLES is sent as `B:<n-1>:<percent>` while the channel is on.
- Device automatic: `B:<n-1>:255`, the device's own dew mode (AUTO_DEW_CONTROL).
- HEAT and AUTO: computed by the driver on every status line (dew.py) and sent when the duty changes, because the
  wire protocol has no command for them.
Switching a channel off sends 0. DEW_DUTY_CYCLES shows the duty the device reports, whatever the mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import trio

from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from . import readings
from .commands import Commands
from .dew import HoldController, heat_duty
from .unit import Unit

CHANNELS = ("DEW_CHANNEL_1", "DEW_CHANNEL_2")
MODE_PROPERTIES = ("DEW_MODE_1", "DEW_MODE_2")
MANUAL, DEVICE, HEAT, HOLD = "DEW_MANUAL", "DEW_DEVICE", "DEW_HEAT", "DEW_HOLD"
DRIVER_MODES = (HEAT, HOLD)


class DewHeaters(Part):
    def __init__(self, publisher: Publisher, commands: Commands, unit: Unit) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.commands = commands
        self.unit = unit
        self.manual_duty = [0, 0]  # what the user asked for in manual mode
        self.sent = [-1, -1]  # the last value written with B: (-1: nothing yet)
        self.controllers = [HoldController(), HoldController()]
        self.last_control_time: float | None = None
        self.sensor_missing_reported = [False, False]
        self.handlers: dict[str, Handler] = {
            "DEW_CHANNELS": self._on_channels,
            "DEW_DUTY_CYCLES": self._on_duty,
            "DEW_LABELS": self._on_labels,
            "AUTO_DEW_CONTROL": self._on_device_auto,
            "DEW_MODE_1": self._on_mode,
            "DEW_MODE_2": self._on_mode,
            "DEW_PWM_FREQUENCY": self._on_frequency,
        }
        # Read when used: the HEAT and AUTO settings on every status line (_computed_duty), the startup duties at the
        # next connection. A request only keeps the value.
        self.passive = frozenset(
            {"DEW_HEAT_SETTINGS", "DEW_HOLD_SETTINGS", "DEW_HOLD_SENSOR", "DEW_HOLD_DIRECTION", "DEW_STARTUP"}
        )
        self._apply_labels()

    def mode(self, index: int) -> str:
        return self.props.switch(MODE_PROPERTIES[index]).selected() or MANUAL

    def channel_on(self, index: int) -> bool:
        return bool(self.props.switch("DEW_CHANNELS")[CHANNELS[index]].on)

    def show_settings(self, blocks: Mapping[str, p.SettingsBlock]) -> None:
        if "u" in blocks:
            frequency = self.props.number("DEW_PWM_FREQUENCY")
            frequency["PRESCALER"].value = blocks["u"].integer(p.U_PWM_PRESCALER)
            self.publisher.update(frequency.name, State.OK)

    # --- writing a channel -----------------------------------------------------------------------------------

    async def _send(self, index: int, duty: int) -> None:
        await self.commands.expect_ack(p.set_pwm(index, duty))
        self.sent[index] = duty

    async def apply(self, index: int) -> None:
        """Put the device in line with the channel's switch and mode."""
        if not self.channel_on(index):
            await self._send(index, 0)
            return
        mode = self.mode(index)
        if mode == MANUAL:
            await self._send(index, self.manual_duty[index])
        elif mode == DEVICE:
            await self._send(index, p.PWM_AUTO)
        else:
            self.controllers[index].reset()
            duty = self._computed_duty(index, self.unit.status, dt=0.0)
            if duty is not None:
                await self._send(index, duty)
        self.publisher.poll_soon()

    def _sync_auto_dew_control(self) -> None:
        auto = self.props.switch("AUTO_DEW_CONTROL")
        auto.apply({name: self.mode(i) == DEVICE for i, name in enumerate(CHANNELS)})
        self.publisher.update(auto.name, State.OK)

    def _set_mode(self, index: int, mode: str) -> None:
        vector = self.props.switch(MODE_PROPERTIES[index])
        vector.select(mode)
        self.publisher.update(vector.name, State.OK)

    # --- requests --------------------------------------------------------------------------------------------

    async def _on_channels(self, update: Update) -> None:
        changed = update.changed()
        self.publisher.accept(update, State.BUSY if changed else State.OK)
        for index, name in enumerate(CHANNELS):
            if name in changed:
                await self.apply(index)
        update.vector.state = State.OK
        self.publisher.update(update.vector.name)

    async def _on_duty(self, update: Update) -> None:
        changed = update.changed()
        for index, name in enumerate(CHANNELS):
            if name in changed and self.mode(index) != MANUAL:
                label = self.props.text("DEW_LABELS")[name].value
                raise ValidationError(f"{label} is not in manual mode; choose Manual % before setting its duty")
        for index, name in enumerate(CHANNELS):
            if name in changed:
                self.manual_duty[index] = int(round(update[name]))
                if self.channel_on(index):
                    await self.apply(index)
        self.publisher.accept(update, State.BUSY if any(self.channel_on(i) for i in range(2)) else State.OK)

    async def _on_device_auto(self, update: Update) -> None:
        for index, name in enumerate(CHANNELS):
            if name not in update.changed():
                continue
            self._set_mode(index, DEVICE if update[name] else MANUAL)
            if update[name] and not self.channel_on(index):
                self.props.switch("DEW_CHANNELS")[name].on = True  # automatic heating means the channel is on
                self.publisher.update("DEW_CHANNELS", State.OK)
            await self.apply(index)
        self._sync_auto_dew_control()

    async def _on_mode(self, update: Update) -> None:
        index = MODE_PROPERTIES.index(update.vector.name)
        self.publisher.accept(update)
        self._sync_auto_dew_control()
        self.sensor_missing_reported[index] = False
        if self.unit.connecting:
            return  # the saved mode, replayed at connection: the heater keeps running as it is (on_connected)
        await self.apply(index)

    async def _on_labels(self, update: Update) -> None:
        self.publisher.accept(update)
        self._apply_labels()
        for name in ("DEW_CHANNELS", "DEW_DUTY_CYCLES", "AUTO_DEW_CONTROL"):
            if name in self.props.defined:  # new labels need a fresh definition (clients ignore a repeated one)
                self.publisher.delete(name)
                self.publisher.define(name)

    def _apply_labels(self) -> None:
        labels = self.props.text("DEW_LABELS")
        for name in CHANNELS:
            label = labels[name].value.strip() or labels[name].label
            for vector in ("DEW_CHANNELS", "DEW_DUTY_CYCLES", "AUTO_DEW_CONTROL"):
                self.props[vector][name].label = label
        for index, vector in enumerate(MODE_PROPERTIES):
            self.props[vector].label = f"{labels[CHANNELS[index]].value.strip() or labels[CHANNELS[index]].label} mode"

    async def _on_frequency(self, update: Update) -> None:
        block = await self.commands.write_settings("u", {p.U_PWM_PRESCALER: round(update["PRESCALER"])})
        self.show_settings({"u": block})

    # --- connection and status -------------------------------------------------------------------------------

    async def on_connected(self) -> None:
        status = self.unit.status
        assert status is not None and status.pwm is not None
        channels = self.props.switch("DEW_CHANNELS")
        for index, name in enumerate(CHANNELS):
            duty = status.pwm[index]
            self.sent[index] = duty
            channels[name].on = duty > 0 or self.mode(index) == DEVICE
            if self.mode(index) == MANUAL:
                self.manual_duty[index] = duty
        self.publisher.update(channels.name, State.OK)
        self._sync_auto_dew_control()
        startup = self.props.number("DEW_STARTUP")
        for index, name in enumerate(CHANNELS):
            duty = int(startup[name].value)
            if duty < 0:
                continue  # not set: the heater is left as it is
            label = self.props.text("DEW_LABELS")[name].value.strip() or name
            mode = self.mode(index)
            if mode != MANUAL:
                mode_label = self.props.switch(MODE_PROPERTIES[index])[mode].label
                self.publisher.message(
                    f"{label}: startup duty {duty} % not applied: the channel is in {mode_label} mode"
                )
                continue
            if status.pwm[index] == duty:
                self.publisher.message(f"{label}: already at its startup duty of {duty} %")
                continue
            # The user asked for this value at every connection; the protocol has no power-up setting for it.
            self.manual_duty[index] = duty
            channels[name].on = duty > 0
            await self.apply(index)
            self.publisher.message(f"{label}: startup duty applied, {status.pwm[index]} % -> {duty} % (DEW_STARTUP)")
        self.publisher.update(channels.name, State.OK)
        for index, name in enumerate(CHANNELS):
            if self.channel_on(index) and self.mode(index) in DRIVER_MODES:
                label = self.props.text("DEW_LABELS")[name].value.strip() or name
                mode_label = self.props.switch(MODE_PROPERTIES[index])[self.mode(index)].label
                self.publisher.message(
                    f"{label} is heating ({status.pwm[index]} %) in {mode_label} mode: the driver takes over its duty"
                )

    def _computed_duty(self, index: int, status: p.Status | None, dt: float) -> int | None:
        mode = self.mode(index)
        if status is None:
            return None
        if mode == HEAT:
            humidity = readings.humidity(status)
            if humidity is None:
                self._sensor_missing(index, "humidity")
                return None
            settings = self.props.number("DEW_HEAT_SETTINGS")
            return heat_duty(humidity, settings["MAX_POWER"].value, settings["START_HUMIDITY"].value)
        if mode == HOLD:
            use_sensor_2 = bool(self.props.switch("DEW_HOLD_SENSOR")["SENSOR_2"].on)
            temperature = readings.chosen_temperature(status, use_sensor_2)
            if temperature is None:
                self._sensor_missing(index, "sensor 2 temperature" if use_sensor_2 else "sensor 1 temperature")
                return None
            settings = self.props.number("DEW_HOLD_SETTINGS")
            reversed_direction = self.props.switch("DEW_HOLD_DIRECTION")["REVERSED"].on
            return self.controllers[index].duty(
                temperature, settings["TARGET"].value, settings["GAIN"].value, reversed_direction, dt
            )
        return None

    def _sensor_missing(self, index: int, what: str) -> None:
        if not self.sensor_missing_reported[index]:
            self.sensor_missing_reported[index] = True
            label = self.props.text("DEW_LABELS")[CHANNELS[index]].value
            self.publisher.update(
                MODE_PROPERTIES[index], State.ALERT, f"[WARNING] {label}: no {what} reading; the duty is left as it is"
            )

    async def on_status(self, status: p.Status) -> None:
        now = trio.current_time()
        dt = 0.0 if self.last_control_time is None else now - self.last_control_time
        self.last_control_time = now
        for index in range(2):
            if self.channel_on(index) and self.mode(index) in DRIVER_MODES:
                duty = self._computed_duty(index, status, dt)
                if duty is not None and duty != self.sent[index]:
                    await self._send(index, duty)
        if status.pwm is not None:
            duties = self.props.number("DEW_DUTY_CYCLES")
            values = dict(zip(CHANNELS, status.pwm))
            if duties.values() != values or duties.state is not State.OK:
                duties.apply(values)
                self.publisher.update(duties.name, State.OK)
