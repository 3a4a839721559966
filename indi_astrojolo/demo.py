"""A guided demo: both drivers in simulation under a real indiserver, with a scripted client session.

    python -m indi_astrojolo.demo           run the session and stop
    python -m indi_astrojolo.demo --serve   then leave indiserver running for KStars/Ekos until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .client import IndiClient

ASTROLINK = "AstroLink 4 USB"
NEXSTAR = "NexStar AUX"


def say(text: str) -> None:
    print(text, flush=True)


def driver_path(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed; run ./quickstart.sh setup first")
    return found


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free TCP port")


def start_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    if shutil.which("indiserver") is None:
        raise SystemExit("indiserver is missing: install Debian's indi-bin (./quickstart.sh setup does)")
    env = dict(os.environ, HOME=str(workdir))  # the demo's config files stay out of the user's ~/.indi
    env.pop("INDICONFIG", None)
    env.pop("INDIDEV", None)
    log = open(workdir / "indiserver.log", "wb")
    process = subprocess.Popen(
        ["indiserver", "-v", "-r", "0", "-p", str(port), "-u", str(workdir / "indiserver.sock"),
         driver_path("indi_astrolink4_usb"), driver_path("indi_nexstar_aux")],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("indiserver did not start; see " + str(workdir / "indiserver.log"))


def session(client: IndiClient) -> None:
    client.on_message = lambda device, text: say(f"   {device} says: {text.split('] ', 1)[-1]}")
    client.get_properties()
    for device in (ASTROLINK, NEXSTAR):
        info = client.wait_prop(device, "DRIVER_INFO")
        say(f"-> {device}: driver {info.values['DRIVER_EXEC']} {info.values['DRIVER_VERSION']}, "
            f"interface bits {info.values['DRIVER_INTERFACE']}")  # fmt: skip

    say("\n1. Switch both devices to simulation (an emulated device inside each driver) and connect.")
    for device in (ASTROLINK, NEXSTAR):
        client.set_switch(device, "SIMULATION", ["ENABLE"], ["DISABLE"])
        client.wait_state(device, "SIMULATION", "Ok")
        client.set_switch(device, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
    for device in (ASTROLINK, NEXSTAR):
        client.wait(lambda d=device: (p := client.prop(d, "CONNECTION")) and p.state in ("Ok", "Alert") and p.updates > 1,
                    20, f"{device} to connect")  # fmt: skip
        say(f"-> {device}: connection {client.prop(device, 'CONNECTION').state}")

    device_info = client.wait_prop(ASTROLINK, "DEVICE_INFO")
    say(f"-> The AstroLink answered as: {device_info.values['MODEL']} ({device_info.values['IDENTITY']})")
    mount = client.wait_prop(NEXSTAR, "MOUNT_INFO")
    say(f"-> Mount model: {mount.values['MODEL']}; motor controllers {mount.values['AZM_VERSION']} "
        f"and {mount.values['ALT_VERSION']}; also on the bus: {mount.values['BUS_DEVICES']}")  # fmt: skip

    say("\n2. A mistaken request is refused with a reason, and nothing changes.")
    client.set_number(ASTROLINK, "POLLING_PERIOD", {"PERIOD_MS": 5})
    refused = client.wait_state(ASTROLINK, "POLLING_PERIOD", "Alert")
    say(f"-> POLLING_PERIOD is {refused.state}; the period is still {refused.values['PERIOD_MS']:.0f} ms")

    say("\n3. Disconnect.")
    for device in (ASTROLINK, NEXSTAR):
        client.set_switch(device, "CONNECTION", ["DISCONNECT"], ["CONNECT"])
        client.wait_state(device, "CONNECTION", "Idle")
        say(f"-> {device}: disconnected")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="leave indiserver running for a real client")
    parser.add_argument("--port", type=int, default=7624, help="TCP port for indiserver (default 7624)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="astrojolo-demo-") as temp:
        workdir = Path(temp)
        port = free_port(args.port)
        say(f"Starting indiserver on 127.0.0.1:{port} with indi_astrolink4_usb and indi_nexstar_aux ...")
        server = start_server(port, workdir)
        try:
            with IndiClient(port=port) as client:
                session(client)
            say(f"\nTo use the drivers from KStars: open Ekos, create a profile with 'Remote' host 127.0.0.1 and "
                f"port {port}, and pick '{ASTROLINK}' and '{NEXSTAR}' (or run indiserver with both drivers yourself).")  # fmt: skip
            if args.serve:
                say(f"indiserver keeps running on port {port}; press Ctrl-C to stop.")
                signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
                try:
                    server.wait()
                except KeyboardInterrupt:
                    pass
        finally:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
        say("Done.")


if __name__ == "__main__":
    main()
