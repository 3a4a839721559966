"""What the Debian package takes from pyproject.toml, so that the two cannot disagree (run by build-deb.sh).

    from_pyproject.py depends            the Depends: field
    from_pyproject.py scripts DIR        one /usr/bin wrapper per console script, for the system python3
    from_pyproject.py metadata DIR       a dist-info directory, so Python's importlib.metadata sees the package
    from_pyproject.py version            the package version (__version__, which the drivers report)

Standard library only: it runs on the build machine's /usr/bin/python3 (3.11 has tomllib).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Debian 12 (bookworm) packages of the Python distributions the code imports, with the versions it was tested with.
DEBIAN_PACKAGES = {
    "trio": "python3-trio (>= 0.22)",
    "lxml": "python3-lxml (>= 4.9)",
    "pyserial": "python3-serial (>= 3.5)",
    "pyerfa": "python3-erfa (>= 2.0)",
    # bookworm's 2.15 gives the same topocentric look angles and passes as 2.27 to the last printed digit
    "sgp4": "python3-sgp4 (>= 2.15)",
    "numpy": "python3-numpy",  # imported by nexstar/mount.py; pyerfa brings it to pip installs
}
PYTHON = "python3 (>= 3.11)"
# The Debian package installs the catalog itself; a command that rewrites a file dpkg owns does not belong in it.
SCRIPTS_LEFT_OUT = {"indi-astrojolo-catalog"}


def project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def distribution_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()


def depends() -> str:
    names = [distribution_name(r) for r in project()["dependencies"]]
    missing = [name for name in names if name not in DEBIAN_PACKAGES]
    if missing:
        raise SystemExit(f"no Debian package known for {', '.join(missing)}: add it to DEBIAN_PACKAGES in {__file__}")
    extra = [name for name in DEBIAN_PACKAGES if name not in names]
    return ", ".join([PYTHON] + [DEBIAN_PACKAGES[name] for name in names + extra])


def console_scripts() -> dict[str, str]:
    return {name: target for name, target in project()["scripts"].items() if name not in SCRIPTS_LEFT_OUT}


def write_scripts(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, target in console_scripts().items():
        module, function = target.split(":")
        path = directory / name
        path.write_text(f"#!/usr/bin/python3\nimport sys\n\nfrom {module} import {function}\n\nsys.exit({function}())\n")
        path.chmod(0o755)


def version() -> str:
    text = (REPO / "indi_astrojolo" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE).group(1)


def write_metadata(site_packages: Path) -> None:
    meta = project()
    directory = site_packages / f"{meta['name']}-{version()}.dist-info"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "METADATA").write_text(
        "Metadata-Version: 2.1\n"
        f"Name: {meta['name']}\n"
        f"Version: {version()}\n"
        f"Summary: {meta['description']}\n"
        f"License: {meta['license']['text']}\n"
        f"Requires-Python: {meta['requires-python']}\n"
    )
    (directory / "top_level.txt").write_text("indi_astrojolo\n")
    (directory / "INSTALLER").write_text("dpkg\n")


def main(argv: list[str]) -> None:
    if argv[:1] == ["depends"]:
        print(depends())
    elif argv[:1] == ["scripts"] and len(argv) == 2:
        write_scripts(Path(argv[1]))
    elif argv[:1] == ["metadata"] and len(argv) == 2:
        write_metadata(Path(argv[1]))
    elif argv[:1] == ["version"]:
        print(version())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
