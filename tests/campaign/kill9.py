"""Nothing lost under kill -9: each driver is killed at random moments while it writes its saved state, and every
file it writes must then be the old version or the new one, never torn.

The writers (every atomic_write and every open for writing under indi_astrojolo/):
  - the INDI config, CONFIG_PROCESS save (indi/config.py: atomic), and its .default copy;
  - the AstroLink compensation-calculator points (astrolink4/compensation.py: atomic);
  - the AstroLink session CSV log (astrolink4/datalog.py: append-only, one os.write per row);
  - the NexStar park data (nexstar/motion.py: atomic) and pointing-model points (nexstar/mount.py: atomic).
(The chart PNGs of astrolink4-charts are atomic too, written by a command-line tool, not by a driver.)

Each driver runs under a real indiserver that restarts it after each kill; a fresh pyindi-client connects it in
simulation and keeps it writing, and what the client saw acknowledged must survive. atomic_write_bytes is also
killed directly, in a process of its own that writes large documents in a loop.

    .venv/bin/python tests/campaign/kill9.py          # 9 + 3 driver kills and 20 of atomic_write (the suite's run)
    .venv/bin/python tests/campaign/kill9.py --full   # 100 kills per driver and 200 of atomic_write (on demand only)

(The NexStar's cycles are the slow ones: each connect scans the bus, a quarter second per absent accessory.)
Temporaries of killed atomic writes are reported, not failed: the next write removes those over a minute old.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from device_rigs import Client, IndiServer, settle, wait_until

from indi_astrojolo.astrolink4.datalog import COLUMNS, HEADER_LINE
from indi_astrojolo.indi import config as indi_config

KILL_WINDOW_S = (0.05, 1.0)  # how long the storm of writes runs before the kill


class RawSender:
    """Requests written straight to indiserver as INDI XML. The storm cannot go through pyindi-client: its vector
    objects are shared with its callback thread, which writes the driver's echoes into them while we fill them."""

    def __init__(self, port: int, device: str) -> None:
        self.device = device
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, kind: str, name: str, members: dict[str, object]) -> None:
        def text(value: object) -> str:
            return ("On" if value else "Off") if isinstance(value, bool) else str(value)

        body = "".join(f"<one{kind} name={quoteattr(k)}>{escape(text(v))}</one{kind}>" for k, v in members.items())
        self.sock.sendall(
            f"<new{kind}Vector device={quoteattr(self.device)} name={quoteattr(name)}>{body}</new{kind}Vector>\n".encode()
        )

    def close(self) -> None:
        self.sock.close()


@dataclass
class Outcome:
    kills: int = 0
    checks: int = 0
    problems: list[str] = field(default_factory=list)
    leftovers: int = 0  # temporary files a killed atomic write left behind (litter, not damage)
    rows: int = 0  # session-log rows found whole


# --- checking files ---------------------------------------------------------------------------------------------------


def csv_problems(path: Path) -> tuple[list[str], int]:
    """Every line of an append-only session log must be whole: the header or a row of all the columns.
    Returns the problems and the number of whole rows."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        return [f"{path.name}: the last line is torn: {data[-80:]!r}"], 0
    problems, rows = [], 0
    for number, raw in enumerate(data.split(b"\n")[:-1], 1):
        line = raw.decode("ascii", "replace")
        if line == HEADER_LINE.rstrip("\n"):
            continue
        if len(line.split(",")) != len(COLUMNS):
            problems.append(f"{path.name} line {number} is not a whole row: {line[:80]!r}")
        else:
            rows += 1
    return problems, rows


def config_marker(path: Path, name: str, member: str) -> float | None:
    """The value a config file holds for one number (None without a file); raises ValueError if it is not XML."""
    if not path.exists():
        return None
    try:
        requests = indi_config.read(path)
    except indi_config.ConfigError as exc:
        raise ValueError(str(exc)) from None
    for request in requests:
        if request.name == name:
            return float(dict(request.members)[member])
    raise ValueError(f"{path.name} has no {name}")


def leftovers(directory: Path) -> int:
    return sum(1 for p in directory.glob(".*.tmp")) if directory.exists() else 0


# --- one driver under indiserver, killed again and again ---------------------------------------------------------------


class KillLoop:
    """A driver under an indiserver that restarts it; each cycle connects it, makes it write, and kills it."""

    device = ""
    driver = ""

    def __init__(self, workdir: Path, rng: random.Random) -> None:
        self.server = IndiServer([self.driver], workdir, extra_args=["-r", "100000"])
        self.home = self.server.home
        self.rng = rng
        self.marker = 0
        self.rows = 0  # session-log rows found whole at the last check (AstroLink)

    def indi_dir(self) -> Path:
        return self.home / ".indi"

    def cycle(self, outcome: Outcome) -> None:
        client = Client(self.server.port)
        try:
            client.wait_property(self.device, "CONNECTION", timeout=20)
            pid = self.driver_pid()
            before = self.read_state()
            settle(client, self.device, "SIMULATION", lambda: client.set_switch(self.device, "SIMULATION", ["ENABLE"]))
            client.connect_device(self.device, timeout=20)
            self.prepare(client)
            stop = threading.Event()
            sent: dict[str, list] = {}
            sender = RawSender(self.server.port, self.device)
            storm = threading.Thread(target=self.storm, args=(sender, stop, sent), daemon=True)
            started = time.monotonic()
            storm.start()
            time.sleep(self.rng.uniform(*KILL_WINDOW_S))
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            stop.set()
            storm.join()
            sender.close()
            outcome.kills += 1
            wait_until(lambda: pid not in self.server.driver_pids(), 5, what="the killed driver to go")
            acked = self.acknowledged(client, started, killed)
        finally:
            client.close()
        outcome.checks += 1
        outcome.problems += self.check(before, sent, acked)
        outcome.rows = self.rows

    def driver_pid(self) -> int:
        pids = wait_until(self.server.driver_pids, 10, what="the driver process")
        return pids[0]

    # a subclass: what it writes, what was acknowledged, and what the files must hold
    def read_state(self) -> dict: ...
    def prepare(self, client: Client) -> None: ...
    def storm(self, sender: RawSender, stop: threading.Event, sent: dict) -> None: ...
    def acknowledged(self, client: Client, started: float, killed: float) -> dict: ...
    def check(self, before: dict, sent: dict, acked: dict) -> list[str]: ...

    def config_problems(self, name: str, member: str, before: dict, sent: dict, acked: dict) -> list[str]:
        path = self.indi_dir() / f"{self.device}_config.xml"
        default = path.with_name(path.name + ".default")
        try:
            value = config_marker(path, name, member)
            if default.exists():
                indi_config.read(default)
        except (ValueError, indi_config.ConfigError) as exc:
            return [f"a config file is damaged: {exc}"]
        markers = sent.get("marker", [])
        if value not in set(markers) | {before.get("marker")}:
            return [f"{path.name} holds {name}.{member} = {value}, which was never saved"]
        # Markers wrap round within their property's range, so saves are ordered by when they were sent in this
        # cycle (the markers of one cycle are all different), not by value; the cycle's old value comes first.
        if len(set(markers)) != len(markers) or before.get("marker") in markers:
            raise RuntimeError(f"this cycle sent {len(markers)} markers, more than the property's range tells apart")
        order = {marker: index for index, marker in enumerate(markers)}
        if acked.get("marker") is not None and order.get(value, -1) < order[acked["marker"]]:
            return [f"{path.name} lost an acknowledged save: it holds {value}, saved before {acked['marker']}"]
        return []

    @staticmethod
    def last_value_before(client: Client, device: str, name: str, member: str, until: float) -> float | None:
        values = [s.values[member] for s in client.updates_since(device, name, 0) if s.received <= until and s.state == "Ok"]
        return values[-1] if values else None

    @staticmethod
    def last_ok(client: Client, device: str, name: str, after: float) -> float | None:
        times = [s.received for s in client.updates_since(device, name, 0) if s.received >= after and s.state == "Ok"]
        return times[-1] if times else None


class AstroLinkKills(KillLoop):
    device = "AstroLink 4 USB"
    driver = "indi_astrolink4_usb"

    def points_path(self) -> Path:
        return self.indi_dir() / f"{self.device}_compensation.json"

    def read_points(self) -> list[tuple[float, int]]:
        path = self.points_path()
        if not path.exists():
            return []
        document = json.loads(path.read_text())  # a torn file fails here
        return [(p["temperature"], p["position"]) for p in document["points"]]

    def read_state(self) -> dict:
        path = self.indi_dir() / f"{self.device}_config.xml"
        return {"points": self.read_points(), "marker": config_marker(path, "FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE")}

    def prepare(self, client: Client) -> None:
        # samples for the CSV log as fast as the driver polls
        fast = {"PERIOD_MS": 100}
        settle(client, self.device, "POLLING_PERIOD", lambda: client.set_number(self.device, "POLLING_PERIOD", fast))

    def storm(self, sender: RawSender, stop: threading.Event, sent: dict) -> None:
        markers, points = sent.setdefault("marker", []), sent.setdefault("points", [])
        while not stop.is_set():
            self.marker += 1
            value = float(self.marker % 10000)
            markers.append(value)
            sender.send("Number", "FOCUS_BACKLASH_STEPS", {"FOCUS_BACKLASH_VALUE": value})
            sender.send("Switch", "CONFIG_PROCESS", {"CONFIG_SAVE": True})
            point = (round(self.rng.uniform(-20, 30), 2), self.rng.randrange(0, 100000))
            points.append(point)
            sender.send("Number", "COMP_CALC_POINT", {"INDEX": 0, "TEMPERATURE": point[0], "POSITION": point[1]})
            stop.wait(0.01)

    def acknowledged(self, client: Client, started: float, killed: float) -> dict:
        saved = self.last_ok(client, self.device, "CONFIG_PROCESS", started)
        marker = None
        if saved is not None:
            marker = self.last_value_before(client, self.device, "FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", saved)
        updates = client.updates_since(self.device, "COMP_CALC_POINT", 0)
        added = sum(1 for s in updates if s.received >= started and s.state == "Ok")
        return {"marker": marker, "points": added}

    def check(self, before: dict, sent: dict, acked: dict) -> list[str]:
        problems = self.config_problems("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", before, sent, acked)
        try:
            points = self.read_points()
        except (ValueError, KeyError) as exc:
            return problems + [f"the compensation points file is damaged: {exc}"]
        old, new = before["points"], points[len(before["points"]):]
        if points[: len(old)] != old or new != sent.get("points", [])[: len(new)]:
            sent_points = sent.get("points", [])
            first = next((i for i, (a, b) in enumerate(zip(new, sent_points)) if a != b), None)
            problems.append(
                f"the compensation points are neither the old nor a newer list ({len(old)} before, {len(points)} now; "
                f"old kept: {points[: len(old)] == old}; first new point off at {first}: "
                f"{new[first] if first is not None else None} vs {sent_points[first] if first is not None else None})"
            )
        elif len(new) < acked["points"]:
            problems.append(f"{acked['points']} points were acknowledged, {len(new)} are in the file")
        logs = sorted((self.home / "astrojolo" / "astrolink4").glob("*.csv"))
        if not logs:
            problems.append("no session log was written")
        self.rows = 0
        for path in logs:
            found, rows = csv_problems(path)
            problems += found
            self.rows += rows
        return problems


class NexStarKills(KillLoop):
    device = "NexStar AUX"
    driver = "indi_nexstar_aux"

    def park_path(self) -> Path:
        return self.indi_dir() / f"{self.device}_park.json"

    def pointing_path(self) -> Path:
        return self.indi_dir() / f"{self.device}_pointing.json"

    def read_park(self) -> float | None:
        path = self.park_path()
        return float(json.loads(path.read_text())["axis1"]) if path.exists() else None

    def read_pointing(self) -> int:
        path = self.pointing_path()
        if not path.exists():
            return 0
        document = json.loads(path.read_text())
        assert all({"sky1", "sky2", "mount1", "mount2"} <= set(p) for p in document["points"])
        return len(document["points"])

    def read_state(self) -> dict:
        path = self.indi_dir() / f"{self.device}_config.xml"
        return {"park": self.read_park(), "marker": config_marker(path, "ALTITUDE_LIMITS", "MAX_ALT")}

    def prepare(self, client: Client) -> None:
        settle(client, self.device, "ON_COORD_SET", lambda: client.set_switch(self.device, "ON_COORD_SET", ["SYNC"]))
        here = client.wait_property(self.device, "EQUATORIAL_EOD_COORD").values
        self.sync_at = (here["RA"], here["DEC"])

    def storm(self, sender: RawSender, stop: threading.Event, sent: dict) -> None:
        markers, parks = sent.setdefault("marker", []), sent.setdefault("park", [])
        ra, dec = self.sync_at
        turn = 0
        while not stop.is_set():
            self.marker += 1
            turn += 1
            marker = round(60 + self.marker % 300 * 0.1, 1)  # MAX_ALT's range, at its format's resolution
            markers.append(marker)
            sender.send("Number", "ALTITUDE_LIMITS", {"MIN_ALT": 0, "MAX_ALT": marker})
            sender.send("Switch", "CONFIG_PROCESS", {"CONFIG_SAVE": True})
            park = round(self.marker * 0.001 % 300, 3)
            parks.append(park)
            sender.send("Number", "TELESCOPE_PARK_POSITION", {"PARK_AZ": park, "PARK_ALT": 10.0})
            sender.send("Number", "EQUATORIAL_EOD_COORD", {"RA": ra, "DEC": dec + (0.01 if turn % 2 else -0.01)})
            stop.wait(0.01)

    def acknowledged(self, client: Client, started: float, killed: float) -> dict:
        saved = self.last_ok(client, self.device, "CONFIG_PROCESS", started)
        marker = None if saved is None else self.last_value_before(client, self.device, "ALTITUDE_LIMITS", "MAX_ALT", saved)
        park = self.last_value_before(client, self.device, "TELESCOPE_PARK_POSITION", "PARK_AZ", killed)
        models = client.updates_since(self.device, "POINTING_MODEL", 0)
        synced = any(s.values["POINTS"] >= 1 for s in models if s.received >= started)
        if self.last_ok(client, self.device, "TELESCOPE_PARK_POSITION", started) is None:
            park = None  # no park position was acknowledged in this cycle
        return {"marker": marker, "park": park, "synced": synced}

    def check(self, before: dict, sent: dict, acked: dict) -> list[str]:
        problems = self.config_problems("ALTITUDE_LIMITS", "MAX_ALT", before, sent, acked)
        try:
            park = self.read_park()
            if park not in set(sent.get("park", [])) | {before["park"]}:
                problems.append(f"the park file holds {park}, which was never written")
            elif acked["park"] is not None and (park is None or park < acked["park"]):
                problems.append(f"the park file lost an acknowledged position: {park} < {acked['park']}")
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"the park file is damaged: {exc}")
        try:
            if acked["synced"] and self.read_pointing() < 1:
                problems.append("an acknowledged sync point is missing from the pointing file")
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            problems.append(f"the pointing file is damaged: {exc!r}")
        return problems


# --- atomic_write_bytes killed directly ---------------------------------------------------------------------------------

WRITER = """
import sys
from indi_astrojolo.files import atomic_write_bytes
path, size = sys.argv[1], int(sys.argv[2])
version = int(sys.argv[3])
while True:
    version += 1
    atomic_write_bytes(path, b"%d\\n" % version + bytes([version % 251]) * size + b"\\nend %d\\n" % version)
    print(version, flush=True)
"""


def atomic_write_kills(workdir: Path, kills: int, rng: random.Random, outcome: Outcome) -> None:
    target = workdir / "document.bin"
    size = 2_000_000  # large enough that a write takes a while, so kills land inside one
    last_done = 0
    for _ in range(kills):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), str(size), str(last_done)],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
        reader.start()
        time.sleep(rng.uniform(0.08, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        reader.join()
        outcome.kills += 1
        outcome.checks += 1
        done = int(lines[-1]) if lines else last_done
        if not target.exists():
            if done:
                outcome.problems.append(f"atomic_write: the file is gone, the writer had finished version {done}")
            continue
        data = target.read_bytes()
        version = int(data.split(b"\n", 1)[0]) if data[:1].isdigit() else -1
        whole = data == b"%d\n" % version + bytes([version % 251]) * size + b"\nend %d\n" % version
        if not whole:
            outcome.problems.append(f"atomic_write left a torn file ({len(data)} bytes, version {version})")
        elif not done <= version <= done + 1:
            outcome.problems.append(f"atomic_write: the file holds version {version}, the writer had finished {done}")
        last_done = max(done, version)
    outcome.leftovers += leftovers(workdir)


# --- the campaign ----------------------------------------------------------------------------------------------------------


def run(full: bool, seed: int | None = None, workdir: Path | None = None) -> bool:
    kills = {AstroLinkKills: 100, NexStarKills: 100} if full else {AstroLinkKills: 9, NexStarKills: 3}
    direct_kills = 200 if full else 20
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    counts = ", ".join(f"{n} of {loop.driver}" for loop, n in kills.items())
    print(f"kill -9: {counts}, {direct_kills} of atomic_write (seed {seed})", flush=True)
    results: dict[str, Outcome] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kill9-") as scratch:
        workdir = workdir or Path(scratch)
        for loop_type, count in kills.items():
            outcome = results.setdefault(loop_type.driver, Outcome())
            loop = loop_type(Path(workdir) / loop_type.device[0].lower(), rng)  # short: the socket's path is limited
            loop.server.workdir.mkdir(parents=True, exist_ok=True)
            with loop.server:
                for _ in range(count):
                    try:
                        loop.cycle(outcome)
                    except Exception as exc:  # the driver did not come back, or a step failed: a finding
                        outcome.problems.append(f"cycle failed: {type(exc).__name__}: {exc}")
                        break
            outcome.leftovers = leftovers(loop.indi_dir())
        direct = results.setdefault("atomic_write_bytes", Outcome())
        atomic_write_kills(Path(workdir), direct_kills, rng, direct)
    ok = True
    for name, outcome in results.items():
        verdict = "ok" if not outcome.problems and outcome.kills else "FAIL"
        ok = ok and verdict == "ok"
        rows = f", {outcome.rows} log rows whole" if outcome.rows else ""
        print(f"  {name:<22} {outcome.kills:>4} kills, {outcome.checks:>4} checks, {len(outcome.problems)} problems, "
              f"{outcome.leftovers} leftover temporary file(s){rows}  {verdict}")  # fmt: skip
        for problem in outcome.problems[:20]:
            print(f"      problem: {problem}")
    print(f"kill -9: {'all files whole' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="many kills (on demand only)")
    parser.add_argument("--seed", type=int, help="repeat a run's random kill moments")
    args = parser.parse_args()
    raise SystemExit(0 if run(args.full, args.seed) else 1)


if __name__ == "__main__":
    main()
