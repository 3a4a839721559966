"""The files the packages put outside Python: the udev rule, the systemd unit, and the Debian package's dependencies."""

from __future__ import annotations

import ast
import grp
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
RULES = PACKAGING / "99-astrolink4.rules"
UNIT = PACKAGING / "indiserver-astrojolo.service"

# udev(7): which keys match, which assign, which need {attribute}.
MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER",
              "DRIVERS", "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TAG", "TAGS", "TEST", "PROGRAM", "RESULT"}
ASSIGN_KEYS = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG", "RUN", "LABEL",
               "GOTO", "IMPORT", "OPTIONS"}
KEYS_WITH_ATTRIBUTE = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "SECLABEL", "IMPORT"}
UDEV_FIELD = re.compile(r'\s*(?P<key>[A-Z]+)(?:\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"\s*')


def parse_udev_rule(line: str) -> list[tuple[str, str | None, str, str]]:
    """(key, attribute, operator, value) for each field of one rule; AssertionError where udev would reject it."""
    fields, position = [], 0
    while True:
        match = UDEV_FIELD.match(line, position)
        assert match, f"cannot parse at {line[position:]!r}"
        key, attr, op, value = match.group("key", "attr", "op", "value")
        if op in ("==", "!="):
            assert key in MATCH_KEYS, f"{key} cannot be matched"
        else:
            assert key in ASSIGN_KEYS, f"{key} cannot be assigned"
        assert (attr is not None) == (key in KEYS_WITH_ATTRIBUTE) or key in {"RUN", "TEST"}, f"{key}{{…}}"
        fields.append((key, attr, op, value))
        position = match.end()
        if position == len(line):
            return fields
        assert line[position] == ",", f"expected a comma at {line[position:]!r}"
        position += 1


def rules(*, templates: bool) -> list[list[tuple[str, str | None, str, str]]]:
    """The file's rules; with templates, also the rules left as comments for users to enable."""
    parsed = []
    for line in RULES.read_text().splitlines():
        if templates and re.match(r"#[A-Z]+[{=!:+-]", line):
            line = line[1:]
        if line.strip() and not line.startswith("#"):
            parsed.append(parse_udev_rule(line))
    return parsed


def test_every_udev_rule_and_template_parses() -> None:
    all_rules = rules(templates=True)
    assert len(all_rules) == len(rules(templates=False)) + 2
    labels = {value for rule in all_rules for key, _, _, value in rule if key == "LABEL"}
    for rule in all_rules:
        for key, _, _, value in rule:
            if key == "GOTO":
                assert value in labels
            if key == "GROUP":
                grp.getgrnam(value)  # KeyError if the group does not exist on Debian


def test_the_active_rule_names_the_ftdi_port_astrolink4() -> None:
    links = [rule for rule in rules(templates=False) if ("SYMLINK", None, "+=", "astrolink4") in rule]
    assert len(links) == 1
    assert {("ATTRS", "idVendor", "==", "0403"), ("ATTRS", "idProduct", "==", "6001")} <= set(links[0])
    assert not any(("SYMLINK", None, "+=", "nexstar") in rule for rule in rules(templates=False))


def test_udevadm_accepts_the_rules() -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None or subprocess.run([udevadm, "verify", "--help"], capture_output=True).returncode != 0:
        pytest.skip("udevadm verify needs systemd 253 or newer; the rules are parse-checked above")
    result = subprocess.run([udevadm, "verify", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_accepts_the_unit() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def from_pyproject():
    spec = importlib.util.spec_from_file_location("from_pyproject", PACKAGING / "debian" / "from_pyproject.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def third_party_imports() -> set[str]:
    names = set()
    for path in (REPO / "indi_astrojolo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "indi_astrojolo"}


def test_the_debian_package_depends_on_everything_the_code_imports() -> None:
    packaging = from_pyproject()
    distributions = importlib.metadata.packages_distributions()
    control = (PACKAGING / "debian" / "control").read_text()
    for name in third_party_imports():
        if name == "matplotlib":  # charts only, an optional extra
            assert "Suggests: python3-matplotlib" in control
            continue
        distribution = distributions.get(name, [name])[0].lower()  # serial is pyserial's, erfa pyerfa's
        assert distribution in packaging.DEBIAN_PACKAGES, f"{name} ({distribution}) is missing from the Depends"
    depends = packaging.depends()
    assert all(package in depends for package in packaging.DEBIAN_PACKAGES.values())
    assert depends.startswith("python3 (>= 3.11), ")


def test_the_debian_changelog_is_at_the_package_version() -> None:
    from indi_astrojolo import __version__

    first = (PACKAGING / "debian" / "changelog").read_text().splitlines()[0]
    assert re.match(rf"indi-astrojolo \({re.escape(__version__)}-\d+\) ", first), first


def test_the_service_runs_as_the_user_the_package_creates_with_its_home_as_state() -> None:
    settings = dict(re.findall(r"^(User|Group|StateDirectory|Restart|After)=(.*)$", UNIT.read_text(), re.MULTILINE))
    (sysusers,) = [line.split() for line in (PACKAGING / "indi-astrojolo.sysusers").read_text().splitlines()
                   if line.startswith("u ")]
    assert settings["User"] == settings["Group"] == sysusers[1] != "root"
    assert sysusers[-1] == f"/var/lib/{settings['StateDirectory']}"
    assert f"Environment=HOME={sysusers[-1]}" in UNIT.read_text()
    assert f"adduser --quiet --system --group --home {sysusers[-1]}" in (PACKAGING / "debian" / "postinst").read_text()
    assert settings["Restart"] == "on-failure" and "network.target" in settings["After"]
    assert re.search(r"^INDI_PORT=7624$", (PACKAGING / "indiserver-astrojolo.default").read_text(), re.MULTILINE)
