"""AstroLink focuser settings beyond the standard Focuser interface: the motor, temperature compensation and the
compensation calculator.

Each settings write changes only the fields the user changed (the C++ drivers also overwrote acceleration,
compensation cycle and compensation sensor on every save); changes that can harm a motor carry the manual's warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from . import readings
from .commands import Commands
from .compensation import (
    MANUAL_EXAMPLE,
    MANUAL_RULE,
    FitError,
    Point,
    PointStore,
    SignLearner,
    StoreError,
    default_path,
    describe_sign,
    device_coefficient,
    fit,
)
from .unit import Unit

MODE_MEMBERS = ("FS_MODE_UNI", "FS_MODE_BI", "FS_MODE_MICRO_L", "FS_MODE_MICRO_H")
SIGN_SETTINGS = {"COLDER_INWARD": MANUAL_RULE, "COLDER_OUTWARD": MANUAL_EXAMPLE}  # COMP_SIGN members

# Sent before the settings they are about are shown, so a client that sees the new setting has the warning too.
MOTOR_WARNING = (
    "Stepper type changed. Do not connect or disconnect the stepper motor while the power is on, and set "
    "the hold torque off before fitting a motor of a different type."
)
HOLD_WARNING = (
    "Hold torque on: the motor stays powered when stopped, draws more current and gets warmer. "
    "Use it only with a motor designed to be powered constantly."
)


class MotorPreset:
    def __init__(self, mode: int, speed: int, acceleration: int, current_ma: int, label: str) -> None:
        self.mode, self.speed, self.acceleration, self.current_ma, self.label = (
            mode,
            speed,
            acceleration,
            current_ma,
            label,
        )


# Starting points from the manual's advice: unipolar 7.5° motors at no more than 120–150 pps (the astrojolo 12 V
# geared motor at 0.4 A), bipolar 1.8° motors up to 400–500 pps, microstepping up to 2000 pps; acceleration reaches
# full speed in half a second. Hold torque stays off.
PRESETS = {
    "PRESET_ASTROJOLO_GEARED": MotorPreset(0, 120, 240, 400, "12 V unipolar geared motor"),
    "PRESET_UNIPOLAR": MotorPreset(0, 120, 240, 400, "unipolar 7.5° motor"),
    "PRESET_BIPOLAR": MotorPreset(1, 400, 800, 600, "bipolar 1.8° motor"),
    "PRESET_MICRO_8": MotorPreset(2, 1000, 2000, 600, "bipolar motor at 1/8 microsteps"),
    "PRESET_MICRO_32": MotorPreset(3, 2000, 4000, 600, "bipolar motor at 1/32 microsteps"),
}


class FocuserState(Protocol):
    """What this part needs of the standard focuser (indi.interfaces.focuser.Focuser)."""

    @property
    def moving(self) -> bool: ...

    @property
    def position(self) -> int | None: ...

    def apply_maximum(self, maximum: int) -> None: ...


class Focusing(Part):
    """`device_name` names the compensation calculator's points file."""

    def __init__(
        self, publisher: Publisher, commands: Commands, unit: Unit, focuser: FocuserState, device_name: str
    ) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.commands = commands
        self.unit = unit
        self.focuser = focuser
        self.device_name = device_name
        self.store: PointStore | None = None
        self.sign_learner = SignLearner()
        self.applied_sign: int | None = None  # the device sign the calculator's last Apply assumed
        self.handlers: dict[str, Handler] = {
            "COMP_SIGN": self._on_sign_setting,
            "FOCUSER_SETTINGS": self._on_motor_settings,
            "FOCUSER_MODE": self._on_mode,
            "MOTOR_HOLD": self._on_hold,
            "MOTOR_PRESET": self._on_preset,
            "COMP_ENABLE": self._on_enable,
            "COMP_SETTINGS": self._on_compensation_settings,
            "COMP_SENSOR": self._on_sensor,
            "COMP_MODE": self._on_mode_auto,
            "COMP_NOW": self._on_compensate_now,
            "COMP_IF_OVER": self._on_compensate_if_over,
            "COMP_CALC_ADD": self._on_calculator_action,
            "COMP_CALC_POINT": self._on_calculator_point,
            "COMP_CALC_DELETE": self._on_calculator_delete,
        }

    # --- showing what the device holds -----------------------------------------------------------------------

    def show_settings(self, blocks: Mapping[str, p.SettingsBlock], *, first_read: bool = False) -> None:
        """Show the blocks read or written; `first_read` (connecting) also sets COMP_ENABLE from the device."""
        publisher = self.publisher
        if "u" in blocks:
            focuser = p.FocuserSettings.from_block(blocks["u"])
            self.focuser.apply_maximum(focuser.max_position)
            reverse = self.props.switch("FOCUS_REVERSE_MOTION")
            reverse.select("INDI_ENABLED" if focuser.reversed else "INDI_DISABLED")
            publisher.update(reverse.name, State.OK)
            motor = self.props.number("FOCUSER_SETTINGS")
            motor.apply(
                {
                    "FS_SPEED": focuser.speed,
                    "FS_ACCELERATION": focuser.acceleration,
                    "FS_STEP_SIZE": focuser.step_size_um,
                }
            )
            mode = self.props.switch("FOCUSER_MODE")
            if 0 <= focuser.stepper_mode < len(MODE_MEMBERS):
                mode.select(MODE_MEMBERS[focuser.stepper_mode])
            publisher.update(mode.name, State.OK)
        if "z" in blocks:
            motor_z = p.MotorSettings.from_block(blocks["z"])
            self.props.number("FOCUSER_SETTINGS")["FS_CURRENT"].value = motor_z.current_ma
            self.props.switch("MOTOR_HOLD").select("FS_HOLD_ON" if motor_z.hold else "FS_HOLD_OFF")
            publisher.update("MOTOR_HOLD", State.OK)
        publisher.update("FOCUSER_SETTINGS", State.OK)
        if "e" in blocks:
            compensation = p.CompensationSettings.from_block(blocks["e"])
            settings = self.props.number("COMP_SETTINGS")
            settings.apply({"FS_COMPENSATION": compensation.coefficient, "FS_COMP_THRESHOLD": compensation.threshold})
            publisher.update(settings.name, State.OK)
            self.props.switch("COMP_SENSOR").select("SENSOR_2" if compensation.sensor == 1 else "SENSOR_1")
            publisher.update("COMP_SENSOR", State.OK)
            self.props.switch("COMP_MODE").select("FS_COMP_AUTO" if compensation.auto else "FS_COMP_MANUAL")
            publisher.update("COMP_MODE", State.OK)
            if first_read:  # at connect the device says whether compensation is in use
                enabled = compensation.auto or compensation.coefficient != 0
                self.props.switch("COMP_ENABLE").select("INDI_ENABLED" if enabled else "INDI_DISABLED")

    def on_status(self, status: p.Status) -> None:
        publisher = self.publisher
        step_size = self.props.number("FOCUSER_SETTINGS")["FS_STEP_SIZE"].value
        millimetres = self.props.number("FOC_POS_MM")
        value = round(status.position * step_size / 1000.0, 3)
        if millimetres["FOC_POS_MM"].value != value:
            millimetres["FOC_POS_MM"].value = value
            publisher.update(millimetres.name, State.OK)
        if status.compensation_pending is not None:
            pending = self.props.number("COMP_STEPS")
            if pending["COMP_VALUE"].value != status.compensation_pending or pending.state is State.IDLE:
                pending["COMP_VALUE"].value = status.compensation_pending
                publisher.update(pending.name, State.OK)
        if status.complete:
            self._learn_sign(status)

    # --- motor -----------------------------------------------------------------------------------------------

    def _refuse_while_moving(self) -> None:
        if self.focuser.moving:
            raise ValidationError("the focuser is moving; wait or abort before changing motor settings")

    async def _on_motor_settings(self, update: Update) -> None:
        changed = update.changed()
        if set(changed) - {"FS_STEP_SIZE"}:
            # The step size is only stored for clients (mm readings); the device does not use it while moving.
            self._refuse_while_moving()
        if "FS_CURRENT" in changed and not self.unit.usb:
            raise ValidationError("the AstroLink 4 mini has no motor current setting")
        u_changes = {}
        if "FS_SPEED" in changed:
            u_changes[p.U_SPEED] = round(update["FS_SPEED"])
        if "FS_ACCELERATION" in changed:
            u_changes[p.U_ACCELERATION] = round(update["FS_ACCELERATION"])
        if "FS_STEP_SIZE" in changed:
            u_changes[p.U_STEP_SIZE] = p.encode_setting("u", p.U_STEP_SIZE, update["FS_STEP_SIZE"])
        if u_changes:
            await self.commands.write_settings("u", u_changes)
        if "FS_CURRENT" in changed:
            await self.commands.write_settings("z", {p.Z_CURRENT: round(update["FS_CURRENT"])})
        self.show_settings(self.commands.blocks)

    async def _on_mode(self, update: Update) -> None:
        self._refuse_while_moving()
        member = next(name for name, on in update.values.items() if on)
        mode = MODE_MEMBERS.index(member)
        if mode == 3 and not self.unit.usb:
            raise ValidationError("the AstroLink 4 mini has no 1/32 microstepping")
        await self.commands.write_settings("u", {p.U_STEPPER_MODE: mode})
        self.publisher.message(MOTOR_WARNING, "WARNING")
        self.show_settings(self.commands.blocks)

    async def _on_hold(self, update: Update) -> None:
        if not self.unit.usb:
            raise ValidationError("the AstroLink 4 mini has no hold torque setting")
        hold = bool(update["FS_HOLD_ON"])
        await self.commands.write_settings("z", {p.Z_HOLD: p.Z_HOLD_ON if hold else p.Z_HOLD_OFF})
        if hold:
            self.publisher.message(HOLD_WARNING, "WARNING")
        self.show_settings(self.commands.blocks)

    async def _on_preset(self, update: Update) -> None:
        chosen = next((name for name, on in update.values.items() if on), None)
        update.switches.reset()
        if chosen is None:
            self.publisher.update(update.vector.name, State.IDLE)
            return
        self._refuse_while_moving()
        preset = PRESETS[chosen]
        if not self.unit.usb and preset.mode == 3:
            raise ValidationError("the AstroLink 4 mini has no 1/32 microstepping")
        await self.commands.write_settings(
            "u", {p.U_STEPPER_MODE: preset.mode, p.U_SPEED: preset.speed, p.U_ACCELERATION: preset.acceleration}
        )
        if self.unit.usb:
            await self.commands.write_settings("z", {p.Z_CURRENT: preset.current_ma, p.Z_HOLD: p.Z_HOLD_OFF})
        self.show_settings(self.commands.blocks)
        self.publisher.update(
            update.vector.name,
            State.OK,
            f"[WARNING] Preset for a {preset.label} written: {preset.speed} pps, {preset.acceleration} pps/s, "
            f"{preset.current_ma} mA, hold torque off. {MOTOR_WARNING}",
        )

    # --- temperature compensation ----------------------------------------------------------------------------

    def enabled(self) -> bool:
        return bool(self.props.switch("COMP_ENABLE")["INDI_ENABLED"].on)

    async def _on_enable(self, update: Update) -> None:
        auto = self.props.switch("COMP_MODE")["FS_COMP_AUTO"].on
        if not update["INDI_ENABLED"] and auto and self.unit.connecting:
            # The saved "disabled", replayed at connection, while the device compensates by itself: connecting
            # changes nothing on the device, so the switch shows what the device does and the user decides.
            self.publisher.update(
                update.vector.name,
                State.ALERT,
                "[WARNING] The saved configuration has compensation disabled, but the device compensates by itself "
                "(AUTO mode); left as it is. Choose MANUAL or disable compensation to stop it.",
            )
            return
        if not update["INDI_ENABLED"] and auto:
            await self.commands.write_settings("e", {p.E_AUTO: 0})  # a disabled compensation must not act by itself
            self.show_settings(self.commands.blocks)
        self.publisher.accept(update)

    async def _on_compensation_settings(self, update: Update) -> None:
        changes = {}
        if "FS_COMPENSATION" in update.changed():
            changes[p.E_COEFFICIENT] = p.encode_setting("e", p.E_COEFFICIENT, update["FS_COMPENSATION"])
        if "FS_COMP_THRESHOLD" in update.changed():
            changes[p.E_THRESHOLD] = round(update["FS_COMP_THRESHOLD"])
        if changes:
            await self.commands.write_settings("e", changes)
        self.show_settings(self.commands.blocks)

    async def _on_sensor(self, update: Update) -> None:
        await self.commands.write_settings("e", {p.E_SENSOR: 1 if update["SENSOR_2"] else 0})
        self.show_settings(self.commands.blocks)

    async def _on_mode_auto(self, update: Update) -> None:
        auto = bool(update["FS_COMP_AUTO"])
        if auto and not self.enabled():
            raise ValidationError("temperature compensation is disabled; enable it before choosing AUTO")
        await self.commands.write_settings("e", {p.E_AUTO: 1 if auto else 0})
        self.show_settings(self.commands.blocks)

    async def _compensate(self, threshold: int) -> str:
        if not self.enabled():
            raise ValidationError("temperature compensation is disabled")
        if self.focuser.moving:
            raise ValidationError("the focuser is moving; compensate when it has stopped")
        pending = int(self.props.number("COMP_STEPS")["COMP_VALUE"].value)
        await self.commands.expect_ack(p.compensate_now(threshold))
        self.publisher.poll_soon()
        if abs(pending) > threshold:
            return f"Compensating {pending:+d} steps"
        return f"No compensation needed: {pending:+d} steps pending, threshold {threshold}"

    async def _on_compensate_now(self, update: Update) -> None:
        update.switches.reset()
        if not update["COMP_NOW"]:
            self.publisher.update(update.vector.name, State.IDLE)
            return
        message = await self._compensate(0)
        self.publisher.update(update.vector.name, State.OK, message)

    async def _on_compensate_if_over(self, update: Update) -> None:
        message = await self._compensate(int(round(update["THRESHOLD"])))
        self.publisher.accept(update, message=message)

    # --- the firmware's sign ----------------------------------------------------------------------------------

    def device_sign(self) -> tuple[int | None, str]:
        """The device's sign and where it comes from: learnt from the device, else the user's COMP_SIGN setting."""
        if self.sign_learner.sign is not None:
            return self.sign_learner.sign, "learned from the device"
        setting = self.props.switch("COMP_SIGN").selected()
        if setting in SIGN_SETTINGS:
            return SIGN_SETTINGS[setting], "from your COMP_SIGN setting"
        return None, "unknown"

    def _compensation_temperature(self, status: p.Status | None) -> float | None:
        """The temperature of the sensor COMP_SENSOR chose (None before the first complete status line)."""
        if status is None:
            return None
        return readings.chosen_temperature(status, bool(self.props.switch("COMP_SENSOR")["SENSOR_2"].on))

    def _learn_sign(self, status: p.Status) -> None:
        if self.sign_learner.sign is not None:
            return
        sign = self.sign_learner.observe(
            self._compensation_temperature(status),
            status.compensation_pending,
            status.position,
            self.props.number("COMP_SETTINGS")["FS_COMPENSATION"].value,
            moving=status.moving or self.focuser.moving,
        )
        if sign is None:
            return
        warnings = []
        setting = SIGN_SETTINGS.get(self.props.switch("COMP_SIGN").selected() or "")
        if setting is not None and setting != sign:
            warnings.append("this is not what COMP_SIGN says; the learned sign is used from now on")
        if self.applied_sign is not None and self.applied_sign != sign:
            warnings.append(
                "the coefficient the calculator applied assumed the other sign, so the device compensates the wrong "
                "way: press Apply again"
            )
        self.show_sign()
        message = f"Compensation sign learned: {describe_sign(sign)}"
        if warnings:
            message = f"[WARNING] {message}; " + "; ".join(warnings)
        self.publisher.update("COMP_SIGN_STATUS", State.ALERT if warnings else State.OK, message)

    def show_sign(self) -> None:
        status = self.props.text("COMP_SIGN_STATUS")
        sign, source = self.device_sign()
        learned = self.sign_learner.sign  # once learned, device_sign() gives this one
        if learned is not None:
            status.apply({"STATE": "learned", "RULE": describe_sign(learned)})
            state = State.OK
        else:
            rule = "not learned yet: the driver learns it once the temperature changes with a non-zero coefficient"
            if sign is not None:
                rule += f"; meanwhile your setting: {describe_sign(sign)}"
            status.apply({"STATE": "unknown", "RULE": rule})
            state = State.IDLE
        self.publisher.update(status.name, state)

    async def _on_sign_setting(self, update: Update) -> None:
        self.publisher.accept(update)
        self.show_sign()

    # --- calculator ------------------------------------------------------------------------------------------

    def points(self) -> PointStore:
        if self.store is None:
            try:
                self.store = PointStore(default_path(self.device_name))
            except StoreError as exc:
                raise ValidationError(str(exc)) from None
        return self.store

    def _store_problem(self, exc: Exception) -> ValidationError:
        """Report a points-file problem; if another program changed the file, take its version for the next try."""
        if isinstance(exc, StoreError) and self.store is not None:
            try:
                self.store.reload()
                self.show_calculator()
            except StoreError:
                pass
        return ValidationError(str(exc))

    def show_calculator(self) -> None:
        publisher = self.publisher
        store = self.points()
        listing = self.props.text("COMP_CALC_POINTS")
        listing["POINTS"].value = "; ".join(
            f"{number}: {point.temperature:.2f} C {point.position}" for number, point in enumerate(store.points, 1)
        )
        listing["FILE"].value = str(store.path)
        publisher.update(listing.name, State.OK)
        result = self.props.number("COMP_CALC_RESULT")
        try:
            calculated = fit(store.points)
        except FitError as exc:
            result.apply({name: 0 for name in result.members})
            result["POINTS"].value = len(store.points)
            # With no points yet there is nothing to say; with one, say why there is no result.
            publisher.update(
                result.name, State.IDLE, f"[INFO] Compensation calculator: {exc}" if store.points else None
            )
            return
        result.apply(
            {
                "COEFFICIENT": calculated.coefficient,
                "INTERCEPT": calculated.intercept,
                "R2": calculated.r_squared,
                "RESIDUAL_RMS": calculated.residual_rms,
                "TEMPERATURE_RANGE": calculated.temperature_range,
                "POINTS": calculated.count,
                "OUTLIERS": len(calculated.outliers),
            }
        )
        message = "[WARNING] " + " ".join(calculated.warnings) if calculated.warnings else None
        publisher.update(result.name, State.BUSY if calculated.warnings else State.OK, message)

    def on_connected(self) -> None:
        # Another unit (and firmware) may be behind the same port: its sign is learnt again.
        self.sign_learner.reset()
        self.applied_sign = None
        self.show_sign()
        try:
            self.show_calculator()
        except ValidationError as exc:
            self.publisher.update("COMP_CALC_POINTS", State.ALERT, f"[ERROR] {exc}")

    async def _on_calculator_action(self, update: Update) -> None:
        action = next((name for name, on in update.values.items() if on), None)
        update.switches.reset()
        store = self.points()
        try:
            if action == "ADD_CURRENT":
                temperature = self._compensation_temperature(self.unit.status)
                position = self.focuser.position
                if temperature is None or position is None:
                    raise ValidationError("the compensation sensor or the focuser position is not known yet")
                number = store.add(Point(round(temperature, 2), position))
                message = f"Point {number} added: {temperature:.2f} C, {position} steps"
            elif action == "CLEAR":
                store.clear()
                message = "All calculator points removed"
            elif action == "APPLY":
                calculated = fit(store.points)
                sign, source = self.device_sign()
                if sign is None:
                    raise ValidationError(
                        "the device's compensation sign is not known yet, so the coefficient could move the focuser "
                        "the wrong way. Choose it in COMP_SIGN, or let the driver learn it: with any non-zero "
                        "coefficient in COMP_SETTINGS it is learnt as the temperature changes"
                    )
                coefficient = device_coefficient(calculated.coefficient, sign)
                await self.commands.write_settings(
                    "e", {p.E_COEFFICIENT: p.encode_setting("e", p.E_COEFFICIENT, coefficient)}
                )
                self.applied_sign = sign
                self.show_settings(self.commands.blocks)
                way = "outward" if calculated.coefficient < 0 else "inward"
                message = (
                    f"Coefficient {coefficient:.2f} steps/C written to the device (sign {source}): as the points say, "
                    f"the focuser moves {way} by {abs(calculated.coefficient):.2f} steps per degree colder"
                )
            else:
                self.publisher.update(update.vector.name, State.IDLE)
                return
        except (StoreError, FitError, ValueError) as exc:
            raise self._store_problem(exc) from None
        self.show_calculator()
        self.publisher.update(update.vector.name, State.OK, message)

    async def _on_calculator_point(self, update: Update) -> None:
        store = self.points()
        number = int(round(update["INDEX"]))
        try:
            point = Point(round(update["TEMPERATURE"], 2), int(round(update["POSITION"])))
            if number == 0:
                number = store.add(point)
                message = f"Point {number} added"
            else:
                store.edit(number, point)
                message = f"Point {number} changed"
        except (StoreError, ValueError) as exc:
            raise self._store_problem(exc) from None
        self.publisher.accept(update, message=message)
        self.show_calculator()

    async def _on_calculator_delete(self, update: Update) -> None:
        number = int(round(update["INDEX"]))
        try:
            removed = self.points().delete(number)
        except (StoreError, ValueError) as exc:
            raise self._store_problem(exc) from None
        self.publisher.accept(
            update, message=f"Point {number} ({removed.temperature:.2f} C, {removed.position}) removed"
        )
        self.show_calculator()
