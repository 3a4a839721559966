"""KStars/Ekos as a real client in tests: Debian's KStars on a private Xvfb display and a private D-Bus session bus,
with a HOME of its own, driven through Ekos's own D-Bus interfaces with `qdbus`.

Every process here (Xvfb, dbus-daemon, kstars) is started in a session of its own and stopped by its process group,
so a test never touches a KStars, X server or bus it did not start. Each is also asked to get SIGTERM should the
test process die first. KStars is configured before its first start so that it shows no start-up wizard and reaches
for nothing off 127.0.0.1 (no online name resolution, no orbital-element updates, no EkosLive).

There is no D-Bus method that creates an Ekos profile: `write_profile` adds one to KStars's user database
(`userdb.sqlite`, tables `profile` and `driver`). KStars 3.6 creates that database on its first start and does not
see rows added while it runs (its Ekos window then finds only the built-in "Simulators" profile and opens the
modal profile wizard), so `start_with_profile` starts KStars once to create the database, stops it, adds the
profile and starts it again.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable

from harness import wait_until

SERVICE = "org.kde.kstars"
EKOS = "/KStars/Ekos"
MOUNT = "/KStars/Ekos/Mount"
FOCUS = "/KStars/Ekos/Focus"
INDI = "/KStars/INDI"
PROPERTIES = "org.freedesktop.DBus.Properties"

# Ekos's enumerations as its D-Bus interfaces report them (KStars 3.6).
COMMUNICATION = {0: "Idle", 1: "Pending", 2: "Success", 3: "Error"}  # Ekos indiStatus / ekosStatus
MOUNT_STATUS = {0: "Idle", 1: "Moving", 2: "Slewing", 3: "Tracking", 4: "Parking", 5: "Parked", 6: "Error"}
PARK_STATUS = {0: "Unknown", 1: "Parked", 2: "Parking", 3: "Unparking", 4: "Unparked", 5: "Error"}
WEATHER_STATUS = {0: "Idle", 1: "Ok", 2: "Warning", 3: "Alert"}

TOOLS = ("kstars", "Xvfb", "dbus-daemon", "qdbus")
INSTALL_HINT = "install Debian's kstars, xvfb, dbus-x11 and qdbus-qt5 (./quickstart.sh setup does)"

# kstarsrc written before the first start (KConfig groups and keys of KStars's kstars.kcfg).
KSTARSRC = """\
[GUI]
RunStartupWizard=false

[General]
KStarsFirstRun=false

[Catalogs]
ResolveNamesOnline=false

[View]
OrbitalElementsAutoUpdate=false

[Ekos]
AutoStartEkosLive=false
EkosLiveOnline=false

[TipOfDay]
RunOnStart=false
"""

PR_SET_PDEATHSIG = 1  # prctl(2)
# The desktop session KStars would otherwise join (display, buses, XDG directories): it gets its own.
SESSION_VARIABLES = ("DBUS_", "XDG_", "DISPLAY", "WAYLAND_", "XAUTHORITY", "SESSION_MANAGER")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _terminate_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the test process that started it exits, however it exits."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """harness.wait_until at a pace that suits KStars: each look is a D-Bus call."""
    return wait_until(condition, timeout, interval, what)


class QdbusError(RuntimeError):
    pass


class KStarsSession:
    """Xvfb, a private session bus and KStars, all under `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.display = ""
        self.bus_address = ""
        self.env: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start_with_profile(self, name: str, host: str, port: int, drivers: list[tuple[str, str]]) -> "KStarsSession":
        self.start()
        self.stop_kstars()
        self.write_profile(name, host, port, drivers)
        self.start_kstars()
        return self

    def start(self, timeout: float = 180.0) -> "KStarsSession":
        for sub in (".config", ".local/share", ".cache", "runtime"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / "runtime").chmod(0o700)
        (self.home / ".config" / "kstarsrc").write_text(KSTARSRC)
        self.display = self._start_reporting("Xvfb", ["Xvfb", "-displayfd", "{fd}", "-nolisten", "tcp", "-screen", "0",
                                                      "1280x1024x24"])  # fmt: skip
        self.bus_address = self._start_reporting(
            "dbus-daemon", ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address={fd}"]
        )
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(SESSION_VARIABLES)}  # none of the user's
        self.env = {
            **inherited,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_RUNTIME_DIR": str(self.home / "runtime"),
            "DISPLAY": f":{self.display}",
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "QT_QPA_PLATFORM": "xcb",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
        }
        self.start_kstars(timeout)
        return self

    def start_kstars(self, timeout: float = 180.0) -> None:
        self._spawn("kstars", ["kstars"], self.workdir / "kstars.log")
        wait_for(self._kstars_answers, timeout, "KStars to answer on D-Bus")
        wait_for(lambda: self.user_db.exists(), 30, "KStars's user database")

    def stop_kstars(self) -> None:
        self._stop("kstars")

    def _spawn(self, name: str, command: list[str], log_path: Path, **options: Any) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=self.env or None,
                start_new_session=True, preexec_fn=_terminate_with_parent, **options,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def _start_reporting(self, name: str, command: list[str]) -> str:
        """Start a program that writes one line (its display number, its bus address) to a pipe we give it."""
        read_end, write_end = os.pipe()
        try:
            command = [word.replace("{fd}", str(write_end)) for word in command]
            self._spawn(name, command, self.workdir / f"{name}.log", pass_fds=(write_end,))
        finally:
            os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            line = pipe.readline().decode().strip()  # EOF (an empty line) if the program exits first
        if not line:
            raise RuntimeError(f"{name} did not start: {(self.workdir / f'{name}.log').read_text(errors='replace')}")
        return line

    def _kstars_answers(self) -> bool:
        process = self.processes["kstars"]
        if process.poll() is not None:
            raise RuntimeError(f"KStars exited ({process.returncode}): {self.log_tail()}")
        try:
            return "/KStars/INDI" in self.objects()
        except QdbusError:
            return False

    def stop(self) -> None:
        """Stop what this session started, KStars first, each by its own process group."""
        for name in ("kstars", "dbus-daemon", "Xvfb"):
            self._stop(name)

    def _stop(self, name: str) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.workdir / "kstars.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # --- the Ekos profile --------------------------------------------------------------------------------------------

    @property
    def user_db(self) -> Path:
        return self.home / ".local/share/kstars/userdb.sqlite"

    def write_profile(self, name: str, host: str, port: int, drivers: list[tuple[str, str]]) -> None:
        """A Remote profile: devices (label, role) on the indiserver at host:port, connected automatically, and no
        serial port selector (it would wait for a click)."""
        with sqlite3.connect(self.user_db, timeout=30) as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(profile)")}
            values: dict[str, Any] = {"name": name, "host": host, "port": port, "autoconnect": 1}
            if "portselector" in columns:
                values["portselector"] = 0
            cursor = db.execute(
                f"INSERT INTO profile ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                list(values.values()),
            )
            profile_id = cursor.lastrowid
            db.executemany(
                "INSERT INTO driver (label, role, profile) VALUES (?, ?, ?)",
                [(label, role, profile_id) for label, role in drivers],
            )

    def open_ekos(self, timeout: float = 60.0) -> None:
        """Open the Ekos window (its manager reads the profiles when it is created)."""
        self.call("/kstars/MainWindow_1", "org.kde.KMainWindow.activateAction", "ekos")
        wait_for(lambda: EKOS in self.objects(), timeout, "Ekos's D-Bus interface")

    # --- D-Bus through qdbus -----------------------------------------------------------------------------------------

    def qdbus(self, *args: str, literal: bool = False, timeout: float = 60.0) -> str:
        command = ["qdbus", *(["--literal"] if literal else []), *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise QdbusError(f"{' '.join(command)} did not answer in {timeout:g} s") from exc
        if done.returncode != 0 or done.stdout.startswith("Error:") or done.stderr.startswith("Error:"):
            raise QdbusError(f"{' '.join(command)}: {done.stdout}{done.stderr}".strip())
        return done.stdout.rstrip("\n")

    def objects(self) -> list[str]:
        return self.qdbus(SERVICE).split()

    def call(self, path: str, method: str, *args: Any) -> str:
        return self.qdbus(SERVICE, path, method, *(_argument(a) for a in args))

    def prop(self, path: str, interface: str, name: str) -> str:
        return self.qdbus(SERVICE, path, f"{PROPERTIES}.Get", interface, name)

    def int_prop(self, path: str, interface: str, name: str) -> int:
        return int(self.prop(path, interface, name))

    def doubles_prop(self, path: str, interface: str, name: str) -> list[float]:
        """A property of D-Bus type `ad` (qdbus shows those only literally: `[Variant: [Argument: ad {1.5, 2}]]`)."""
        text = self.qdbus(SERVICE, path, f"{PROPERTIES}.Get", interface, name, literal=True)
        match = re.search(r"ad \{([^}]*)\}", text)
        if match is None:
            raise QdbusError(f"{name}: not a list of doubles: {text}")
        return [float(word) for word in match.group(1).split(",") if word.strip()]

    # --- Ekos -------------------------------------------------------------------------------------------------------

    def ekos_status(self) -> tuple[str, str]:
        """(indiStatus, ekosStatus) in words."""
        indi = self.int_prop(EKOS, "org.kde.kstars.Ekos", "indiStatus")
        ekos = self.int_prop(EKOS, "org.kde.kstars.Ekos", "ekosStatus")
        return COMMUNICATION[indi], COMMUNICATION[ekos]

    def ekos_log(self) -> str:
        return self.prop(EKOS, "org.kde.kstars.Ekos", "logText")

    def mount_status(self) -> str:
        return MOUNT_STATUS[self.int_prop(MOUNT, "org.kde.kstars.Ekos.Mount", "status")]

    def park_status(self) -> str:
        return PARK_STATUS[self.int_prop(MOUNT, "org.kde.kstars.Ekos.Mount", "parkStatus")]

    def mount_radec(self) -> tuple[float, float]:
        ra, dec = self.doubles_prop(MOUNT, "org.kde.kstars.Ekos.Mount", "equatorialCoords")[:2]
        return ra, dec

    # --- INDI as Ekos sees it (/KStars/INDI) ----------------------------------------------------------------------

    def number(self, device: str, prop: str, element: str) -> float:
        return float(self.call(INDI, "getNumber", device, prop, element))

    def text(self, device: str, prop: str, element: str) -> str:
        return self.call(INDI, "getText", device, prop, element)

    def switch(self, device: str, prop: str, element: str) -> str:
        return self.call(INDI, "getSwitch", device, prop, element)

    def state(self, device: str, prop: str) -> str:
        return self.call(INDI, "getPropertyState", device, prop)

    def devices(self) -> list[str]:
        return self.call(INDI, "getDevices").splitlines()

    def press(self, device: str, prop: str, on: str, off: tuple[str, ...] = ()) -> None:
        """Set a switch vector's members (one on, the named others off) and send it, as Ekos's control panel does."""
        for element in off:
            self.call(INDI, "setSwitch", device, prop, element, "Off")
        self.call(INDI, "setSwitch", device, prop, on, "On")
        if self.call(INDI, "sendProperty", device, prop) != "true":
            raise QdbusError(f"Ekos did not send {device}.{prop}")

    def weather_object(self, device: str) -> str:
        """The D-Bus object of Ekos's weather device for `device` (/KStars/INDI/Weather/N)."""
        for path in self.objects():
            if re.fullmatch(r"/KStars/INDI/Weather/\d+", path):
                if self.prop(path, "org.kde.kstars.INDI.Weather", "name") == device:
                    return path
        return ""

    def weather_status(self, path: str) -> str:
        return WEATHER_STATUS[self.int_prop(path, "org.kde.kstars.INDI.Weather", "status")]


def _argument(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
