"""Command line of the demo: `python -m indi_astrojolo.demo [--serve] [--port N] [--site LAT LONG]`."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from ..client import IndiClient
from ..nexstar.astrometry import Site
from . import session
from .server import DemoServer, free_port
from .session import ASTROLINK, CAMERA, EKOS_PROFILE, NEXSTAR, Place
from .watch import DemoError, request_switch, say

KRAKOW = Place("Kraków", Site(50.0614, 19.9366, 219.0))
DEFAULT_PORT = 7624


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indi_astrojolo.demo", description=__doc__)
    parser.add_argument(
        "--serve", action="store_true", help="leave indiserver running with both simulated devices until Ctrl-C"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"indiserver's TCP port (default {DEFAULT_PORT}, if free)"
    )
    parser.add_argument(
        "--site", type=float, nargs=2, metavar=("LAT", "LONG"), help=f"degrees, east positive (default {KRAKOW.name})"
    )
    args = parser.parse_args(argv)
    place = Place("your site", Site(args.site[0], args.site[1])) if args.site else KRAKOW
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too, even where it was inherited ignored
        signal.signal(signum, _stop_as_if_interrupted)

    with tempfile.TemporaryDirectory(prefix="astrojolo-demo-") as workdir:
        port = free_port(args.port)
        server = DemoServer(port, Path(workdir), camera=args.serve)
        camera = f" (and {CAMERA}, for Ekos)" if server.camera else ""
        say(f"Starting indiserver on 127.0.0.1:{port} with indi_astrolink4_usb and indi_nexstar_aux{camera} ...")
        try:
            server.start()
            if args.serve:
                return serve(server)
            with IndiClient(port=port) as client:
                session.run(client, place)
            say("\nThe session is over." + how_to_connect(DEFAULT_PORT))
            return 0
        except KeyboardInterrupt:
            say("\nStopping on request.")
            return 0 if args.serve else 130
        except (DemoError, TimeoutError, ConnectionError) as exc:
            say(f"\nThe demo stopped: {exc}\nThe last lines of indiserver's log:\n{server.log_tail()}")
            return 1
        finally:
            if server.process is not None:
                server.stop()
                say("indiserver and both drivers have stopped.")


def serve(server: DemoServer) -> int:
    with IndiClient(port=server.port) as client:
        client.get_properties()
        for device in (ASTROLINK, NEXSTAR):
            client.wait_prop(device, "SIMULATION")
            request_switch(client, device, "SIMULATION", ["ENABLE"], ["DISABLE"])
    say(f"indiserver is running on 127.0.0.1:{server.port} with '{ASTROLINK}' and '{NEXSTAR}', both in simulation "
        "and not connected yet." + how_to_connect(server.port, camera_here=server.camera))  # fmt: skip
    say("\nPress Ctrl-C to stop.")
    code = server.wait()
    say(f"indiserver exited by itself (status {code}); see its log:\n{server.log_tail()}")
    return 1


def how_to_connect(port: int, camera_here: bool = False) -> str:
    serve_hint = "" if port != DEFAULT_PORT else " (`./quickstart.sh demo --serve` keeps them running there)"
    profile = ", ".join(f'{role} "{device}"' for device, role in EKOS_PROFILE)
    camera_note = (
        f"{CAMERA} runs on this server too"
        if camera_here
        else f"`./quickstart.sh demo --serve` runs {CAMERA} there too;\n    with your own indiserver, add "
        "indi_simulator_ccd or your camera's driver to it"
    )
    return f"""
To use these drivers from a client, point it at indiserver on host 127.0.0.1, port {port}{serve_hint}:
  KStars/Ekos: in the Ekos profile editor choose Mode "Remote", Host 127.0.0.1, Port {port}, and type each
    device once: {profile}.
    Ekos finds the AstroLink's weather, dew and power parts by itself (listed again, under Aux or Weather,
    it waits for devices that never come and stops with an error), and it needs a camera to start:
    {camera_note}.
    Save, then Start: Ekos connects the devices and sends the mount the site and time.
  CCDciel: Preferences, Devices: interface INDI, server 127.0.0.1, port {port}; telescope "{NEXSTAR}";
    focuser, weather and switch "{ASTROLINK}".
  Both devices are simulated. For real hardware run indiserver with the two drivers yourself, switch
    Options > Simulation off and choose the serial port (or TCP address) on the Connection tab."""


def _stop_as_if_interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
