"""The KStars driver catalog: generated from the drivers' identities and the package version, in the format of the
catalogs Debian's INDI packages install in /usr/share/indi/, and installed there for pip users."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from indi_astrojolo import __version__, catalog

REPO = Path(__file__).resolve().parents[2]
DEBIAN_INDI_DIR = Path("/usr/share/indi")
SCHEMA = REPO / "tests" / "support" / "indi_drivers_list.rng"
CHECKED_IN = REPO / "packaging" / catalog.FILENAME
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
# Groups of libindi 2.x's drivers.xml that Debian 12's INDI 1.9.9 catalogs do not have yet (power boxes).
LIBINDI_2_GROUPS = {"Power"}


def debian_catalogs() -> dict[str, etree._ElementTree]:
    """Every driversList in /usr/share/indi/ except ours (skeleton files there are not catalogs)."""
    if not (DEBIAN_INDI_DIR / "drivers.xml").exists():
        pytest.fail("Debian's indi-bin is not installed (no /usr/share/indi/drivers.xml): run the README's setup")
    trees = {path.name: etree.parse(str(path), PARSER) for path in sorted(DEBIAN_INDI_DIR.glob("*.xml"))}
    return {name: tree for name, tree in trees.items() if tree.getroot().tag == "driversList" and name != catalog.FILENAME}


def ours() -> etree._Element:
    return etree.fromstring(catalog.render(), PARSER)


def test_the_checked_in_catalog_is_the_generated_one() -> None:
    assert CHECKED_IN.read_bytes() == catalog.render(), (
        "packaging/indi_astrojolo.xml is stale: .venv/bin/indi-astrojolo-catalog print > packaging/indi_astrojolo.xml"
    )


def test_each_driver_is_listed_under_its_device_name_in_its_groups() -> None:
    listed = {
        (device.getparent().get("group"), device.get("label")): (
            device.get("manufacturer"),
            device.find("driver").get("name"),
            device.find("driver").text,
            device.find("version").text,
        )
        for device in ours().iter("device")
    }
    astrolink = ("Astrojolo", "AstroLink 4 USB", "indi_astrolink4_usb", __version__)
    assert listed == {
        ("Focusers", "AstroLink 4 USB"): astrolink,
        ("Auxiliary", "AstroLink 4 USB"): astrolink,
        ("Weather", "AstroLink 4 USB"): astrolink,
        ("Power", "AstroLink 4 USB"): astrolink,
        ("Telescopes", "NexStar AUX"): ("Celestron", "NexStar AUX", "indi_nexstar_aux", __version__),
    }


def test_kstars_finds_each_driver_first_in_its_main_role() -> None:
    """KStars's driver manager keeps only the first listing of a label (later ones are skipped), and that listing's
    group decides which profile-editor lists offer it: the AstroLink must come first as a focuser (Focuser and Aux
    lists; Ekos finds its weather by its interface), not as a weather station or a power box."""
    first_group = {}
    for device in ours().iter("device"):
        first_group.setdefault(device.get("label"), device.getparent().get("group"))
    assert first_group == {"AstroLink 4 USB": "Focusers", "NexStar AUX": "Telescopes"}


def test_the_package_metadata_has_the_version_the_drivers_report() -> None:
    # pyproject.toml takes its version from __version__; the installed metadata shows that it did
    assert importlib.metadata.version("indi_astrojolo") == __version__, "reinstall the package (./quickstart.sh setup)"


def test_debians_catalogs_validate_against_the_schema() -> None:
    schema = etree.RelaxNG(etree.parse(str(SCHEMA), PARSER))
    for name, tree in debian_catalogs().items():
        assert schema.validate(tree), f"{name}: {schema.error_log}"


def test_our_catalog_validates_against_the_schema() -> None:
    schema = etree.RelaxNG(etree.parse(str(SCHEMA), PARSER))
    assert schema.validate(etree.ElementTree(ours())), str(schema.error_log)


def vocabulary(roots: list[etree._Element]):
    """Parent → child element pairs, each element's attributes, the attributes every instance has, the groups."""
    pairs, attributes, required, groups = set(), defaultdict(set), {}, set()
    for root in roots:
        pairs.add((None, root.tag))
        for element in root.iter():
            for child in element:
                pairs.add((element.tag, child.tag))
            attributes[element.tag] |= set(element.attrib)
            required[element.tag] = required.get(element.tag, set(element.attrib)) & set(element.attrib)
            if element.tag == "devGroup":
                groups.add(element.get("group"))
    return pairs, attributes, required, groups


def test_our_catalog_uses_only_the_vocabulary_of_debians_catalogs() -> None:
    debian_pairs, debian_attributes, debian_required, debian_groups = vocabulary(
        [tree.getroot() for tree in debian_catalogs().values()]
    )
    pairs, attributes, required, groups = vocabulary([ours()])
    assert pairs <= debian_pairs
    for tag, names in attributes.items():
        assert names <= debian_attributes[tag], tag
        assert debian_required[tag] <= required[tag], tag
    assert groups <= debian_groups | LIBINDI_2_GROUPS
    for device in ours().iter("device"):
        assert [child.tag for child in device] == ["driver", "version"]


def test_every_listed_executable_is_installed_with_the_package() -> None:
    bin_dir = Path(sys.executable).parent  # .venv/bin after pip install -e .
    for driver in ours().iter("driver"):
        path = bin_dir / driver.text
        assert path.exists() and os.access(path, os.X_OK), f"{driver.text} is not in {bin_dir}"


def test_install_writes_the_catalog_and_links_runnable_executables(tmp_path: Path) -> None:
    data_dir, link_dir = tmp_path / "share" / "indi", tmp_path / "bin"
    catalog.main(["install", "--data-dir", str(data_dir), "--link-dir", str(link_dir)])
    assert (data_dir / catalog.FILENAME).read_bytes() == catalog.render()
    for name in catalog.executables():
        link = link_dir / name
        assert link.resolve() == (catalog.scripts_dir() / name).resolve()
        answer = subprocess.run(
            [str(link)], input=b'<getProperties version="1.7"/>', capture_output=True, timeout=20,
            env=dict(os.environ, HOME=str(tmp_path)),
        )
        definitions = etree.fromstring(b"<stream>" + answer.stdout + b"</stream>", PARSER)
        assert definitions.findtext(".//defText[@name='DRIVER_EXEC']").strip() == name

    catalog.main(["remove", "--data-dir", str(data_dir), "--link-dir", str(link_dir)])
    assert not (data_dir / catalog.FILENAME).exists()
    assert not any(link_dir.iterdir())


def test_the_catalog_is_readable_by_everyone_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "share" / "indi"
    previous = os.umask(0o077)
    try:
        catalog.main(["install", "--data-dir", str(data_dir), "--no-links"])
    finally:
        os.umask(previous)
    assert (data_dir / catalog.FILENAME).stat().st_mode & 0o777 == 0o644  # KStars may run as another user


def test_install_leaves_a_file_of_the_same_name_alone(tmp_path: Path) -> None:
    link_dir = tmp_path / "bin"
    link_dir.mkdir()
    (link_dir / "indi_nexstar_aux").write_text("someone else's\n")
    with pytest.raises(SystemExit, match="not a link"):
        catalog.main(["install", "--data-dir", str(tmp_path), "--link-dir", str(link_dir)])
    assert (link_dir / "indi_nexstar_aux").read_text() == "someone else's\n"
    assert not (tmp_path / catalog.FILENAME).exists()


def test_files_of_installed_debian_packages_are_recognised(tmp_path: Path) -> None:
    # install and remove refuse to touch such a file: the Debian package of these drivers owns the catalog
    assert catalog.owned_by_a_package(DEBIAN_INDI_DIR / "drivers.xml")  # indi-bin's
    (tmp_path / catalog.FILENAME).write_bytes(catalog.render())
    assert not catalog.owned_by_a_package(tmp_path / catalog.FILENAME)
