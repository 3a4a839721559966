"""The driver catalog KStars reads from the INDI data directory, and its installation for pip users.

KStars/Ekos lists the drivers a profile can use from every driversList file in /usr/share/indi/. This package's file
(packaging/indi_astrojolo.xml, installed by the Debian package) is generated here from the drivers' own identities and
the package version, so the device labels, executables and version cannot drift from what the drivers report.

    indi-astrojolo-catalog                  print the catalog
    indi-astrojolo-catalog install          put it in /usr/share/indi/ and link the executables into /usr/local/bin
    indi-astrojolo-catalog remove           undo install

KStars starts drivers by executable name, through indiserver, with its own PATH. A virtual environment's bin/ is not
on it, so install links the executables into a directory that is (unless they already live in one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from . import __version__
from .astrolink4.main import SPEC as ASTROLINK4
from .files import atomic_write_bytes
from .indi.spec import DriverSpec
from .nexstar.main import SPEC as NEXSTAR

FILENAME = "indi_astrojolo.xml"
DATA_DIR = Path("/usr/share/indi")
LINK_DIR = Path("/usr/local/bin")
SYSTEM_BIN_DIRS = (Path("/usr/local/bin"), Path("/usr/bin"), Path("/bin"))
# Groups in the order INDI's own drivers.xml uses them. "Power" is libindi 2.x's group for power boxes (Debian 12's
# INDI 1.9.9 has none; a KStars that does not know it ignores it).
GROUP_ORDER = ("Telescopes", "Focusers", "CCDs", "Spectrographs", "Filter Wheels", "Auxiliary", "Domes", "Weather",
               "Agent", "Power")  # fmt: skip


@dataclass(frozen=True)
class CatalogEntry:
    spec: DriverSpec
    manufacturer: str
    groups: tuple[str, ...]


ENTRIES = (
    # One device, several roles: focuser, power and dew outputs (Auxiliary, and Power in libindi 2.x), weather. KStars
    # keeps only the first listing of a label (in GROUP_ORDER: Focusers), so its profile editor offers the AstroLink as
    # Focuser and Aux; Ekos finds its weather and power parts by their interfaces whatever the slot. The other
    # listings are for catalog readers that honour every one.
    CatalogEntry(ASTROLINK4, "Astrojolo", ("Focusers", "Auxiliary", "Weather", "Power")),
    CatalogEntry(NEXSTAR, "Celestron", ("Telescopes",)),
)


def render(entries: tuple[CatalogEntry, ...] = ENTRIES, version: str = __version__) -> bytes:
    root = etree.Element("driversList")
    for group in GROUP_ORDER:
        members = [entry for entry in entries if group in entry.groups]
        if not members:
            continue
        dev_group = etree.SubElement(root, "devGroup", group=group)
        for entry in members:
            device = etree.SubElement(
                dev_group, "device", label=entry.spec.default_name, manufacturer=entry.manufacturer
            )
            etree.SubElement(device, "driver", name=entry.spec.default_name).text = entry.spec.exec_name
            etree.SubElement(device, "version").text = version
    etree.indent(root, space="    ")
    # the declaration written as INDI's own catalogs write it (lxml would use single quotes)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
        + b"\n"
    )


def executables(entries: tuple[CatalogEntry, ...] = ENTRIES) -> list[str]:
    return [entry.spec.exec_name for entry in entries]


def scripts_dir() -> Path:
    """Where this installation's console scripts are (a venv's bin/, ~/.local/bin, /usr/bin …)."""
    return Path(sysconfig.get_path("scripts"))


def owned_by_a_package(path: Path) -> bool:
    """True if a system package (the Debian package of these drivers) installed this file."""
    query = shutil.which("dpkg-query")
    return query is not None and subprocess.run([query, "-S", str(path)], capture_output=True).returncode == 0


def refuse_if_packaged(path: Path) -> None:
    if owned_by_a_package(path):
        raise SystemExit(f"{path} belongs to an installed Debian package: install or remove that package with apt")


def install(data_dir: Path, link_dir: Path | None) -> list[str]:
    """Write the catalog; link every executable that is not in a system bin directory. Returns what was done."""
    target = data_dir / FILENAME
    refuse_if_packaged(target)
    links = {}
    if link_dir is not None and scripts_dir().resolve() not in {d.resolve() for d in SYSTEM_BIN_DIRS if d.exists()}:
        for name in executables():
            source, link = scripts_dir() / name, link_dir / name
            if not source.exists():
                raise SystemExit(f"{source} does not exist: install the package (pip install .) first")
            if link.exists() and not link.is_symlink():
                raise SystemExit(f"{link} exists and is not a link: remove it or pass --no-links")
            links[link] = source
    atomic_write_bytes(target, render(), mode=0o644)  # read by KStars, perhaps as another user: not the umask's call
    done = [f"wrote {target}"]
    for link, source in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        temporary = link.with_name(f".{link.name}.link")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(source)
        os.replace(temporary, link)  # a link to an older installation is replaced in one step
        done.append(f"linked {link} -> {source}")
    return done


def remove(data_dir: Path, link_dir: Path | None) -> list[str]:
    done = []
    target = data_dir / FILENAME
    refuse_if_packaged(target)
    if target.exists():
        target.unlink()
        done.append(f"removed {target}")
    if link_dir is not None:
        for name in executables():
            link = link_dir / name
            if link.is_symlink() and Path(os.readlink(link)) == scripts_dir() / name:
                link.unlink()
                done.append(f"removed {link}")
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="indi-astrojolo-catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", choices=("print", "install", "remove"), default="print")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"where KStars reads catalogs ({DATA_DIR})")
    parser.add_argument("--link-dir", type=Path, default=LINK_DIR, help=f"where to link the executables ({LINK_DIR})")
    parser.add_argument("--no-links", action="store_true", help="do not link the executables")
    args = parser.parse_args(argv)
    if args.action == "print":
        sys.stdout.buffer.write(render())
        return
    link_dir = None if args.no_links else args.link_dir
    action = install if args.action == "install" else remove
    try:
        for line in action(args.data_dir, link_dir):
            print(line)
    except PermissionError as exc:
        raise SystemExit(f"{exc.filename}: permission denied (run with sudo)") from None


if __name__ == "__main__":
    main()
