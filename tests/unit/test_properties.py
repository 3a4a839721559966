"""Validation of client requests is all-or-nothing and says exactly what was wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from indi_astrojolo.indi.definitions import DefinitionError, load_vectors, xml_dir
from indi_astrojolo.indi.properties import (
    LightMember,
    LightVector,
    NumberMember,
    NumberVector,
    PropertySet,
    State,
    SwitchMember,
    SwitchVector,
    TextMember,
    TextVector,
    ValidationError,
)
from indi_astrojolo.indi.xmlstream import NewVector


def number_vector(perm: str = "rw") -> NumberVector:
    return NumberVector(
        "Dev",
        "ABS_FOCUS_POSITION",
        "Absolute Position",
        "Focuser",
        [
            NumberMember("FOCUS_ABSOLUTE_POSITION", "Steps", "%.f", 0, 100000, 1000, 500),
            NumberMember("OTHER", "Other", "%.2f", -10, 10, 0, 1.5),
        ],
        perm=perm,
    )


def switch_vector(rule: str) -> SwitchVector:
    return SwitchVector(
        "Dev",
        "SW",
        "Switches",
        "Main Control",
        [SwitchMember("A", "A", True), SwitchMember("B", "B", False), SwitchMember("C", "C", False)],
        rule=rule,
    )


def new(kind: str, name: str, *members: tuple[str | None, str]) -> NewVector:
    return NewVector(kind, "Dev", name, tuple(members), None)


class TestNumbers:
    def test_partial_vector_keeps_other_members(self) -> None:
        vector = number_vector()
        update = vector.validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", "51000")))
        assert update.values == {"FOCUS_ABSOLUTE_POSITION": 51000.0, "OTHER": 1.5}
        assert update.sent == ("FOCUS_ABSOLUTE_POSITION",)
        assert update.changed() == {"FOCUS_ABSOLUTE_POSITION": 51000.0}
        assert vector["FOCUS_ABSOLUTE_POSITION"].value == 500  # validation changes nothing

    @pytest.mark.parametrize("text, value", [("5.1e4", 51000.0), ("51000.0", 51000.0), (" 12 ", 12.0), ("1:30:00", 1.5)])
    def test_number_syntaxes(self, text: str, value: float) -> None:
        update = number_vector().validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", text)))
        assert update["FOCUS_ABSOLUTE_POSITION"] == pytest.approx(value)

    @pytest.mark.parametrize(
        "text, fragment",
        [
            ("abc", "'abc' is not a number"),
            ("", "is not a number"),
            ("nan", "is not a number"),
            ("inf", "is not a number"),
            ("1,5", "is not a number"),
            ("100001", "outside the allowed range 0 … 100000"),
            ("-1", "outside the allowed range"),
        ],
    )
    def test_bad_numbers_are_refused_with_the_reason(self, text: str, fragment: str) -> None:
        vector = number_vector()
        with pytest.raises(ValidationError) as info:
            vector.validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", text)))
        assert fragment in str(info.value)
        assert "ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION" in str(info.value)
        assert vector["FOCUS_ABSOLUTE_POSITION"].value == 500

    def test_one_bad_member_refuses_the_whole_request(self) -> None:
        vector = number_vector()
        with pytest.raises(ValidationError, match="OTHER"):
            vector.validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", "10"), ("OTHER", "11")))
        assert vector.values() == {"FOCUS_ABSOLUTE_POSITION": 500, "OTHER": 1.5}

    def test_unknown_member(self) -> None:
        with pytest.raises(ValidationError, match="has no member 'NOPE'"):
            number_vector().validate(new("Number", "ABS_FOCUS_POSITION", ("NOPE", "1")))

    def test_member_without_name(self) -> None:
        with pytest.raises(ValidationError, match="no name"):
            number_vector().validate(new("Number", "ABS_FOCUS_POSITION", (None, "1")))

    def test_duplicate_member(self) -> None:
        with pytest.raises(ValidationError, match="given twice"):
            number_vector().validate(
                new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", "1"), ("FOCUS_ABSOLUTE_POSITION", "2"))
            )

    def test_empty_request(self) -> None:
        with pytest.raises(ValidationError, match="no members"):
            number_vector().validate(new("Number", "ABS_FOCUS_POSITION"))

    def test_read_only(self) -> None:
        with pytest.raises(ValidationError, match="read-only"):
            number_vector(perm="ro").validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", "1")))

    def test_wrong_kind(self) -> None:
        with pytest.raises(ValidationError, match="is a Number property, but a newSwitchVector was sent"):
            number_vector().validate(new("Switch", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", "On")))

    def test_range_ignored_when_min_equals_max(self) -> None:
        vector = NumberVector("Dev", "N", "N", "G", [NumberMember("X", "X", "%g", 0, 0, 0, 0)])
        assert vector.validate(new("Number", "N", ("X", "-1e9")))["X"] == -1e9

    @given(st.floats(min_value=0, max_value=100000, allow_nan=False))
    def test_any_value_in_range_is_accepted(self, value: float) -> None:
        update = number_vector().validate(new("Number", "ABS_FOCUS_POSITION", ("FOCUS_ABSOLUTE_POSITION", repr(value))))
        assert update["FOCUS_ABSOLUTE_POSITION"] == value


class TestSwitches:
    def test_one_of_many_on_member_turns_others_off(self) -> None:
        update = switch_vector("OneOfMany").validate(new("Switch", "SW", ("C", "On")))
        assert update.values == {"A": False, "B": False, "C": True}

    def test_one_of_many_two_on_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="only one switch On .* B, C were sent On"):
            switch_vector("OneOfMany").validate(new("Switch", "SW", ("B", "On"), ("C", "On")))

    def test_one_of_many_all_off_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="exactly one switch On"):
            switch_vector("OneOfMany").validate(new("Switch", "SW", ("A", "Off")))

    def test_one_of_many_off_of_another_member_keeps_the_on_one(self) -> None:
        update = switch_vector("OneOfMany").validate(new("Switch", "SW", ("B", "Off")))
        assert update.values == {"A": True, "B": False, "C": False}

    def test_at_most_one_allows_none(self) -> None:
        update = switch_vector("AtMostOne").validate(new("Switch", "SW", ("A", "Off"), ("B", "Off"), ("C", "Off")))
        assert update.values == {"A": False, "B": False, "C": False}

    def test_at_most_one_two_on_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="AtMostOne"):
            switch_vector("AtMostOne").validate(new("Switch", "SW", ("A", "On"), ("C", "On")))

    def test_any_of_many(self) -> None:
        update = switch_vector("AnyOfMany").validate(new("Switch", "SW", ("B", "On"), ("C", "On")))
        assert update.values == {"A": True, "B": True, "C": True}

    @pytest.mark.parametrize("text", ["on", "1", "true", "", "OFF"])
    def test_switch_values_must_be_on_or_off(self, text: str) -> None:
        with pytest.raises(ValidationError, match="must be On or Off"):
            switch_vector("AnyOfMany").validate(new("Switch", "SW", ("B", text)))

    def test_libindi_accepts_anything_starting_with_on(self) -> None:
        assert switch_vector("AnyOfMany").validate(new("Switch", "SW", ("B", "On!")))["B"] is True


class TestTextAndLights:
    def test_text_with_control_characters_is_refused(self) -> None:
        vector = TextVector("Dev", "T", "T", "G", [TextMember("X", "X", "old")])
        with pytest.raises(ValidationError, match="control characters"):
            vector.validate(new("Text", "T", ("X", "a\x01b")))

    def test_text_too_long_is_refused(self) -> None:
        vector = TextVector("Dev", "T", "T", "G", [TextMember("X", "X", "old")])
        with pytest.raises(ValidationError, match="longer than"):
            vector.validate(new("Text", "T", ("X", "x" * 5000)))

    def test_lights_are_read_only(self) -> None:
        vector = LightVector("Dev", "L", "L", "G", [LightMember("X", "X", State.OK)])
        with pytest.raises(ValidationError, match="read-only|is a Light property"):
            vector.validate(new("Number", "L", ("X", "1")))


class TestWireForm:
    def test_set_number_has_state_and_plain_numbers(self) -> None:
        vector = number_vector()
        vector.state = State.BUSY
        element = vector.set_element()
        assert element.tag == "setNumberVector"
        assert element.get("state") == "Busy"
        assert [child.text for child in element] == ["500", "1.50"]

    def test_limits_ride_on_the_next_set_only(self) -> None:
        vector = number_vector()
        vector.set_limits("FOCUS_ABSOLUTE_POSITION", 0, 30000)
        first = vector.set_element()
        assert first[0].get("max") == "30000"
        second = vector.set_element()
        assert second[0].get("max") is None

    def test_def_switch_carries_rule_and_perm(self) -> None:
        element = switch_vector("AtMostOne").def_element()
        assert element.get("rule") == "AtMostOne" and element.get("perm") == "rw"

    def test_escaping_of_text_values(self) -> None:
        vector = TextVector("Dev & Co", "T", "Lab <1>", "G", [TextMember("X", "X", 'a & b < c "d"')])
        data = etree.tostring(vector.set_element(message="it's <fine> & done"))
        parsed = etree.fromstring(data)
        assert parsed.get("device") == "Dev & Co"
        assert parsed.get("message") == "it's <fine> & done"
        assert parsed[0].text == 'a & b < c "d"'

    def test_config_element_is_a_request(self) -> None:
        element = switch_vector("OneOfMany").config_element()
        assert element.tag == "newSwitchVector"
        assert [(c.get("name"), c.text) for c in element] == [("A", "On"), ("B", "Off"), ("C", "Off")]


class TestPropertySet:
    def test_definitions_for_get_properties(self) -> None:
        props = PropertySet("Dev")
        props.add(number_vector())
        props.add(switch_vector("OneOfMany"))
        props.defined["SW"] = None
        assert [v.name for v in props.definitions_for(None, None)] == ["SW"]
        assert [v.name for v in props.definitions_for("Dev", "SW")] == ["SW"]
        assert props.definitions_for("Dev", "ABS_FOCUS_POSITION") == []  # declared but not defined now
        assert props.definitions_for("Other", None) == []

    def test_duplicate_property_is_an_error(self) -> None:
        props = PropertySet("Dev")
        props.add(number_vector())
        with pytest.raises(ValueError):
            props.add(number_vector())


class TestDefinitionFiles:
    def test_every_project_file_loads(self) -> None:
        files = sorted(xml_dir().glob("*.xml"))
        assert files, "no property files found"
        for path in files:
            vectors = load_vectors(path, "Dev")
            assert vectors, path
            assert all(v.device == "Dev" for v in vectors)

    def test_general_properties_have_libindi_shapes(self) -> None:
        vectors = {v.name: v for v in load_vectors("general.xml", "Dev")}
        connection = vectors["CONNECTION"]
        assert isinstance(connection, SwitchVector)
        assert list(connection.members) == ["CONNECT", "DISCONNECT"]
        assert connection.selected() == "DISCONNECT"
        assert vectors["CONFIG_PROCESS"].rule == "AtMostOne"  # type: ignore[attr-defined]
        assert vectors["DRIVER_INFO"].perm == "ro"

    @pytest.mark.parametrize(
        "body, message",
        [
            ('<defSwitchVector name="S" rule="OneOfMany"><defSwitch name="A">Off</defSwitch></defSwitchVector>', "one switch On"),
            ('<defNumberVector name="N"><defNumber name="X" format="%g" max="1">0</defNumber></defNumberVector>', "needs min="),
            ('<defNumberVector name="N"></defNumberVector>', "no members"),
            ('<defTextVector name="T"><defNumber name="X"/></defTextVector>', "inside"),
            ("<bogus/>", "unexpected"),
        ],
    )
    def test_bad_definitions_are_reported(self, tmp_path, body: str, message: str) -> None:
        path = tmp_path / "bad.xml"
        path.write_text(f"<INDIDriver>{body}</INDIDriver>")
        with pytest.raises(DefinitionError, match=message):
            load_vectors(path, "Dev")
