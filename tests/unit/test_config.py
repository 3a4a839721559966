"""INDI config files: libindi's format, atomic writes, INDICONFIG, and the .default file."""

from __future__ import annotations

import os

import pytest
from disk_faults import refuse_new_files

from indi_astrojolo.files import atomic_write_bytes
from indi_astrojolo.indi import config
from indi_astrojolo.indi.definitions import load_vectors


def saved_vectors():
    vectors = [v for v in load_vectors("general.xml", "My Device") + load_vectors("connection.xml", "My Device") if v.save]
    return vectors


def test_default_path_uses_device_name_with_spaces(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("INDICONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.config_path("AstroLink 4 USB") == tmp_path / ".indi" / "AstroLink 4 USB_config.xml"


def test_indiconfig_overrides_the_path(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INDICONFIG", str(tmp_path / "elsewhere.xml"))
    assert config.config_path("Any") == tmp_path / "elsewhere.xml"
    assert config.default_path(config.config_path("Any")) == tmp_path / "elsewhere.xml.default"


def test_round_trip_in_indi_format(tmp_path) -> None:
    vectors = saved_vectors()
    port = next(v for v in vectors if v.name == "DEVICE_PORT")
    port["PORT"].value = "/dev/serial/by-id/usb-FTDI & Co <x>"
    path = tmp_path / "cfg.xml"
    config.write(path, vectors)
    text = path.read_text()
    assert text.startswith("<INDIDriver>")
    assert "<newTextVector device=\"My Device\" name=\"DEVICE_PORT\">" in text
    requests = {r.name: r for r in config.read(path)}
    assert requests["DEVICE_PORT"].members == (("PORT", "/dev/serial/by-id/usb-FTDI & Co <x>"),)
    assert requests["DEVICE_BAUD_RATE"].kind == "Switch"
    assert requests["POLLING_PERIOD"].members == (("PERIOD_MS", "1000"),)


def test_reads_libindi_written_files(tmp_path) -> None:
    path = tmp_path / "libindi.xml"
    path.write_text(
        "<INDIDriver>\n<newSwitchVector device='Focuser Simulator' name='DEBUG'>\n  <oneSwitch name='ENABLE'>\n"
        "      Off\n  </oneSwitch>\n  <oneSwitch name='DISABLE'>\n      On\n  </oneSwitch>\n</newSwitchVector>\n"
        "<newNumberVector device='Focuser Simulator' name='POLLING_PERIOD'>\n  <oneNumber name='PERIOD_MS'>\n"
        "      1000\n  </oneNumber>\n</newNumberVector>\n</INDIDriver>\n"
    )
    requests = config.read(path)
    assert [(r.kind, r.name, r.members) for r in requests] == [
        ("Switch", "DEBUG", (("ENABLE", "Off"), ("DISABLE", "On"))),
        ("Number", "POLLING_PERIOD", (("PERIOD_MS", "1000"),)),
    ]


@pytest.mark.parametrize("content, message", [(None, "no config file"), (b"<INDIDriver><oops", "not valid XML")])
def test_unreadable_config_is_a_clear_error(tmp_path, content, message) -> None:
    path = tmp_path / "cfg.xml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(config.ConfigError, match=message):
        config.read(path)


def test_entities_in_config_are_not_expanded(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_text(
        '<!DOCTYPE x [<!ENTITY big "AAAA">]><INDIDriver><newTextVector device="D" name="T">'
        '<oneText name="X">&big;</oneText></newTextVector></INDIDriver>'
    )
    requests = config.read(path)
    assert "AAAA" not in requests[0].members[0][1]


def test_default_file_is_written_once(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    config.write_default_once(path, b"<INDIDriver/>")
    config.write_default_once(path, b"<INDIDriver>changed</INDIDriver>")
    assert config.default_path(path).read_bytes() == b"<INDIDriver/>"


def test_purge(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_text("<INDIDriver/>")
    assert config.purge(path) is True
    assert not path.exists()
    assert config.purge(path) is False


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path) -> None:
    target = tmp_path / "sub" / "file.xml"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(target.parent)) == ["file.xml"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "file.xml"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["file.xml"]


def test_temporaries_left_by_killed_writers_are_removed_by_a_later_write(tmp_path) -> None:
    target = tmp_path / "AstroLink [1]_config.xml"  # glob characters in a device name must not matter
    stale = tmp_path / f".{target.name}.k1ll3d.tmp"
    live = tmp_path / f".{target.name}.wr1t1ng.tmp"  # another process writing right now
    other = tmp_path / ".other.xml.k1ll3d.tmp"  # another file's: not ours to judge
    for path in (stale, live, other):
        path.write_bytes(b"half a docu")
    an_hour_ago = os.path.getmtime(stale) - 3600
    for path in (stale, other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    atomic_write_bytes(target, b"new")
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, live.name, other.name])


@pytest.mark.parametrize("umask, expected", [(0o077, 0o600), (0o027, 0o640), (0o002, 0o664)])
def test_a_config_holding_the_site_follows_the_umask(tmp_path, umask, expected) -> None:
    site = next(v for v in load_vectors("nexstar_aux.xml", "NexStar AUX") if v.name == "GEOGRAPHIC_COORD")
    path = tmp_path / "NexStar AUX_config.xml"
    previous = os.umask(umask)
    try:
        config.write(path, [site])  # a new file
        config.write(path, [site])  # and one replaced
    finally:
        os.umask(previous)
    assert "GEOGRAPHIC_COORD" in path.read_text()
    assert oct(os.stat(path).st_mode & 0o777) == oct(expected)
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_atomic_write_takes_an_explicit_mode(tmp_path) -> None:
    target = tmp_path / "chart.png"
    atomic_write_bytes(target, b"png", mode=0o640)
    assert os.stat(target).st_mode & 0o777 == 0o640


# --- damaged and oversized files ----------------------------------------------------------------------------------

ENTRIES = [("A", "10"), ("B", "20"), ("C", "30"), ("D", "40")]


def config_text(entries=ENTRIES) -> str:
    body = "".join(
        f'<newNumberVector device="D" name="{name}">\n  <oneNumber name="X">\n      {value}\n  </oneNumber>\n</newNumberVector>\n'
        for name, value in entries
    )
    return f"<INDIDriver>\n{body}</INDIDriver>\n"


def read_values(path) -> tuple[dict[str, str], str | None, int]:
    loaded = config.load(path)
    return {r.name: r.members[0][1] for r in loaded.requests}, loaded.damage, loaded.skipped


def test_a_whole_file_is_not_damaged(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_text(config_text())
    assert read_values(path) == ({"A": "10", "B": "20", "C": "30", "D": "40"}, None, 0)


def test_losing_only_the_closing_tag_loses_nothing(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_text(config_text().replace("</INDIDriver>\n", ""))
    values, damage, skipped = read_values(path)
    assert values == {"A": "10", "B": "20", "C": "30", "D": "40"} and skipped == 0
    assert "Premature end of data" in damage


def test_a_value_cut_short_is_never_applied(tmp_path) -> None:
    """Truncated in the middle of C's value: "30" would be read as "3" by a recovering parser."""
    text = config_text()
    path = tmp_path / "cfg.xml"
    path.write_text(text[: text.index("30") + 1])
    values, damage, skipped = read_values(path)
    assert values == {"A": "10", "B": "20"} and damage and skipped == 1


def test_damage_in_the_middle_spares_the_entries_around_it(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_bytes(config_text().replace("20", "2\x01").encode())
    values, damage, skipped = read_values(path)
    assert values == {"A": "10", "C": "30", "D": "40"} and skipped == 1
    assert "invalid Char" in damage


def test_garbage_gives_nothing_and_says_why(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_bytes(b"\x00\x01\x02 not xml at all")
    values, damage, _ = read_values(path)
    assert values == {} and damage


def test_an_empty_file_is_damaged(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    path.write_bytes(b"")
    assert read_values(path)[1]


def test_a_config_over_the_limit_is_kept_aside_unread(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    with pytest.raises(config.ConfigError, match=r"was not read: 104,857,600 bytes, more than the 1,048,576 .*kept aside as cfg.xml.damaged-"):
        config.load(path)
    assert not path.exists() and len(list(tmp_path.glob("cfg.xml.damaged-*"))) == 1


def test_a_save_over_a_damaged_file_keeps_a_copy_first(tmp_path) -> None:
    path = tmp_path / "cfg.xml"
    damaged = config_text()[:-20].encode()
    path.write_bytes(damaged)
    config.protect_before_overwrite(path)
    config.protect_before_overwrite(path)  # once is enough: the same bytes are not copied twice
    copies = list(tmp_path.glob("cfg.xml.damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == damaged
    path.write_text(config_text())
    config.protect_before_overwrite(path)  # a whole file needs no copy
    assert len(list(tmp_path.glob("cfg.xml.damaged-*"))) == 1


def test_a_save_is_refused_when_no_copy_of_the_damaged_file_can_be_kept(tmp_path, monkeypatch) -> None:
    """A read-only directory; root ignores permission bits, so new files fail the way a read-only mount fails."""
    path = tmp_path / "cfg.xml"
    path.write_bytes(b"<INDIDriver><oops")
    refuse_new_files(monkeypatch, tmp_path)
    with pytest.raises(config.ConfigError, match="no copy of it could be kept .*Read-only file system"):
        config.protect_before_overwrite(path)
    assert path.read_bytes() == b"<INDIDriver><oops"


def test_a_file_cut_anywhere_gives_only_whole_entries(tmp_path) -> None:
    """Whatever byte a write was cut at, every entry read is exactly as written, and the ones before the cut are
    all there."""
    text = config_text([("A", "10"), ("B", "-20.5"), ("C", "300"), ("D", "Off")]).encode()
    whole = {"A": "10", "B": "-20.5", "C": "300", "D": "Off"}
    path = tmp_path / "cfg.xml"
    for cut in range(len(text)):
        path.write_bytes(text[:cut])
        values = {r.name: r.members[0][1] for r in config.load(path).requests}
        assert all(whole[name] == value for name, value in values.items()), (cut, values)
        ended = text[:cut].count(b"</newNumberVector>")
        assert len(values) >= ended, (cut, values)  # every entry written whole before the cut is read
