"""The behaviour every INDI device shares: general and connection properties, the connection lifecycle, config
handling, request dispatch with all-or-nothing validation, and a polling loop.

A device module subclasses :class:`Device` and supplies ``open_device()`` (open the link and identify the device),
``poll()``, and parts that declare handlers for its own properties; its constructor ends with ``wire(parts)``, which
builds the request dispatch table once and refuses to start half-wired (indi/part.py).
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

import trio
from lxml import etree

from ..errors import describe, first_error
from ..files import file_error
from ..link.errors import LinkError, TransportError
from . import config, connection, logs
from .connection import Transport
from .logs import LOGGING_PROPERTIES, set_debug
from .outbox import Outbox
from .part import Declared, Guard, Handler, Part, WiringError, build_dispatch
from .properties import PropertySet, State, SwitchVector, Update, ValidationError, Vector
from .snoop import Snooper
from .spec import DriverSpec, connected_names, default_config_document, refresh_system_ports
from .xmlstream import (
    GetProperties,
    MalformedMessage,
    NewVector,
    SnoopedVector,
    sanitize_text,
    serialize,
    timestamp_now,
)

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
FAST_POLL_PERIOD = 0.25  # seconds between polls while something moves, so clients see progress
LINK_STATISTICS_EVERY = 10  # polls between two updates of LINK_STATISTICS


class LinkCounts(Protocol):
    """What LINK_STATISTICS shows of a link session's counters (link/session.py LinkCounters)."""

    def summary(self, ignored: str) -> str: ...


class Device:
    """One INDI device served by this process."""

    snooper: Snooper | None = None  # set by a device that follows other devices' properties (indi/snoop.py)
    # Number vectors sent only when a member has moved by more than its threshold since the last one clients were
    # sent, or the state changed (libindi's Telescope does this for EQUATORIAL_EOD_COORD, at 0.1″): a mount at rest
    # or tracking does not repeat the same coordinates every poll.
    notify_thresholds: Mapping[str, Mapping[str, float]] = {}
    ignored_packets = "stray replies"  # LINK_STATISTICS' name for what the link set aside

    def __init__(self, spec: DriverSpec, props: PropertySet, outbox: Outbox) -> None:
        self.spec = spec
        self.props = props
        self._last_sent: dict[str, tuple[State, dict[str, Any]]] = {}  # notify_thresholds' vectors, as last sent
        self.name = props.device
        self.outbox = outbox
        self.log = logging.getLogger(f"indi_astrojolo.{type(self).__module__.split('.')[-2]}")
        # The general and connection properties every device has, served by this class (a subclass changes how
        # one is served by overriding the method, e.g. _on_baud_rate, never by declaring it again).
        self.general_properties = Declared(
            "Device (general and connection properties)",
            {
                "CONNECTION": self._on_connection,
                "DEBUG": self._on_debug,
                "DEBUG_LEVEL": self._on_log_levels,
                "LOGGING_LEVEL": self._on_log_levels,
                "LOG_OUTPUT": self._on_log_output,
                "SIMULATION": self._on_simulation,
                "CONFIG_PROCESS": self._on_config_process,
                "POLLING_PERIOD": self._on_polling_period,
                "DEVICE_PORT_SCAN": self._on_port_scan,
                "SYSTEM_PORTS": self._on_system_ports,
                "CONNECTION_MODE": self._on_connection_setting,
                "DEVICE_PORT": self._on_connection_setting,
                "DEVICE_ADDRESS": self._on_connection_setting,
                "DEVICE_BAUD_RATE": self._on_baud_rate,
            },
        )
        self._dispatch: dict[str, Handler] | None = None  # built by wire() once the subclass has built its parts
        self.connected = False
        # While connecting, what the device says of its properties waits here (property name, serialised), so that
        # CONNECTION's Ok goes out before the definitions, as libindi sends them (see _became_connected).
        self._held: list[tuple[str | None, bytes]] | None = None
        self._poll_wakeup = trio.Event()
        # A request failed on the link: what the device holds may not be what is shown, so it is read again
        # (on_recovered) after the next poll that succeeds, even if no poll failed.
        self.catch_up_owed = False
        self.runtime_nursery: trio.Nursery | None = None
        self.connection_nursery: trio.Nursery | None = None
        self._connection_scope: trio.CancelScope | None = None
        self._connection_closed = trio.Event()
        self._connection_closed.set()
        self.default_config = default_config_document(props)
        self.config_damage: str | None = None  # what was wrong with the config file loaded last
        self._pre_connection = [name for name in props.vectors if name not in self.connected_property_names()]
        self.driver_log = logs.DriverLogHandler(self._say_log_record, self.log_file_path())
        logs.attach_driver_log(self.driver_log)
        self._start_logging()

    # --- what a subclass provides ----------------------------------------------------------------------------

    def open_device(self) -> AbstractAsyncContextManager[None]:
        """Open the link and identify the device; leaving the context closes the link."""
        raise NotImplementedError

    async def poll(self) -> None:
        """Read the device's state once per polling period."""

    async def open_simulator(self) -> Transport:
        """A transport to the in-process emulator used in SIMULATION mode."""
        raise TransportError(0, "this driver has no simulator")

    def connected_property_names(self) -> list[str]:
        """Properties defined while connected, in definition order."""
        return connected_names(self.spec, self.name)

    async def on_connected(self) -> None:
        """Called after the connected properties are defined and the saved config is applied."""

    async def before_disconnect(self) -> None:
        """Called while the link still works, before a disconnect or shutdown closes it: stop what moves."""

    async def on_disconnected(self) -> None:
        """Called after the link is closed."""

    def link_counters(self) -> LinkCounts | None:
        """The open link session's counters, shown in LINK_STATISTICS; None while there is no session."""
        return None

    # --- dispatch ---------------------------------------------------------------------------------------------

    def wire(self, *parts: Part, guards: Sequence[Guard] = ()) -> None:
        """Build the request dispatch table from the general properties' and the parts' declarations, once: the last
        step of a driver's constructor. Raises WiringError if the declarations and the properties do not fit."""
        if self._dispatch is not None:
            raise WiringError(f"{self.name}: the request dispatch is built once; wire() was called again")
        self._dispatch = build_dispatch(self.props, [self.general_properties, *parts], self._accept_passive, guards)

    def wired(self) -> bool:
        return self._dispatch is not None

    @property
    def dispatch(self) -> dict[str, Handler]:
        """Each writable property's handler. A device whose constructor did not wire it must not serve requests."""
        if self._dispatch is None:
            raise WiringError(f"{type(self).__name__} has no request dispatch: its constructor must end with wire()")
        return self._dispatch

    async def _accept_passive(self, update: Update) -> None:
        """A passive property: the part that owns it reads the value when it needs it, so a request is just kept."""
        self.accept(update)

    # --- output ----------------------------------------------------------------------------------------------

    def send(self, element: etree._Element) -> None:
        if self._held is not None:
            self._held.append((element.get("name"), serialize(element)))
        else:
            self.outbox.send(serialize(element))

    def define(self, name: str, message: str | None = None) -> None:
        vector = self.props[name]
        self.props.defined[name] = None
        self._note_sent(vector)
        self.send(vector.def_element(message))

    def _note_sent(self, vector: Vector) -> None:
        if vector.name in self.notify_thresholds:
            self._last_sent[vector.name] = (vector.state, dict(vector.values()))

    def _worth_sending(self, vector: Vector) -> bool:
        """False for a vector with notify thresholds whose state and every member are as last sent (to within
        them)."""
        thresholds = self.notify_thresholds.get(vector.name)
        last = self._last_sent.get(vector.name)
        if thresholds is None or last is None or last[0] is not vector.state:
            return True
        values = vector.values()
        return any(abs(values[member] - last[1][member]) > limit for member, limit in thresholds.items())

    def update(
        self,
        name: str,
        state: State | None = None,
        message: str | None = None,
        only: list[str] | None = None,
    ) -> None:
        """Report a vector's values (and optionally a new state) to clients, if it is defined."""
        vector = self.props[name]
        if state is not None:
            vector.state = state
        if message and not message.startswith("["):
            message = f"[INFO] {message}"  # the level tag libindi's logger puts on every message
        if name in self.props.defined:
            if message is None and only is None and not self._worth_sending(vector):
                return
            self._note_sent(vector)
            self.send(vector.set_element(message, only))

    def delete(self, name: str | None = None) -> None:
        attrib = {"device": self.name, "timestamp": timestamp_now()}
        if name is not None:
            attrib["name"] = name
            self.props.defined.pop(name, None)
        else:
            self.props.defined.clear()
        self.send(etree.Element("delProperty", attrib))

    def message(self, text: str, level: str = "INFO") -> None:
        """An INDI message to clients, also written to the driver log."""
        self.log.log(LEVELS.get(level, logging.INFO), "%s", text, extra=logs.SAID)
        element = etree.Element(
            "message",
            {"device": self.name, "timestamp": timestamp_now(), "message": sanitize_text(f"[{level}] {text}")[:1000]},
        )
        self.outbox.send(serialize(element))  # never held: what is said while connecting is said at once

    def accept(self, update: Update, state: State = State.OK, message: str | None = None) -> None:
        """Apply a validated request and report the vector with the given state."""
        update.vector.apply(update.values)
        self.update(update.vector.name, state, message)

    def refuse(self, vector: Vector, reason: str) -> None:
        """A request that was not carried out: the vector keeps its values and goes to Alert, with the reason.

        The reason rides on the set* (clients show a set*'s message like any other), so it is said once."""
        if vector.name in self.props.defined:
            self.log.error("%s", reason, extra=logs.SAID)
            self.update(vector.name, State.ALERT, f"[ERROR] {reason}")
        else:  # message() logs it
            self.message(reason, "ERROR")

    # --- input -----------------------------------------------------------------------------------------------

    def answer_get_properties(self, request: GetProperties) -> None:
        for vector in self.props.definitions_for(request.device, request.name):
            self.send(vector.def_element())

    def report_malformed(self, message: MalformedMessage) -> None:
        """A message that is not valid INDI XML: if it was a request for one of our properties, that property goes
        to Alert with the reason (a client shows it Busy until it hears back); otherwise a message says so."""
        target = message.request
        if target is not None and target.device == self.name and target.name in self.props.defined:
            self.refuse(self.props[target.name], f"Request refused: malformed INDI message: {message.reason}")
            return
        self.message(f"Malformed INDI message dropped: {message.reason} ({message.excerpt[:80]!r})", "ERROR")

    async def handle_snooped(self, vector: SnoopedVector) -> None:
        """Another device's property this device follows changed: its role's handler decides (never fatal)."""
        if self.snooper is None:
            return
        try:
            await self.snooper.route(vector)
        except Exception as exc:  # a bug in following another device must not cost the driver
            self.log.error(
                "snooped %s.%s: %s", vector.device, vector.name, "".join(traceback.format_exception(exc))[-900:]
            )

    def overtakes(self, request: NewVector) -> bool:
        """An abort (a defined switch vector with an ABORT member, turned On) or a disconnect: served before the
        requests queued ahead of it, which it withdraws, so nothing asked for before it can start after it."""
        name = request.name or ""
        if request.device != self.name or request.kind != "Switch" or name not in self.props.defined:
            return False
        asked = {member: value.strip().lower() for member, value in request.members}
        if name == "CONNECTION":
            return asked.get("DISCONNECT") == "on" or asked.get("CONNECT") == "off"
        return "ABORT" in self.props[name].members and asked.get("ABORT") == "on"

    def withdraw(self, requests: list[NewVector], overtaken_by: NewVector) -> None:
        """Refuse queued requests an abort or disconnect overtook, once per property, each saying why."""
        counts: dict[str, int] = {}
        for request in requests:
            counts[request.name or ""] = counts.get(request.name or "", 0) + 1
        for name, count in counts.items():
            reason = f"Request withdrawn: {overtaken_by.name} arrived after it and was served first" + (
                f" ({count} requests for {name} withdrawn)" if count > 1 else ""
            )
            if name in self.props.defined:
                self.refuse(self.props[name], reason)
            else:
                self.message(f"{reason} ({name or 'unnamed property'})", "ERROR")

    async def handle_request(self, request: NewVector, *, from_config: bool = False) -> None:
        """Validate a client's new*Vector as a whole and hand it to the property's handler."""
        if not request.device:
            # indiserver hands a request that names no device to every driver: none of them may act on it.
            self.message(f"Request refused: new{request.kind}Vector {request.name or ''!r} names no device", "ERROR")
            return
        if request.device != self.name:
            self.log.debug("request for another device %r ignored", request.device)
            return
        name = request.name or ""
        if name not in self.props.defined:
            if name in LOGGING_PROPERTIES:
                reason = f"{name} is available while DEBUG is enabled"
            elif name in self.props:
                reason = (
                    f"{name} is not available while the device is {'connected' if self.connected else 'disconnected'}"
                )
            else:
                reason = f"unknown property {name!r}"
            if not from_config:
                self.message(f"Request refused: {reason}", "ERROR")
            return
        vector = self.props[name]
        try:
            update = vector.validate(request)
        except ValidationError as exc:
            self.refuse(vector, f"Request refused: {exc}")
            return
        if self.log.isEnabledFor(logging.DEBUG):  # a flood of requests costs no formatting while debug is off
            self.log.debug(
                "%s requested: %s", name, ", ".join(f"{member}={value}" for member, value in request.members)
            )
        try:
            # Every writable property has its handler (wire() checked that); a read-only one was refused above.
            await self.dispatch[name](update)
        except ValidationError as exc:
            self.refuse(vector, f"Request refused: {exc}")
        except LinkError as exc:
            self.catch_up_owed = True
            self.refuse(vector, f"{vector.label}: the device did not answer as expected ({exc})")
        except TransportError as exc:
            self.catch_up_owed = True
            self.refuse(vector, f"{vector.label}: {exc}")
        except OSError as exc:  # a full disk, a read-only or missing directory: said as such, never "internal error"
            self.refuse(vector, f"{vector.label}: {describe(exc)}")
        except Exception as exc:  # a bug must cost one request, never the driver
            self.log.error("handler for %s failed: %s", name, "".join(traceback.format_exception(exc))[-900:])
            self.refuse(vector, f"{vector.label}: internal error ({describe(exc)})")

    # --- general properties ----------------------------------------------------------------------------------

    async def _on_debug(self, update: Update) -> None:
        enable = bool(update["ENABLE"])
        changed = bool(update.changed())
        self.accept(update)
        if changed:
            # libindi: "Debug is enabled." and the Logger's levels and outputs appear (or go) with it.
            self.message(f"Debug is {'enabled' if enable else 'disabled'}")
            for name in LOGGING_PROPERTIES:
                if enable:
                    self.define(name)
                elif name in self.props.defined:
                    self.delete(name)
        failure = self._apply_logging()
        if failure is not None:
            self.props.switch("LOG_OUTPUT")["FILE_DEBUG"].on = False
            self.update("LOG_OUTPUT", State.ALERT, f"[WARNING] File logging is off: {failure}")

    # --- logging (libindi's Logger) ----------------------------------------------------------------------------

    def log_file_path(self) -> Any:
        home = os.environ.get("HOME") or os.path.expanduser("~")
        return logs.log_file_path(home, self.spec.exec_name, datetime.now(UTC))

    def _log_settings(self) -> logs.LogSettings:
        return logs.LogSettings.from_switches(
            {name: self.props.switch(name).values() for name in ("DEBUG",) + LOGGING_PROPERTIES}
        )

    def _apply_logging(self) -> str | None:
        """Make the logging match the properties; what kept the log file from opening, in words, or None."""
        settings = self._log_settings()
        set_debug(settings.debug)
        try:
            self.driver_log.configure(settings)
        except OSError as exc:
            return f"{self.driver_log.path} could not be opened: {file_error(exc, 'write')}"
        return None

    def _start_logging(self) -> None:
        """The saved DEBUG and log settings, applied at start-up (libindi loads them before anything else)."""
        failure = self._apply_logging()
        if failure is not None:
            self.props.switch("LOG_OUTPUT")["FILE_DEBUG"].on = False
            self.message(f"File logging is off: {failure}", "WARNING")
        elif self.driver_log.file is not None:
            self.log.info("Session log file %s", self.driver_log.path)

    def _say_log_record(self, tag: str, text: str) -> None:
        element = etree.Element(
            "message",
            {"device": self.name, "timestamp": timestamp_now(), "message": sanitize_text(f"[{tag}] {text}")[:1000]},
        )
        self.send(element)

    async def _on_log_levels(self, update: Update) -> None:
        update.vector.apply(update.values)
        self._apply_logging()
        # libindi: Idle when no level is chosen
        self.update(update.vector.name, State.OK if update.switches.on_names() else State.IDLE)

    async def _on_log_output(self, update: Update) -> None:
        vector = update.switches
        before = vector.values()
        file_was_open = self.driver_log.file is not None
        vector.apply(update.values)
        failure = self._apply_logging()
        if failure is not None:
            vector.apply(before)
            self._apply_logging()
            raise ValidationError(f"File logging not started: {failure}")
        self.update(vector.name, State.OK if vector.on_names() else State.IDLE)
        if self.driver_log.file is not None and not file_was_open:
            self.message(f"Session log file {self.driver_log.path}")

    async def _on_simulation(self, update: Update) -> None:
        if self.connected and update.changed():
            raise ValidationError("disconnect before switching simulation on or off")
        self.accept(update, message="Simulation is on" if update["ENABLE"] else None)

    async def _on_polling_period(self, update: Update) -> None:
        self.accept(update)

    def polling_period(self) -> float:
        return self.props.number("POLLING_PERIOD")["PERIOD_MS"].value / 1000.0

    async def _on_connection_setting(self, update: Update) -> None:
        if self.connected and update.changed():
            raise ValidationError(f"disconnect before changing {update.vector.label.lower()}")
        self.accept(update)

    async def _on_baud_rate(self, update: Update) -> None:
        """DEVICE_BAUD_RATE: a connection setting; a driver whose link allows only some speeds overrides this."""
        await self._on_connection_setting(update)

    async def _on_system_ports(self, update: Update) -> None:
        if self.connected and update.changed():
            raise ValidationError("disconnect before choosing another port")
        self.accept(update)
        chosen = update.vector.selected() if isinstance(update.vector, SwitchVector) else None
        if chosen:
            self.props.text("DEVICE_PORT")["PORT"].value = chosen
            self.update("DEVICE_PORT", State.OK)

    async def _on_port_scan(self, update: Update) -> None:
        changed = refresh_system_ports(self.props)
        if changed and self.props.is_defined("SYSTEM_PORTS"):
            self.delete("SYSTEM_PORTS")
        if self.props.switch("SYSTEM_PORTS").members and not self.props.is_defined("SYSTEM_PORTS"):
            self.define("SYSTEM_PORTS")
        count = len(self.props.switch("SYSTEM_PORTS").members)
        update.vector.apply({"Scan Ports": False})
        self.update(update.vector.name, State.OK, f"{count} serial port(s) found")

    # --- transports ------------------------------------------------------------------------------------------

    def simulation(self) -> bool:
        return bool(self.props.switch("SIMULATION")["ENABLE"].on)

    def baud_rate(self) -> int:
        return int(self.props.switch("DEVICE_BAUD_RATE").selected() or self.spec.baud_rate)

    async def open_transport(self) -> Transport:
        """Open the link the user chose: simulator, TCP or serial."""
        if self.simulation():
            return await self.open_simulator()
        if self.props.switch("CONNECTION_MODE").selected() == "CONNECTION_TCP":
            address = self.props.text("DEVICE_ADDRESS")
            return await connection.open_address(address["ADDRESS"].value, address["PORT"].value)
        return await self.open_serial(self.props.text("DEVICE_PORT")["PORT"].value.strip(), self.baud_rate())

    async def open_serial(self, path: str, baud_rate: int) -> Transport:
        return await connection.open_serial(path, baud_rate)

    # --- connection lifecycle --------------------------------------------------------------------------------

    async def _on_connection(self, update: Update) -> None:
        want_connected = bool(update["CONNECT"])
        vector = update.vector
        if want_connected == self.connected:
            self.update(vector.name, State.OK if want_connected else State.IDLE)
            return
        if not want_connected:
            await self.disconnect()
            return
        self.update(vector.name, State.BUSY)
        assert self.runtime_nursery is not None
        try:
            await self.runtime_nursery.start(self._connection_lifetime)
        except Exception as exc:
            error = first_error(exc)
            vector.apply({"CONNECT": False, "DISCONNECT": True})
            self.update(vector.name, State.ALERT)
            self.message(f"Connection failed: {describe(error)}", "ERROR")
            return

    async def _connection_lifetime(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        self._connection_closed = trio.Event()
        try:
            with trio.CancelScope() as scope:
                self._connection_scope = scope
                async with trio.open_nursery() as nursery:
                    self.connection_nursery = nursery
                    async with self.open_device():
                        await self._became_connected()
                        started = True
                        task_status.started()
                        await trio.sleep_forever()
        except Exception as exc:
            if not started:
                raise
            self.log.error("connection ended: %s", "".join(traceback.format_exception(exc))[-900:])
            self.message(f"Connection lost: {describe(first_error(exc))}", "ERROR")
        finally:
            self.connection_nursery = None
            self._connection_scope = None
            if started or self.connected:
                # Connected, or failed part-way through _became_connected: either way nothing of the connection
                # may stay behind (defined properties would answer requests with no link under them).
                self._became_disconnected(announce=started)
                with trio.CancelScope(shield=True):
                    try:
                        await self.on_disconnected()
                    except Exception as exc:
                        self.log.error("after disconnecting: %s", "".join(traceback.format_exception(exc))[-900:])
            self._connection_closed.set()

    async def _became_connected(self) -> None:
        """Define the connected properties, apply the saved config and start polling. CONNECTION says Ok only
        when all of it succeeded: a failure on the way is undone by _connection_lifetime and reported by
        _on_connection.

        What is said of the properties meanwhile is held and sent after CONNECTION's Ok, in libindi's order (Ok,
        then the definitions): KStars marks a device ready 250 ms after the last definition it sees once the
        device is connected, and Ekos takes up a mount or focuser only then. Definitions sent before the Ok can
        leave Ekos's Mount module without its mount (park status Unknown for good). On a failure the connected
        properties' definitions and updates are dropped (no client ever saw them), the rest is sent."""
        self.connected = True
        names = self.connected_property_names()
        self._held = []
        succeeded = False
        try:
            for name in names:
                self.define(name)
            await self.load_config(initial=True)
            await self.on_connected()
            self.spawn_connected(self._poll_loop, "polling")
            succeeded = True
        finally:
            held, self._held = self._held, None
            if not succeeded:
                for name in names:
                    self.props.defined.pop(name, None)
                for held_name, data in held:
                    if held_name not in names:
                        self.outbox.send(data)
        connection = self.props.switch("CONNECTION")
        connection.select("CONNECT")
        self.update("CONNECTION", State.OK)
        for _, data in held:
            self.outbox.send(data)
        self.message(f"{self.name} is connected")  # after every definition: a client waiting for it has them all

    def _became_disconnected(self, *, announce: bool = True) -> None:
        was_connected = self.connected and announce
        self.connected = False
        for name in self.connected_property_names():
            if name in self.props.defined:
                self.delete(name)
        connection = self.props.switch("CONNECTION")
        connection.select("DISCONNECT")
        self.update("CONNECTION", State.IDLE)
        if was_connected:
            self.message(f"{self.name} is disconnected")

    async def disconnect(self) -> None:
        if self._connection_scope is not None:
            if self.connected:
                # Cancelling the connection also cancels the link's reader: after that no reply could arrive.
                try:
                    await self.before_disconnect()
                except Exception as exc:  # the link may be failing: disconnect all the same
                    self.log.error("before disconnecting: %s", describe(exc))
            self._connection_scope.cancel()
        await self._connection_closed.wait()
        if self.connected:  # never got past open_device
            self._became_disconnected()

    def spawn_connected(self, fn: Callable[[], Awaitable[None]], what: str) -> None:
        """Run a task for as long as the device is connected; its failure is reported, never fatal."""
        assert self.connection_nursery is not None

        async def guarded() -> None:
            try:
                await fn()
            except Exception as exc:
                self.log.error("%s stopped: %s", what, "".join(traceback.format_exception(exc))[-900:])
                self.message(f"{what} stopped after an internal error: {describe(exc)}", "ERROR")

        self.connection_nursery.start_soon(guarded, name=what)  # named: a trace or profile says which task

    def busy(self) -> bool:
        """True while something moves: the device is then polled at least every FAST_POLL_PERIOD seconds."""
        return False

    def poll_soon(self) -> None:
        """Poll now rather than at the end of the period (after a command whose effect clients wait to see)."""
        self._poll_wakeup.set()

    async def _poll_loop(self) -> None:
        failing = False
        polls = 0
        while True:
            started = trio.current_time()
            self._poll_wakeup = trio.Event()
            try:
                await self.poll()
                polls += 1
                if polls % LINK_STATISTICS_EVERY == 0:
                    self._show_link_statistics()
                if failing:
                    self.message("The device answers again")
                if failing or self.catch_up_owed:
                    self.catch_up_owed = False
                    await self.on_recovered()
                failing = False
            except (LinkError, TransportError) as exc:
                if not failing:
                    self.message(f"The device does not answer: {exc}", "WARNING")
                failing = True
                self.poll_failed(exc)
            period = self.polling_period()
            if self.busy():
                period = min(period, FAST_POLL_PERIOD)
            with trio.move_on_at(started + period):
                await self._poll_wakeup.wait()

    def _show_link_statistics(self) -> None:
        counters = self.link_counters()
        if counters is None or "LINK_STATISTICS" not in self.props.defined:
            return
        self.props.text("LINK_STATISTICS")["COUNTERS"].value = counters.summary(self.ignored_packets)
        self.update("LINK_STATISTICS", State.OK)

    def poll_failed(self, error: Exception) -> None:
        """Show that the values on screen are no longer live (a subclass marks its properties Alert)."""

    async def on_recovered(self) -> None:
        """The device answers again after polls or a request failed: catch up with what may have changed meanwhile."""

    # --- config ----------------------------------------------------------------------------------------------

    def config_file(self) -> Any:
        return config.config_path(self.name)

    def saved_vectors(self) -> list[Vector]:
        # The log levels and outputs are saved while DEBUG is off too, as libindi saves them: enabling it again
        # brings back the levels chosen before.
        return [
            v
            for v in self.props.vectors.values()
            if v.save and (v.name in self.props.defined or v.name in LOGGING_PROPERTIES)
        ]

    async def save_config(self) -> None:
        path = self.config_file()
        vectors = self.saved_vectors()
        try:
            await trio.to_thread.run_sync(config.protect_before_overwrite, path)
        except config.ConfigError as exc:
            raise ValidationError(f"Configuration {exc}") from None
        await self._write_default_config()
        try:
            await trio.to_thread.run_sync(config.write, path, vectors)
        except OSError as exc:
            raise ValidationError(f"Configuration not saved: {file_error(exc, 'write')}") from None

    async def _write_default_config(self) -> None:
        """The .default file is a convenience: failing to write it is said, and fails nothing."""
        try:
            await trio.to_thread.run_sync(config.write_default_once, self.config_file(), self.default_config)
        except OSError as exc:
            self.message(f"The default configuration was not kept: {file_error(exc, 'write')}", "WARNING")

    def config_damaged(self, loaded: config.ConfigFile) -> None:
        """A damaged config was applied as far as it could be read (a subclass may hold back what depends on it)."""

    async def _report_damaged_config(self, loaded: config.ConfigFile) -> str:
        try:
            kept = await trio.to_thread.run_sync(config.keep_damaged_copy, loaded)
            where = f"a copy of it was kept as {kept.name}"
        except OSError as exc:
            where = f"no copy of it could be kept ({file_error(exc, 'write')}), so it will not be saved over"
        text = f"{loaded.describe_damage()}; {where}"
        self.message(text, "WARNING")
        return text

    async def load_config(self, *, initial: bool = False, path: Any = None) -> list[str]:
        """Replay saved requests for the properties defined now; returns what each one changed, in words.

        A load the user asks for (not the one at connection) skips every saved property that already has its saved
        values: loading a config changes only what differs, so a handler with a side effect on the device (a heater
        duty sent again) does not run for nothing. A file that does not exist raises config.ConfigMissing (the caller
        says what that means); one that cannot be read is refused with the reason."""
        path = path or self.config_file()
        damage = None
        try:
            loaded = await trio.to_thread.run_sync(config.load, path)
        except config.ConfigMissing:
            if not initial:
                raise  # the caller says what that means: a first run for a load, a refusal for the defaults
            return []
        except config.ConfigError as exc:
            if not initial:
                raise ValidationError(str(exc)) from None
            self.message(f"The saved configuration was not applied: {exc}", "WARNING")
            self.update("CONFIG_PROCESS", State.ALERT)
            return []
        if loaded.damage is not None:
            damage = await self._report_damaged_config(loaded)
        requests = loaded.requests
        if initial:
            await self._write_default_config()
        applied: list[str] = []
        for request in requests:
            name = request.name or ""
            if name not in self.props.defined or not self.props[name].save:
                continue
            if initial and name in self._pre_connection:
                continue  # applied at start-up already
            request = NewVector(request.kind, self.name, name, request.members, None)
            vector = self.props[name]
            change = self._described_change(vector, request)
            if not initial and change == "":
                continue
            await self.handle_request(request, from_config=True)
            refused = vector.state is State.ALERT
            applied.append(f"{vector.label} ({'refused' if refused else change or 'as saved'})")
        self.config_damage = damage
        if damage is not None:
            self.config_damaged(loaded)  # after the replay: what it set came from the damaged file
        if initial:
            self.update("CONFIG_PROCESS", State.OK if damage is None else State.ALERT)
        return applied

    @staticmethod
    def _described_change(vector: Vector, request: NewVector) -> str | None:
        """What a saved request would change, in words; "" for nothing; None if it is invalid (its handling says
        why)."""
        try:
            changed = vector.validate(request).changed()
        except ValidationError:
            return None
        current = vector.values()
        words = []
        for member, value in changed.items():
            label = vector[member].label or member
            if isinstance(value, bool):
                words.append(f"{label} {'on' if value else 'off'}")
            elif isinstance(value, float):
                words.append(f"{label} {current[member]:g} -> {value:g}")
            else:
                words.append(f"{label} {current[member]!r} -> {value!r}")
        return ", ".join(words)

    def _config_state(self) -> State:
        return State.OK if self.config_damage is None else State.ALERT

    async def _on_config_process(self, update: Update) -> None:
        vector = update.vector
        action = next((name for name, on in update.values.items() if on), None)
        vector.apply({name: False for name in vector.members})
        path = self.config_file()
        if action == "CONFIG_SAVE":
            await self.save_config()
            self.update(vector.name, State.OK, f"Configuration saved to {path}")
        elif action == "CONFIG_LOAD":
            try:
                changes = await self.load_config()
            except config.ConfigMissing:
                # Nothing saved yet is a normal first run (Ekos asks for a load on every connect): information, as
                # libindi drivers give it, and the property stays Idle rather than going to Alert.
                text = (
                    f"No previous configuration found at {path}. "
                    "To save the configuration, press Save in the Options tab."
                )
                self.log.info("%s", text, extra=logs.SAID)  # the update below says it
                self.update(vector.name, State.IDLE, text)
                return
            self.update(vector.name, self._config_state(), self._loaded_message("Configuration", changes))
        elif action == "CONFIG_DEFAULT":
            try:
                changes = await self.load_config(path=config.default_path(path))
            except config.ConfigMissing as exc:
                raise ValidationError(str(exc)) from None
            self.update(vector.name, self._config_state(), self._loaded_message("Default configuration", changes))
        elif action == "CONFIG_PURGE":
            removed = await trio.to_thread.run_sync(config.purge, path)
            self.update(vector.name, State.OK, f"Configuration {'purged' if removed else 'was already empty'}")
        else:
            self.update(vector.name, State.IDLE)

    @staticmethod
    def _loaded_message(what: str, changes: list[str]) -> str:
        if not changes:
            return f"{what} loaded: every saved setting already had its saved value; nothing changed"
        return f"{what} loaded; changed: " + "; ".join(changes)

    # --- shutdown --------------------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close the device link when the driver exits."""
        if self.connected or self._connection_scope is not None:
            await self.disconnect()
        self.driver_log.close_file()
