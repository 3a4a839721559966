"""INDI policy for the AstroLink 4: the composition root, the connection, the status poll, and the device-wide
settings.

The work is split by what the user sees, one part each: the focuser (indi.interfaces.focuser plus focusing.py for
motor and compensation settings), the 12 V outputs and protection (power.py), the dew heaters (dewheaters.py), the
sensors and weather (sensors.py), the alerts (alerts.py) and the session log (sessionlog.py). This module is the only
one that knows them all: it builds each with what it needs (this device as its Publisher, the Commands, the Unit with
the last status line, narrow callables where one part uses another's readings), wires the request handlers they
declare into the device's one dispatch table, and hands each status line to the parts that use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from ..indi.device import Device
from ..indi.interfaces.focuser import Focuser
from ..indi.interfaces.weather import Weather
from ..indi.part import Declared
from ..indi.properties import State, Update
from ..link.errors import LinkTimeout
from ..link.framing import Line, LineFramer
from ..link.session import LinkCounters, open_session
from ..link.transports import Transport, memory_pair
from . import protocol as p
from .alerts import Alerts
from .commands import Commands
from .dewheaters import DewHeaters
from .focusing import Focusing
from .power import Power
from .sensors import CRITICAL, WEATHER_PARAMETERS, Sensors
from .sessionlog import SessionLogging
from .unit import Unit

if TYPE_CHECKING:
    from .emulator import AstroLink4Emulator

REPLY_TIMEOUT = 1.0
RETRIES = 2
HANDSHAKE_RETRY_DELAY = 2.0  # a unit that resets when the port opens may miss the first '#'

USB_ONLY = {"MOTOR_HOLD", "SKY_SENSOR", "CLOUD_THRESHOLDS", "SKY_CONDITION", "SKY_QUALITY", "SKY_QUALITY_CALIBRATION",
            "WEATHER_SKY_TEMPERATURE", "WEATHER_CLOUD_COVER", "WEATHER_SKY_BRIGHTNESS"}  # fmt: skip
# Elements for hardware the mini does not have: no motor current (z), no 1/32 microstepping, a sensor 2 that is a
# temperature probe only. (Its weather parameters are chosen by Sensors.connecting.)
MINI_ABSENT_MEMBERS = {
    "FOCUSER_SETTINGS": ("FS_CURRENT",),
    "FOCUSER_MODE": ("FS_MODE_MICRO_H",),
    "MOTOR_PRESET": ("PRESET_MICRO_32",),
    "SENSOR_2": ("HUM_2", "DEW_2"),
}
# The family's speeds: the USB talks at 38400 baud, the mini at 115200. With one of these selected in
# DEVICE_BAUD_RATE, connecting tries it first (the last that worked, or the default) and then the other.
FAMILY_BAUD_RATES = (p.BAUD_USB, p.BAUD_MINI)

# Written by FACTORY_DEFAULTS: the settings the manual gives factory values for, its "default protection settings"
# (14.0 V, 10.0 A, 100 ms). Nothing else is touched. The ADC coefficient is this unit's calibration (the reference
# voltage printed on its box), the outputs on at power-up are the user's wiring, and the motor, compensation and
# maximum position depend on the focuser fitted; the manual gives no factory values for them.
FACTORY_N = {p.N_OVER_VOLTAGE: p.encode_setting("n", p.N_OVER_VOLTAGE, 14.0),
             p.N_OVER_CURRENT: p.encode_setting("n", p.N_OVER_CURRENT, 10.0), p.N_OVER_TIME: 100}  # fmt: skip
FACTORY_CONFIRM_SECONDS = 10.0  # a second press within this time confirms the reset
FACTORY_KEPT = (
    "kept: the ADC coefficient (this unit's calibration), the outputs on at power-up, the motor and compensation "
    "settings and the maximum position"
)


def describe_protection_changes(current: p.SettingsBlock, changes: dict[int, int]) -> list[str]:
    """The protection settings a write of `changes` to the n block would change, in words (old -> new)."""
    units = {p.N_OVER_VOLTAGE: ("protection voltage", "V", 1), p.N_OVER_CURRENT: ("protection current", "A", 1),
             p.N_OVER_TIME: ("protection sensitivity", "ms", 0)}  # fmt: skip
    words = []
    for index, value in changes.items():
        what, unit, digits = units[index]
        old, new = current.value(index), p.decode_setting("n", index, value)
        words.append(f"{what} {old:.{digits}f} -> {new:.{digits}f} {unit}")
    return words


class AstroLink4Driver(Device):
    def __init__(self, *args, **kwargs) -> None:
        self.unit = Unit()  # first: the base class asks for the property names, which depend on the model
        super().__init__(*args, **kwargs)
        self.identity = ""
        self.simulator: AstroLink4Emulator | None = None
        # The parts, each given what it needs and nothing else: this device publishes for them.
        self.commands = Commands()
        self.focuser = Focuser(self, self)
        self.focusing = Focusing(self, self.commands, self.unit, self.focuser, self.name)
        self.power = Power(self, self.commands)
        self.dew = DewHeaters(self, self.commands, self.unit)
        self.sensors = Sensors(self, Weather(self, WEATHER_PARAMETERS, CRITICAL), self.polling_period)
        self.alerts = Alerts(self, self.unit)
        self.session_logging = SessionLogging(self, self.name, lambda: self.connected, self.sensors.sky_brightness)
        self.polls = 0
        self._factory_armed_until: float | None = None  # a first FACTORY_DEFAULTS press waits for its confirmation
        self.trial_baud: int | None = None  # the speed being tried while looking for the device
        self._full_members = {name: dict(self.props[name].members) for name in MINI_ABSENT_MEMBERS}
        device_wide = Declared(
            "AstroLink4Driver (device-wide settings)",
            {
                "BUZZER": self._on_buzzer,
                "MANUAL_CONTROLLER": self._on_manual_controller,
                "FACTORY_DEFAULTS": self._on_factory_defaults,
            },
        )
        self.wire(
            self.focuser,
            self.focusing,
            self.power,
            self.dew,
            self.sensors,
            self.sensors.weather,
            self.alerts,
            self.session_logging,
            device_wide,
        )

    @property
    def layout(self) -> p.Layout | None:
        """The model found when connecting (None before)."""
        return self.unit.layout

    def connected_property_names(self) -> list[str]:
        names = super().connected_property_names()
        if self.unit.layout is p.Layout.MINI:
            names = [name for name in names if name not in USB_ONLY]
        return names

    def _fit_to_family(self) -> None:
        """Offer only what the connected model has: the mini loses the elements of hardware it lacks."""
        for name, full in self._full_members.items():
            absent = MINI_ABSENT_MEMBERS[name] if self.unit.layout is p.Layout.MINI else ()
            self.props[name].members = {member: value for member, value in full.items() if member not in absent}

    # --- link ------------------------------------------------------------------------------------------------

    async def open_simulator(self) -> Transport:
        from .emulator import AstroLink4Emulator, EmulatorConfig, serve  # only a simulating driver needs it

        simulator = self.simulator
        if simulator is None:
            simulator = self.simulator = AstroLink4Emulator(EmulatorConfig(), now=trio.current_time())
        transport, device_side = memory_pair("simulated AstroLink 4")
        assert self.connection_nursery is not None
        # The emulated serial line runs at the speed chosen, as a real one would (TCP has no speed).
        baud = None if self.props.switch("CONNECTION_MODE").selected() == "CONNECTION_TCP" else self.baud_rate()
        self.connection_nursery.start_soon(lambda: serve(simulator, device_side, baud=baud))
        return transport

    def baud_rate(self) -> int:
        return self.trial_baud or super().baud_rate()

    def _baud_candidates(self) -> list[int | None]:
        """The speeds to look for the device at: None for a link without one (TCP)."""
        if self.props.switch("CONNECTION_MODE").selected() == "CONNECTION_TCP":
            return [None]
        selected = super().baud_rate()
        if selected not in FAMILY_BAUD_RATES:
            return [selected]  # a speed the user chose on purpose
        return [selected, *(baud for baud in FAMILY_BAUD_RATES if baud != selected)]

    @asynccontextmanager
    async def open_device(self) -> AsyncIterator[None]:
        candidates = self._baud_candidates()
        self.trial_baud = candidates[0]
        try:
            async with open_session(
                LineFramer(max_line=256), self.open_transport, timeout=REPLY_TIMEOUT, retries=RETRIES, name=self.name
            ) as session:
                self.commands.session = session
                self.unit.connecting = True
                try:
                    await self._identify(candidates)
                    await self.read_all_settings()
                    self.unit.status = None
                    await self.poll()
                    yield
                finally:
                    self.commands.session = None
                    self.unit.connecting = False
        finally:
            self.trial_baud = None

    async def _handshake(self, candidates: list[int | None]) -> Line:
        """Find the device: each speed once at once; then, for a unit that resets when its port opens and misses the
        first '#', each again after a pause. The speed that answered is shown in DEVICE_BAUD_RATE."""
        session = self.commands.session
        assert session is not None
        attempts = [(baud, 0.0) for baud in candidates] + [(baud, HANDSHAKE_RETRY_DELAY) for baud in candidates]
        for baud, pause in attempts:
            if baud != self.trial_baud:
                self.trial_baud = baud
                await session.reconnect()  # the port opened again at the other speed
            await trio.sleep(pause)
            try:
                reply = await session.request(b"#\n", p.reply_matcher("#"), retries=0)
            except LinkTimeout:
                continue
            if baud is not None and baud != super().baud_rate():
                self.props.switch("DEVICE_BAUD_RATE").select(str(baud))
                self.update("DEVICE_BAUD_RATE", State.OK, f"The device answered at {baud} baud")
            return reply
        port = self.props.text("DEVICE_PORT")["PORT"].value.strip()
        speeds = " or ".join(str(baud) for baud in candidates if baud is not None)
        where = f"{port} at {speeds} baud" if speeds else "the network address"
        raise LinkTimeout(f"no AstroLink 4 answered on {where}: no reply to the identification request '#'")

    async def _identify(self, candidates: list[int | None]) -> None:
        reply = await self._handshake(candidates)
        self.identity = p.parse_identity(reply.text)
        layout = self.unit.layout = p.detect_layout(await self.commands.command(p.status()))
        self._fit_to_family()
        self.sensors.connecting(layout)
        info = self.props.text("DEVICE_INFO")
        info["MODEL"].value = layout.model
        info["IDENTITY"].value = self.identity
        info["STATUS_FIELDS"].value = str(layout.value)
        info.state = State.OK
        self.message(f"Found {layout.model} ({self.identity})")

    async def read_all_settings(self) -> None:
        """Read every settings block and show it; connecting reads, it never writes."""
        for letter in ("u", "e", "n", "j", "f") + (("z",) if self.unit.usb else ()):
            await self.commands.read_settings(letter)
        self.show_settings()

    def show_settings(self) -> None:
        blocks = self.commands.blocks
        self.focusing.show_settings(blocks, first_read=not self.connected)
        self.power.show_settings(blocks)
        self.dew.show_settings(blocks)
        if "j" in blocks:
            self.props.switch("BUZZER").apply({"BUZZER": blocks["j"].integer(1) != 0})
            self.update("BUZZER", State.OK)
        if "f" in blocks:
            on = blocks["f"].integer(1) != 0
            self.props.switch("MANUAL_CONTROLLER").select("FS_MANUAL_ON" if on else "FS_MANUAL_OFF")
            self.update("MANUAL_CONTROLLER", State.OK)

    async def on_connected(self) -> None:
        assert self.unit.status is not None
        self.spawn_connected(self.sensors.run, "weather updates")
        self.sensors.weather.announce()
        self.unit.connecting = False  # the saved config is in: from here on, requests act on the device
        await self.dew.on_connected()
        self.focusing.on_connected()
        self.session_logging.on_connected()

    async def on_disconnected(self) -> None:
        self._factory_armed_until = None  # a confirmation belongs to the connection it was asked in
        self.session_logging.on_disconnected()

    # --- polling ---------------------------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.focuser.moving

    def polling_period(self) -> float:
        return self.session_logging.polling_period(super().polling_period())

    async def poll(self) -> None:
        assert self.unit.layout is not None
        status = p.parse_status(await self.commands.command(p.status()), self.unit.layout)
        self.polls += 1
        await self.focuser.report(status.position, status.steps_to_go)
        self.focusing.on_status(status)
        if status.complete:
            self.unit.status = status
            # Between the parts, a client's request waiting to be handled goes first: it reaches the device
            # within a millisecond or two instead of after all of this status line's updates.
            for update in (self.power.on_status, self.sensors.on_status):
                await trio.lowlevel.checkpoint()
                update(status)
            await trio.lowlevel.checkpoint()
            await self.dew.on_status(status)
            await trio.lowlevel.checkpoint()
            self.alerts.on_status(status)
            self.session_logging.on_status(status)

    def link_counters(self) -> LinkCounters | None:
        return self.commands.session.counters if self.commands.session is not None else None

    def poll_failed(self, error: Exception) -> None:
        # The values on screen are no longer live: say so rather than let them look current. Each is said once
        # per outage (when its property goes Alert), not on every poll that fails while the device stays away.
        if "POWER_SENSORS" in self.props.defined:
            self.update("POWER_SENSORS", State.ALERT)
        if self.focuser.moving:
            self._alert_once("ABS_FOCUS_POSITION", "[ERROR] The focuser position is unknown: no answer")
        # Every reading goes Idle and the weather Alert ("weather unknown"), said once per outage.
        self.sensors.device_silent()

    async def on_recovered(self) -> None:
        # A write whose answer was lost, a refused request, the vendor panel or a power cycle: the settings on screen
        # may no longer be the device's.
        await self.read_all_settings()

    def _alert_once(self, name: str, message: str) -> None:
        already = self.props[name].state is State.ALERT
        self.update(name, State.ALERT, None if already else message)

    # --- focuser backend -------------------------------------------------------------------------------------

    async def focuser_move(self, position: int) -> None:
        await self.commands.expect_ack(p.move_to(position))

    async def focuser_halt(self) -> None:
        await self.commands.expect_ack(p.halt())

    async def focuser_sync(self, position: int) -> None:
        await self.commands.expect_ack(p.sync_position(position))

    async def focuser_set_max(self, maximum: int) -> None:
        await self.commands.write_settings("u", {p.U_MAX_POSITION: maximum})

    async def focuser_set_reversed(self, reversed: bool) -> None:
        await self.commands.write_settings("u", {p.U_REVERSED: 1 if reversed else 0})

    # --- device-wide settings --------------------------------------------------------------------------------

    async def _on_buzzer(self, update: Update) -> None:
        block = await self.commands.write_settings("j", {1: 1 if update["BUZZER"] else 0})
        update.vector.apply({"BUZZER": block.integer(1) != 0})
        self.update(update.vector.name, State.OK)

    async def _on_manual_controller(self, update: Update) -> None:
        on = bool(update["FS_MANUAL_ON"])
        await self.commands.expect_ack(p.set_manual_controller(on))
        block = await self.commands.read_settings("f")
        update.switches.select("FS_MANUAL_ON" if block.integer(1) else "FS_MANUAL_OFF")
        self.update(update.vector.name, State.OK)

    async def _on_factory_defaults(self, update: Update) -> None:
        """Destructive, so it takes two presses: the first says what would change, a second within
        FACTORY_CONFIRM_SECONDS writes it. Only the fields that differ from the factory values are written."""
        vector = update.vector
        vector.apply({"RESET": False})
        armed, self._factory_armed_until = self._factory_armed_until, None
        if not update["RESET"]:
            self.update(vector.name, State.IDLE, "Factory reset cancelled; nothing changed" if armed else None)
            return
        current = await self.commands.read_settings("n")
        changes = {index: value for index, value in FACTORY_N.items() if current.number(index) != value}
        if not changes:
            self.update(
                vector.name,
                State.OK,
                f"The protection settings are at their factory values; nothing changed ({FACTORY_KEPT})",
            )
            return
        if armed is None or trio.current_time() > armed:
            deadline = trio.current_time() + FACTORY_CONFIRM_SECONDS
            self._factory_armed_until = deadline
            self.spawn_connected(lambda: self._factory_reset_expires(deadline), "factory reset confirmation")
            self.update(
                vector.name,
                State.BUSY,
                f"[WARNING] Factory reset would set {'; '.join(describe_protection_changes(current, changes))} "
                f"({FACTORY_KEPT}). Press it again within {FACTORY_CONFIRM_SECONDS:.0f} s to confirm.",
            )
            return
        self.update(vector.name, State.BUSY)
        await self.commands.write_settings("n", changes)
        self.show_settings()
        self.update(
            vector.name,
            State.OK,
            f"Factory defaults written: {'; '.join(describe_protection_changes(current, changes))} ({FACTORY_KEPT})",
        )

    async def _factory_reset_expires(self, deadline: float) -> None:
        await trio.sleep_until(deadline)
        if self._factory_armed_until == deadline:
            self._factory_armed_until = None
            self.update("FACTORY_DEFAULTS", State.IDLE, "Factory reset not confirmed; nothing changed")
