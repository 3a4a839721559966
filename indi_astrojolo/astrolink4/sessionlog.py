"""The session log as a part: DATA_LOG turns the CSV log (datalog.SessionLog) on and off, DATA_LOG_DIR chooses where
it goes, and every complete status line becomes a row while it is on.

The rows are written on the event loop; the periodic fsync runs in a worker thread, since on a slow SD card it can
take longer than a polling period.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trio

from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from . import readings
from .datalog import DirectoryRefused, Sample, SessionLog, allowed_roots, check_directory, default_directory

# While the session log is on, the status is sampled at least this often: the vendor panel's "Actual data is always
# sampled two times per second". A shorter POLLING_PERIOD is kept; nothing else is slowed down.
SESSION_SAMPLE_PERIOD = 0.5  # seconds


class SessionLogging(Part):
    """`connected` says whether the device is connected (a new directory is used at once only then);
    `sky_brightness` is the calibrated sky quality reading the Sensors part shows."""

    def __init__(
        self,
        publisher: Publisher,
        device_name: str,
        connected: Callable[[], bool],
        sky_brightness: Callable[[p.Status], float | None],
    ) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.device_name = device_name
        self.connected = connected
        self.sky_brightness = sky_brightness
        self.log: SessionLog | None = None
        self.handlers: dict[str, Handler] = {"DATA_LOG": self._on_data_log, "DATA_LOG_DIR": self._on_data_log_dir}

    def polling_period(self, period: float) -> float:
        """The polling period the log needs, given the one chosen."""
        return min(period, SESSION_SAMPLE_PERIOD) if self.log is not None else period

    def directory(self) -> Path:
        text = self.props.text("DATA_LOG_DIR")["DIRECTORY"].value.strip()
        return Path(text).expanduser() if text else default_directory()

    # --- lifetime ----------------------------------------------------------------------------------------------

    def on_connected(self) -> None:
        try:
            self._open()
        except OSError as exc:
            self.publisher.update("DATA_LOG", State.ALERT, f"[ERROR] Session log cannot be opened: {exc}")

    def on_disconnected(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def _open(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.props.switch("DATA_LOG")["INDI_ENABLED"].on:
            directory = self.directory()
            check_directory(directory, allowed_roots())
            # Our own default may need ~/astrojolo too; a directory the user typed gets only its last level created.
            chosen = bool(self.props.text("DATA_LOG_DIR")["DIRECTORY"].value.strip())
            self.log = SessionLog(directory, self.device_name, clock=trio.current_time, create_parents=not chosen)
            self.publisher.poll_soon()  # the first sample now, and the period of the log from there on

    # --- samples -----------------------------------------------------------------------------------------------

    def on_status(self, status: p.Status) -> None:
        if self.log is None:
            return
        sample = Sample(
            time=datetime.now(UTC),
            position=status.position,
            temperature_1=status.sensor1.temperature if status.sensor1 else None,
            humidity_1=status.sensor1.humidity if status.sensor1 else None,
            dew_point_1=status.sensor1.dew_point if status.sensor1 else None,
            temperature_2=readings.sensor2_temperature(status),
            humidity_2=status.sensor2.humidity if status.sensor2 else None,
            dew_point_2=status.sensor2.dew_point if status.sensor2 else None,
            sky_temperature=status.sky.sky_temperature if status.sky else None,
            ambient_minus_sky=readings.ambient_minus_sky(status),
            sky_brightness=self.sky_brightness(status),
            pwm_1=status.pwm[0] if status.pwm else None,
            pwm_2=status.pwm[1] if status.pwm else None,
            output_1=status.outputs[0] if status.outputs else None,
            output_2=status.outputs[1] if status.outputs else None,
            output_3=status.outputs[2] if status.outputs else None,
            voltage=status.input_voltage,
            current=status.current,
            amp_hours=status.amp_hours,
            watt_hours=status.watt_hours,
            pending_compensation=status.compensation_pending,
        )
        try:
            path = self.log.append(sample, sync=False)
            due = self.log.detach_due_sync()
        except OSError as exc:
            self.log.close()
            self.log = None
            self.props.switch("DATA_LOG").select("INDI_DISABLED")
            self.publisher.update("DATA_LOG", State.ALERT, f"[ERROR] Session log stopped: {exc}")
            return
        if due is not None:
            self.publisher.spawn_connected(lambda: self.flush(due), "Flushing the session log")
        files = self.props.text("DATA_LOG_DIR")
        if files["FILE"].value != str(path):
            files["FILE"].value = str(path)
            self.publisher.update("DATA_LOG_DIR", State.OK)

    async def flush(self, fd: int) -> None:
        """fsync the log in a worker thread, then close the descriptor the log detached for it."""

        def sync() -> None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        try:
            # Shielded: a disconnect arriving first would otherwise cancel the task before the thread starts, leaking
            # the descriptor and dropping a flush that was due.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(sync)
        except OSError as exc:
            self.publisher.message(f"The session log could not be flushed to disk: {exc}", "WARNING")

    # --- requests ----------------------------------------------------------------------------------------------

    async def _on_data_log(self, update: Update) -> None:
        self._accept_and_reopen(update)

    async def _on_data_log_dir(self, update: Update) -> None:
        directory = update["DIRECTORY"].strip()
        if directory and not Path(directory).expanduser().is_absolute():
            raise ValidationError(f"the data directory must be an absolute path, not {directory!r}")
        if directory:
            chosen = Path(directory).expanduser()
            try:
                check_directory(chosen, allowed_roots())
            except DirectoryRefused as exc:
                raise ValidationError(str(exc)) from None
            if not chosen.parent.is_dir():
                raise ValidationError(
                    f"{chosen.parent} does not exist: only the last level of the data directory is created"
                )
        update.values["FILE"] = self.props.text("DATA_LOG_DIR")["FILE"].value  # shown, not set by clients
        self._accept_and_reopen(update)

    def _accept_and_reopen(self, update: Update) -> None:
        self.publisher.accept(update)
        if self.connected():
            try:
                self._open()
            except OSError as exc:
                self.log = None
                self.publisher.refuse(update.vector, f"Session log cannot be opened: {exc}")
