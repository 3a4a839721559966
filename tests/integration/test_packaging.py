"""Installation as users get it: a wheel (pip install .), the systemd unit's command line, and the Debian package
built by packaging/build-deb.sh, installed with apt and run under the system python3 and indiserver.

The Debian package test needs root and, unless the package's dependencies are already installed, apt access to
Debian's mirrors; without either it is skipped with the reason. It installs system packages and leaves them."""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from harness import IndiServer, free_port, wait_until
from indi_astrojolo import __version__

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DRIVERS = {"AstroLink 4 USB": ("indi_astrolink4_usb", "295048"), "NexStar AUX": ("indi_nexstar_aux", "5")}
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what systemd gives services


def getprop(port: int, *queries: str, timeout: int = 2) -> dict[str, str]:
    """indi_getprop; it answers as soon as every fully named element has arrived (a wildcard waits the timeout)."""
    out = subprocess.run(
        ["indi_getprop", "-h", "127.0.0.1", "-p", str(port), "-t", str(timeout), *queries],
        capture_output=True, text=True, timeout=timeout + 10,
    )
    return dict(line.partition("=")[::2] for line in out.stdout.splitlines())


def assert_driver_info(port: int) -> None:
    expected = {}
    for device, (executable, interface) in DRIVERS.items():
        expected[f"{device}.DRIVER_INFO.DRIVER_EXEC"] = executable
        expected[f"{device}.DRIVER_INFO.DRIVER_VERSION"] = __version__
        expected[f"{device}.DRIVER_INFO.DRIVER_INTERFACE"] = interface
    assert getprop(port, *expected, timeout=5) == expected


# --- wheel ---------------------------------------------------------------------------------------------------------


def test_the_wheel_installs_both_drivers(tmp_path: Path) -> None:
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, str(REPO), "-w", str(tmp_path / "wheel")],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("indi_astrojolo-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(f"indi_astrojolo-{__version__}.dist-info/entry_points.txt").decode())
    scripts = dict(entry_points["console_scripts"])
    assert scripts["indi_astrolink4_usb"] == "indi_astrojolo.astrolink4.main:main"
    assert scripts["indi_nexstar_aux"] == "indi_astrojolo.nexstar.main:main"
    assert {f"indi_astrojolo/xml/{path.name}" for path in (REPO / "xml").glob("*.xml")} <= names

    # A throwaway venv that reuses this one's dependencies, with the wheel installed into it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True,
    )
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import indi_astrojolo; print(indi_astrojolo.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout
    assert imported.startswith(str(site)), f"the venv imported {imported}, not the wheel"
    drivers = [str(venv / "bin" / executable) for executable, _ in DRIVERS.values()]
    with IndiServer(drivers, tmp_path / "server") as server:
        assert_driver_info(server.port)


# --- systemd unit ----------------------------------------------------------------------------------------------------


def unit_settings(text: str) -> dict[tuple[str, str], list[str]]:
    settings: dict[tuple[str, str], list[str]] = defaultdict(list)
    section = ""
    for line in map(str.strip, text.splitlines()):
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings[(section, key.strip())].append(value.strip())
    return settings


def service_command(unit: str, environment_file: str, **overrides: str) -> list[str]:
    """ExecStart as systemd runs it: Environment=, then EnvironmentFile= over it; "${X}" is replaced inside a word,
    a word "$X" becomes the value split at whitespace (systemd.service(5), "Command lines")."""
    settings = unit_settings(unit)
    env: dict[str, str] = {}
    for value in settings[("Service", "Environment")]:
        env.update(assignment.partition("=")[::2] for assignment in shlex.split(value))
    for line in map(str.strip, environment_file.splitlines()):
        if line and line[0] not in "#;":
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value))
    env.update(overrides)
    (exec_start,) = settings[("Service", "ExecStart")]
    words = []
    for word in shlex.split(exec_start):
        whole = re.fullmatch(r"\$([A-Za-z_]\w*)", word)
        if whole:
            words += env.get(whole.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_]\w*)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def run_service_command(unit_path: Path, environment_path: Path, bin_dir: Path | None, workdir: Path) -> None:
    port = free_port()
    command = service_command(unit_path.read_text(), environment_path.read_text(), INDI_PORT=str(port))
    assert command[:3] == ["/usr/bin/indiserver", "-p", str(port)]
    assert f"/run/indi-astrojolo/indiserver-{port}.sock" in command  # its own local socket
    path = f"{bin_dir}:{SYSTEMD_PATH}" if bin_dir else SYSTEMD_PATH
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "service.log", "wb") as log:
        process = subprocess.Popen(command, env={"PATH": path, "HOME": str(workdir)}, cwd=workdir, stdout=log, stderr=log)
    try:
        wait_until(lambda: process.poll() is not None or getprop(port, "NexStar AUX.CONNECTION.CONNECT", timeout=1), 15,
                   0.2, "the service's indiserver")
        assert process.poll() is None, (workdir / "service.log").read_text()
        assert_driver_info(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_service_command_line_runs_both_drivers(tmp_path: Path) -> None:
    # the executables from this venv, as after indi-astrojolo-catalog install linked them into /usr/local/bin
    run_service_command(
        PACKAGING / "indiserver-astrojolo.service", PACKAGING / "indiserver-astrojolo.default",
        Path(sys.executable).parent, tmp_path,
    )


# --- Debian package --------------------------------------------------------------------------------------------------


def apt(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=300", *args], capture_output=True, text=True, env=env,
        timeout=timeout,
    )


def installed_version(package: str) -> str | None:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture_output=True, text=True)
    return out.stdout.split()[-1] if out.stdout.startswith("install ok installed") else None


def install_with_apt(package: Path) -> None:
    """apt-get install ./package, fetching the dependencies from Debian's mirrors if they are not installed yet."""
    simulated = apt("install", "-s", "--reinstall", str(package))
    missing = sorted(set(re.findall(r"^Inst (\S+)", simulated.stdout, re.MULTILINE)) - {"indi-astrojolo"})
    if simulated.returncode != 0 or missing:
        update = apt("update")
        output = (update.stdout + update.stderr).strip()
        if update.returncode != 0 or re.search(r"^(Err|W: Failed to fetch)", output, re.MULTILINE):
            pytest.skip(f"apt cannot reach Debian's mirrors to install {', '.join(missing) or 'the dependencies'}: "
                        f"{output.splitlines()[-1] if output else update.returncode}")
    result = apt("install", "-y", "--reinstall", str(package))
    assert result.returncode == 0, result.stdout + result.stderr


def wait_value(port: int, query: str, expected: str, timeout: float = 30) -> None:
    wait_until(lambda: getprop(port, query, timeout=1).get(query) == expected, timeout, 0.2, f"{query} = {expected}")


def test_the_debian_package_installs_and_runs_on_debians_python(tmp_path: Path) -> None:
    # One test, so that parallel workers never install the package while another runs its drivers. The package
    # stays installed afterwards, as after any apt install (apt-get purge indi-astrojolo removes it).
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("not a Debian system: no apt-get or dpkg-deb")
    if os.geteuid() != 0:
        pytest.skip("installing the Debian package needs root")
    built = subprocess.run([str(PACKAGING / "build-deb.sh"), str(tmp_path)], capture_output=True, text=True, check=True)
    package = Path(built.stdout.strip().splitlines()[-1])
    install_with_apt(package)

    # Files where Debian, KStars, udev and systemd look for them.
    assert installed_version("indi-astrojolo") == package.name.split("_")[1]
    for executable, _ in DRIVERS.values():
        path = Path("/usr/bin") / executable
        assert os.access(path, os.X_OK) and shutil.which(executable, path="/usr/bin") == str(path)
        assert path.read_text().startswith("#!/usr/bin/python3\n")
    assert Path("/usr/share/indi/indi_astrojolo.xml").read_bytes() == (PACKAGING / "indi_astrojolo.xml").read_bytes()
    assert Path("/lib/udev/rules.d/99-astrolink4.rules").read_text() == (PACKAGING / "99-astrolink4.rules").read_text()
    assert Path("/lib/systemd/system/indiserver-astrojolo.service").exists()
    for name in ("copyright", "changelog.Debian.gz"):
        assert Path("/usr/share/doc/indi-astrojolo", name).exists()
    assert subprocess.run(["getent", "passwd", "indi-astrojolo"], capture_output=True).returncode == 0
    version = subprocess.run(
        ["/usr/bin/python3", "-c", "import importlib.metadata as m; print(m.version('indi_astrojolo'))"],
        capture_output=True, text=True, cwd="/",
    )
    assert version.stdout.strip() == __version__, version.stderr

    # indiserver runs both from /usr/bin on Debian's python3, trio, lxml, pyerfa and numpy: both devices connect in
    # simulation and the focuser moves.
    drivers = [f"/usr/bin/{executable}" for executable, _ in DRIVERS.values()]
    with IndiServer(drivers, tmp_path / "server", env={"PATH": "/usr/bin:/bin"}) as server:
        assert_driver_info(server.port)
        for device in DRIVERS:
            assert server.setprop(f"{device}.SIMULATION.ENABLE=On").returncode == 0
            wait_value(server.port, f"{device}.SIMULATION._STATE", "Ok")
            server.setprop(f"{device}.CONNECTION.CONNECT=On")
            wait_value(server.port, f"{device}.CONNECTION._STATE", "Ok")
        server.setprop("AstroLink 4 USB.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION=300")
        wait_value(server.port, "AstroLink 4 USB.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "300")
        wait_value(server.port, "AstroLink 4 USB.ABS_FOCUS_POSITION._STATE", "Ok")
        assert getprop(server.port, "NexStar AUX.EQUATORIAL_EOD_COORD.DEC", timeout=1)
    assert "Traceback" not in server.log(), server.log()

    # The installed unit with its environment file, as systemd would start it.
    run_service_command(
        Path("/lib/systemd/system/indiserver-astrojolo.service"), Path("/etc/default/indiserver-astrojolo"), None,
        tmp_path / "service",
    )
