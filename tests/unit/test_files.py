"""The one validating loader every JSON store goes through (files.load_document): each way a saved file can be bad
is reported by name with what is wrong, the damaged file is kept aside, and nothing that is not a finite number of
the right kind gets past it."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from indi_astrojolo import files
from indi_astrojolo.files import DocumentError, Fields, StoreProblem, load_document, save_document

KIND = "astrojolo-test"


def parse(document: Fields) -> dict:
    return {
        "angle": document.number("angle", -90.0, 90.0),
        "count": document.integer("count", 0, 10),
        "flag": document.boolean("flag"),
        "pair": document.integers("pair", 2, 0, 100),
        "items": [entry.number("x") for entry in document.entries("items", "item")],
    }


GOOD = {"format": KIND, "version": 1, "angle": 12.5, "count": 3, "flag": True, "pair": [1, 2], "items": [{"x": 1.0}]}


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def damaged_copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".damaged-*"))


def test_a_good_document_round_trips(tmp_path) -> None:
    path = tmp_path / "store.json"
    save_document(path, KIND, 1, {k: v for k, v in GOOD.items() if k not in ("format", "version")})
    assert load_document(path, KIND, 1, parse) == {"angle": 12.5, "count": 3, "flag": True, "pair": (1, 2), "items": [1.0]}


def test_no_file_is_none_not_a_problem(tmp_path) -> None:
    assert load_document(tmp_path / "missing.json", KIND, 1, parse) is None


@pytest.mark.parametrize(
    "content, reason",
    [
        ("", "not valid JSON"),
        ("{\"format\": ", "not valid JSON"),
        (b"\xff\xfe garbage", "not UTF-8"),
        ("[1, 2]", f"not a {KIND} file"),
        ("[" * 100_000, "nested too deeply"),
        (json.dumps({**GOOD, "format": "other"}), f"not a {KIND} file"),
        (json.dumps({**GOOD, "version": 2}), "version 2 is not supported"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "angle"}), '"angle" is missing'),
        (json.dumps({**GOOD, "angle": "12.5"}), '"angle" must be a finite number from -90 to 90'),
        (json.dumps({**GOOD, "angle": True}), '"angle" must be a finite number'),
        (json.dumps({**GOOD, "angle": 91}), '"angle" must be a finite number from -90 to 90, not 91'),
        (json.dumps({**GOOD, "count": 2.5}), '"count" must be a whole number'),
        (json.dumps({**GOOD, "count": 11}), '"count" must be a whole number from 0 to 10'),
        (json.dumps({**GOOD, "flag": "yes"}), '"flag" must be true or false'),
        (json.dumps({**GOOD, "pair": [1]}), '"pair" must be a list of 2 whole numbers'),
        (json.dumps({**GOOD, "pair": [1, "2"]}), '"pair" must be a list of 2 whole numbers'),
        (json.dumps({**GOOD, "items": {"x": 1}}), '"items" must be a list'),
        (json.dumps({**GOOD, "items": [{"x": 1}, 5]}), "item 2 is not an object"),
        (json.dumps({**GOOD, "items": [{"x": 1}, {"x": "a"}]}), 'item 2: "x" must be a finite number'),
    ],
)
def test_each_kind_of_damage_is_named_and_the_file_kept_aside(tmp_path, content, reason) -> None:
    path = write(tmp_path / "store.json", content)
    original = path.read_bytes()
    with pytest.raises(StoreProblem) as caught:
        load_document(path, KIND, 1, parse)
    problem = caught.value
    assert str(path) in str(problem) and "damaged" in str(problem)
    assert reason in str(problem)
    assert not path.exists()  # the next save cannot overwrite it
    assert damaged_copies(path) == [problem.kept_aside]
    assert problem.kept_aside.read_bytes() == original
    assert f"kept aside as {problem.kept_aside.name}" in str(problem)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" + "0" * 400, "9" * 5000])
def test_nan_and_infinity_never_get_in(tmp_path, constant) -> None:
    path = write(tmp_path / "store.json", json.dumps(GOOD).replace("12.5", constant))
    with pytest.raises(StoreProblem, match="damaged"):
        load_document(path, KIND, 1, parse)
    # nested where no field accessor looks, too
    path = write(tmp_path / "nested.json", json.dumps({**GOOD, "extra": [{"deep": 1.5}]}).replace("1.5", constant))
    with pytest.raises(StoreProblem, match="damaged"):
        load_document(path, KIND, 1, parse)


def test_nan_is_never_written(tmp_path) -> None:
    path = tmp_path / "store.json"
    with pytest.raises(ValueError):
        save_document(path, KIND, 1, {"angle": float("nan")})
    assert not path.exists()


def test_a_file_over_the_limit_is_kept_aside_unread(tmp_path) -> None:
    path = tmp_path / "store.json"
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB that costs nothing to make
    with pytest.raises(StoreProblem, match=r"104,857,600 bytes, more than the 1,048,576"):
        load_document(path, KIND, 1, parse)
    assert not path.exists() and len(damaged_copies(path)) == 1


def test_a_directory_in_place_of_the_file_is_reported_and_left_alone(tmp_path) -> None:
    path = tmp_path / "store.json"
    path.mkdir()
    (path / "inside").write_text("user data")
    with pytest.raises(StoreProblem, match=r"store.json: it cannot be read \(Is a directory\)"):
        load_document(path, KIND, 1, parse)
    assert (path / "inside").read_text() == "user data" and damaged_copies(path) == []


def test_the_state_directory_being_a_plain_file_is_reported(tmp_path) -> None:
    indi = write(tmp_path / ".indi", "not a directory")
    with pytest.raises(StoreProblem, match=r"\.indi/store.json: it cannot be read \(Not a directory\)"):
        load_document(indi / "store.json", KIND, 1, parse)
    assert indi.read_text() == "not a directory"
    with pytest.raises(NotADirectoryError) as caught:
        save_document(indi / "store.json", KIND, 1, {})
    assert files.file_error(caught.value, "write") == f"cannot write {indi}: Not a directory"


def test_a_fifo_is_not_waited_on(tmp_path) -> None:
    path = tmp_path / "store.json"
    os.mkfifo(path)
    with pytest.raises(StoreProblem, match="not a regular file"):
        load_document(path, KIND, 1, parse)


def test_a_damaged_file_that_cannot_be_moved_aside_says_so(tmp_path, monkeypatch) -> None:
    """A read-only directory (root ignores permission bits, so the rename fails the way a read-only mount fails)."""
    path = write(tmp_path / "store.json", "{broken")

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", str(src))

    monkeypatch.setattr(os, "rename", read_only)
    with pytest.raises(StoreProblem, match=r"could not be kept aside: cannot rename .*: Read-only file system") as caught:
        load_document(path, KIND, 1, parse)
    assert caught.value.kept_aside is None and path.read_text() == "{broken"


def test_keep_aside_false_leaves_the_file_for_the_user(tmp_path) -> None:
    path = write(tmp_path / "store.json", "{broken")
    with pytest.raises(StoreProblem, match="left as it is"):
        load_document(path, KIND, 1, parse, keep_aside=False)
    assert path.read_text() == "{broken" and damaged_copies(path) == []


def test_kept_aside_copies_never_overwrite_each_other(tmp_path) -> None:
    path = tmp_path / "store.json"
    for content in ("{one", "{two", "{three"):
        write(path, content)
        with pytest.raises(StoreProblem):
            load_document(path, KIND, 1, parse)
    assert sorted(copy.read_text() for copy in damaged_copies(path)) == ["{one", "{three", "{two"]


def test_copy_aside_is_made_once_per_content(tmp_path) -> None:
    path = write(tmp_path / "config.xml", "<broken")
    first = files.copy_aside(path, b"<broken")
    assert files.copy_aside(path, b"<broken") == first
    assert files.copy_aside(path, b"<other") != first
    assert len(damaged_copies(path)) == 2 and path.read_text() == "<broken"


def test_fields_name_the_entry() -> None:
    with pytest.raises(DocumentError, match='point 3: "x" is missing'):
        Fields({}, "point 3").number("x")
