"""Tests for the sans-I/O INDI XML stream parser and the wire helpers."""

from __future__ import annotations

import ast
import math
import re
import string
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import indi_astrojolo.indi.xmlstream as xmlstream
from indi_astrojolo.indi.xmlstream import (
    EnableBLOB,
    GetProperties,
    MalformedMessage,
    NewVector,
    OtherMessage,
    XmlStream,
    format_number_display,
    format_number_wire,
    format_timestamp,
    parse_number,
    parse_timestamp,
    sanitize_text,
    serialize,
    timestamp_now,
)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def norm(messages: list) -> list:
    """Comparable form: OtherMessage carries an lxml element, compared by its XML."""
    out = []
    for m in messages:
        if isinstance(m, OtherMessage):
            out.append(("Other", m.tag, m.attrib, etree.tostring(m.element)))
        else:
            out.append(m)
    return out


def feed_all(data: bytes, chunks: list[int] | None = None, **kwargs) -> list:
    stream = XmlStream(**kwargs)
    if chunks is None:
        return stream.feed(data)
    out = []
    pos = 0
    for size in chunks:
        out += stream.feed(data[pos : pos + size])
        pos += size
    out += stream.feed(data[pos:])
    return out


def feed_bytewise(data: bytes, **kwargs) -> list:
    stream = XmlStream(**kwargs)
    out = []
    for i in range(len(data)):
        out += stream.feed(data[i : i + 1])
    return out


GOOD = b'<newNumberVector device="My Focuser" name="ABS_FOCUS_POSITION"><oneNumber name="FOCUS_ABSOLUTE_POSITION">51000</oneNumber></newNumberVector>'
GOOD_MSG = NewVector(
    kind="Number",
    device="My Focuser",
    name="ABS_FOCUS_POSITION",
    members=(("FOCUS_ABSOLUTE_POSITION", "51000"),),
    timestamp=None,
    member_attrs=({"name": "FOCUS_ABSOLUTE_POSITION"},),
)

# What a driver realistically receives from indiserver (plus the extras clients and
# libindi-based writers produce: declarations, comments, indentation).
REALISTIC = b"""<getProperties version="1.7"/>
<getProperties version='1.7' device="My Focuser"/>
<?xml version='1.0'?>
<!-- a comment, with <tags> and "quotes" -->
<newSwitchVector device="My Focuser" name="CONNECTION">
    <oneSwitch name="CONNECT">
On
    </oneSwitch>
    <oneSwitch name="DISCONNECT">
Off
    </oneSwitch>
</newSwitchVector>
<newNumberVector device="My Focuser" name="ABS_FOCUS_POSITION" timestamp="2026-11-21T04:58:16">
  <oneNumber name="FOCUS_ABSOLUTE_POSITION">
      51000
  </oneNumber>
</newNumberVector>
<newTextVector device="My Focuser" name="NOTES"><oneText name="A">a &amp; b &lt; c &gt; &quot;d&quot; &apos;e&apos; \xc2\xb0</oneText></newTextVector>
<setNumberVector device="Telescope Simulator" name="EQUATORIAL_EOD_COORD" state="Idle" timeout="60" timestamp="2026-11-21T04:58:16">
    <oneNumber name="RA">
2.9858051421373752454
    </oneNumber>
    <oneNumber name="DEC">
90
    </oneNumber>
</setNumberVector>
<message device="Telescope Simulator" timestamp="2026-11-21T04:58:16" message="[INFO] a > b, 'quoted'"/>
<delProperty device="Other" name="PROP"/>
<newBLOBVector device="My Focuser" name="UPLOAD"><oneBLOB name="FILE" size="6" format=".txt">
aGVsbG8K
</oneBLOB></newBLOBVector>
<enableBLOB device="My Focuser">Also</enableBLOB>
<pingRequest uid="42"/><x a='1>0' b="2>1"><![CDATA[ a<b ]]></x>
<getProperties version="1.7" device="My Focuser" name="CONNECTION" />
"""


def expected_realistic() -> list:
    return [
        GetProperties("1.7", None, None),
        GetProperties("1.7", "My Focuser", None),
        NewVector(
            "Switch",
            "My Focuser",
            "CONNECTION",
            (("CONNECT", "On"), ("DISCONNECT", "Off")),
            None,
            ({"name": "CONNECT"}, {"name": "DISCONNECT"}),
        ),
        NewVector(
            "Number",
            "My Focuser",
            "ABS_FOCUS_POSITION",
            (("FOCUS_ABSOLUTE_POSITION", "51000"),),
            "2026-11-21T04:58:16",
            ({"name": "FOCUS_ABSOLUTE_POSITION"},),
        ),
        NewVector(
            "Text",
            "My Focuser",
            "NOTES",
            (("A", "a & b < c > \"d\" 'e' \u00b0"),),
            None,
            ({"name": "A"},),
        ),
    ]


# ---------------------------------------------------------------------------
# framing
# ---------------------------------------------------------------------------


def test_realistic_stream_in_one_feed():
    msgs = feed_all(REALISTIC)
    assert not any(isinstance(m, MalformedMessage) for m in msgs), msgs
    assert msgs[:5] == expected_realistic()
    snooped = msgs[5]
    assert isinstance(snooped, OtherMessage)
    assert snooped.tag == "setNumberVector"
    assert snooped.attrib["device"] == "Telescope Simulator"
    assert [(c.get("name"), c.text.strip()) for c in snooped.element] == [
        ("RA", "2.9858051421373752454"),
        ("DEC", "90"),
    ]
    assert [(m.tag, m.attrib) for m in msgs[6:8]] == [
        (
            "message",
            {
                "device": "Telescope Simulator",
                "timestamp": "2026-11-21T04:58:16",
                "message": "[INFO] a > b, 'quoted'",
            },
        ),
        ("delProperty", {"device": "Other", "name": "PROP"}),
    ]
    assert msgs[8] == NewVector(
        "BLOB",
        "My Focuser",
        "UPLOAD",
        (("FILE", "aGVsbG8K"),),
        None,
        ({"name": "FILE", "size": "6", "format": ".txt"},),
    )
    assert msgs[9] == EnableBLOB("My Focuser", None, "Also")
    assert (msgs[10].tag, msgs[10].attrib) == ("pingRequest", {"uid": "42"})
    x = msgs[11]
    assert (x.tag, x.attrib, x.element.text) == ("x", {"a": "1>0", "b": "2>1"}, " a<b ")
    assert msgs[12] == GetProperties("1.7", "My Focuser", "CONNECTION")
    assert len(msgs) == 13


def test_realistic_stream_split_at_every_byte_boundary():
    reference = norm(feed_all(REALISTIC))
    for i in range(len(REALISTIC) + 1):
        stream = XmlStream()
        got = stream.feed(REALISTIC[:i]) + stream.feed(REALISTIC[i:])
        assert norm(got) == reference, f"split at byte {i}"
        assert stream.buffered_bytes == 0


def test_realistic_stream_fed_one_byte_at_a_time():
    assert norm(feed_bytewise(REALISTIC)) == norm(feed_all(REALISTIC))


NOISY = (
    b"<getProperties version='1.7'/>  stray words here \n"
    + GOOD
    + b"\n</unbalanced>\n<a><b></a>\n<!DOCTYPE d [<!ENTITY e \"x>y\">]>\n<lol>&e;</lol>"
    + b"<![CDATA[top]]>\n"
    + b'<newNumberVector device="D" name="N"><oneNumber name="A">1</oneNumber>'
    + GOOD
    + b"<x y='1' <z/>\n"
    + GOOD
    + b"\n"
)


def test_noisy_stream_is_independent_of_read_boundaries():
    raw = feed_all(NOISY)
    reference = norm(raw)
    kinds = [type(m).__name__ for m in raw]
    assert kinds == [
        "GetProperties",
        "MalformedMessage",  # stray words
        "NewVector",
        "MalformedMessage",  # </unbalanced>
        "MalformedMessage",  # <a><b></a>
        "MalformedMessage",  # DOCTYPE
        "MalformedMessage",  # &e; undefined
        "MalformedMessage",  # CDATA at top level
        "MalformedMessage",  # unterminated newNumberVector
        "NewVector",
        "MalformedMessage",  # broken tag
        "OtherMessage",  # <z/> after the broken tag
        "NewVector",
    ], reference
    assert reference[1].excerpt == "stray words here"
    for i in range(len(NOISY) + 1):
        stream = XmlStream()
        assert norm(stream.feed(NOISY[:i]) + stream.feed(NOISY[i:])) == reference, i
    assert norm(feed_bytewise(NOISY)) == reference


def test_several_messages_in_one_feed_and_partial_tail():
    stream = XmlStream()
    data = GOOD + GOOD + b'<getProperties version="1.7"/>' + GOOD[:40]
    msgs = stream.feed(data)
    assert msgs == [GOOD_MSG, GOOD_MSG, GetProperties("1.7", None, None)]
    assert stream.buffered_bytes == 40
    assert stream.feed(GOOD[40:]) == [GOOD_MSG]
    assert stream.buffered_bytes == 0


def test_declarations_comments_and_whitespace_between_messages():
    data = (
        b"<?xml version='1.0'?>\n"
        + GOOD
        + b"\r\n\t  <!-- <newNumberVector> inside a comment -->\n<?xml version='1.0' encoding='UTF-8'?>"
        + b"<?other pi with > inside?>"
        + GOOD
        + b"\n\n"
    )
    assert feed_all(data) == [GOOD_MSG, GOOD_MSG]
    assert feed_bytewise(data) == [GOOD_MSG, GOOD_MSG]


def test_attributes_with_gt_and_quotes_inside():
    data = b"""<newTextVector device='a>b "c"' name="x>y 'z'"><oneText name="T" extra='/>'>v</oneText></newTextVector>"""
    expected = NewVector(
        "Text", 'a>b "c"', "x>y 'z'", (("T", "v"),), None, ({"name": "T", "extra": "/>"},)
    )
    assert feed_all(data) == [expected]
    assert feed_bytewise(data) == [expected]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'<getProperties version="1.7"/>', GetProperties("1.7", None, None)),
        (b"<getProperties/>", GetProperties(None, None, None)),
        (b'<getProperties version="1.7" device="Dev"/>', GetProperties("1.7", "Dev", None)),
        (
            b'<getProperties version="1.7" device="Dev" name="PROP"></getProperties>',
            GetProperties("1.7", "Dev", "PROP"),
        ),
        (b'<getProperties\n   version="1.7"\n   device="A B" />', GetProperties("1.7", "A B", None)),
    ],
)
def test_get_properties(data, expected):
    assert feed_all(data) == [expected]


def test_new_number_vector_partial_members_and_indented_text():
    # indi_setprop / indiserver style: value on its own indented line.
    data = b"""<newNumberVector device="Telescope" name="EQUATORIAL_EOD_COORD">
  <oneNumber name="DEC">
    -12:30:36
  </oneNumber>
</newNumberVector>
"""
    (msg,) = feed_all(data)
    assert msg == NewVector(
        "Number", "Telescope", "EQUATORIAL_EOD_COORD", (("DEC", "-12:30:36"),), None, ({"name": "DEC"},)
    )
    assert parse_number(msg.members[0][1]) == pytest.approx(-12.51)


def test_new_vector_keeps_duplicates_and_order_and_allows_no_members():
    data = (
        b'<newSwitchVector device="D" name="S"><oneSwitch name="B">Off</oneSwitch>'
        b'<oneSwitch name="A">On</oneSwitch><oneSwitch name="B">On</oneSwitch>'
        b"<oneSwitch>On</oneSwitch></newSwitchVector>"
        b'<newSwitchVector device="D" name="S"/>'
    )
    first, second = feed_all(data)
    assert first.kind == "Switch"
    assert first.members == (("B", "Off"), ("A", "On"), ("B", "On"), (None, "On"))
    assert second == NewVector("Switch", "D", "S", (), None, ())


def test_new_text_vector_unescapes_entities():
    data = b'<newTextVector device="D" name="T"><oneText name="X">fish &amp; chips &lt;&gt; &quot;q&quot; &apos;a&apos; &#176;</oneText></newTextVector>'
    (msg,) = feed_all(data)
    assert msg.members == (("X", "fish & chips <> \"q\" 'a' \u00b0"),)


def test_enable_blob():
    data = b'<enableBLOB device="CCD" name="CCD1">\n  Also\n</enableBLOB><enableBLOB device="CCD">Never</enableBLOB>'
    assert feed_all(data) == [EnableBLOB("CCD", "CCD1", "Also"), EnableBLOB("CCD", None, "Never")]


def test_unknown_and_snooped_elements_are_other_messages():
    data = b"""<defNumberVector device="Focuser Simulator" name="ABS_FOCUS_POSITION" label="Absolute Position" group="Main Control" state="Ok" perm="rw" timeout="60" timestamp="2026-11-21T04:58:16">
    <defNumber name="FOCUS_ABSOLUTE_POSITION" label="Steps" format="%.f" min="0" max="100000" step="1000">
50000
    </defNumber>
</defNumberVector>
<somethingNew a="1"><child/></somethingNew>"""
    snoop, unknown = feed_all(data)
    assert isinstance(snoop, OtherMessage)
    assert snoop.tag == "defNumberVector"
    assert snoop.attrib["perm"] == "rw"
    member = snoop.element.find("defNumber")
    assert member.get("format") == "%.f"
    assert member.text.strip() == "50000"
    assert isinstance(unknown, OtherMessage)
    assert (unknown.tag, unknown.attrib) == ("somethingNew", {"a": "1"})
    assert [c.tag for c in unknown.element] == ["child"]
    # Both were parsed in one batch; neither may expose the synthetic wrapper root.
    assert snoop.element.getparent() is None
    assert unknown.element.getparent() is None


def test_truncated_indi_command_does_not_swallow_the_next_one():
    data = (
        b'<newNumberVector device="D" name="N"><oneNumber name="A">1'
        + b'<getProperties version="1.7"/>'
        + GOOD
        + b"<foo><getProperties/></foo>"  # unknown elements may contain anything
    )
    for msgs in (feed_all(data), feed_bytewise(data)):
        assert isinstance(msgs[0], MalformedMessage)
        assert "<newNumberVector> was not closed before <getProperties>" in msgs[0].reason
        assert msgs[1:3] == [GetProperties("1.7", None, None), GOOD_MSG]
        assert msgs[3].tag == "foo" and msgs[3].element[0].tag == "getProperties"
        assert len(msgs) == 4


# ---------------------------------------------------------------------------
# malformed input and recovery
# ---------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ELEMENT lolz (#PCDATA)>
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""

BROKEN_INPUTS = {
    "mismatched tag": b'<newNumberVector device="X" name="Y"><oneNumber name="A">1</oneText></newNumberVector>',
    "unescaped ampersand": b'<newTextVector device="X" name="T"><oneText name="A">fish & chips</oneText></newTextVector>',
    "undefined entity": b'<newTextVector device="X" name="T"><oneText name="A">&foo;</oneText></newTextVector>',
    "billion laughs": BILLION_LAUGHS,
    "top-level ENTITY": b'<!ENTITY xxe SYSTEM "file:///etc/passwd">',
    "DOCTYPE inside message": b'<newTextVector device="X" name="T"><!DOCTYPE x [<!ENTITY e "boom">]><oneText name="A">&e;</oneText></newTextVector>',
    "ENTITY inside message": b'<newTextVector device="X" name="T"><!ENTITY e "boom"><oneText name="A">x</oneText></newTextVector>',
    "unbalanced close tag": b"</newNumberVector>",
    "stray text": b"this is not XML at all ><",
    "unterminated message": b'<newNumberVector device="X" name="Y"><oneNumber name="A">1</oneNumber>',
    "truncated inside a tag": b'<newNumberVector device="X" name="Y"><oneNumber name="A',
    "truncated inside a quoted value": b'<newTextVector device="X" name="Y',
    "wrong member type": b'<newSwitchVector device="X" name="S"><oneNumber name="A">On</oneNumber></newSwitchVector>',
    "element inside member": b'<newTextVector device="X" name="T"><oneText name="A"><b>x</b></oneText></newTextVector>',
    "duplicate attribute": b'<getProperties version="1.7" version="1.6"/>',
    "garbage in tag": b'<getProperties version="1.7" device=/>',
    "lone less-than": b"< notatag >",
    "top-level CDATA": b"<![CDATA[ top-level ]]>",
    "undefined namespace prefix": b"<x:y/>",
    "invalid character reference": b"<a>&#0;</a>",
    "invalid UTF-8": b"<a>\xff\xfe</a>",
    "missing attribute quotes": b"<getProperties version=1.7/>",
}


@pytest.mark.parametrize("broken", list(BROKEN_INPUTS.values()), ids=list(BROKEN_INPUTS))
def test_malformed_input_is_reported_and_next_message_recovered(broken):
    data = broken + b"\n" + GOOD + b"\n"
    for msgs in (feed_all(data), feed_bytewise(data)):
        assert msgs[-1] == GOOD_MSG, msgs
        assert len(msgs) >= 2
        assert all(isinstance(m, MalformedMessage) for m in msgs[:-1]), msgs
        for m in msgs[:-1]:
            assert m.reason
            assert len(m.excerpt) <= 120


@pytest.mark.parametrize(
    ("broken", "reason_part"),
    [
        (BROKEN_INPUTS["mismatched tag"], "not well-formed XML"),
        (BROKEN_INPUTS["undefined entity"], "foo"),
        (BROKEN_INPUTS["top-level ENTITY"], "entity declarations are not allowed"),
        (BROKEN_INPUTS["DOCTYPE inside message"], "entity declarations are not allowed"),
        (BROKEN_INPUTS["unbalanced close tag"], "unbalanced close tag </newNumberVector>"),
        (BROKEN_INPUTS["stray text"], "stray text"),
        (BROKEN_INPUTS["wrong member type"], "oneNumber"),
        (BROKEN_INPUTS["unterminated message"], "not closed"),
    ],
)
def test_malformed_reasons_say_what_was_wrong(broken, reason_part):
    msgs = feed_all(broken + GOOD)
    assert reason_part in msgs[0].reason
    assert msgs[-1] == GOOD_MSG


def test_billion_laughs_is_never_expanded():
    msgs = feed_all(BILLION_LAUGHS)
    assert len(msgs) == 2
    assert all(isinstance(m, MalformedMessage) for m in msgs)
    assert "entity declarations are not allowed" in msgs[0].reason
    assert msgs[0].excerpt.startswith("<!DOCTYPE lolz [")
    assert "lol3" in msgs[1].reason  # undefined without the DTD


def test_one_bad_message_does_not_take_good_ones_in_the_same_feed_with_it():
    data = GOOD + BROKEN_INPUTS["unescaped ampersand"] + b'<getProperties version="1.7"/>' + GOOD
    msgs = feed_all(data)
    assert msgs[0] == GOOD_MSG
    assert isinstance(msgs[1], MalformedMessage)
    assert "not well-formed XML" in msgs[1].reason
    assert msgs[1].excerpt == BROKEN_INPUTS["unescaped ampersand"][:120].decode()
    assert msgs[2:] == [GetProperties("1.7", None, None), GOOD_MSG]


def test_stray_text_is_reported_once_per_run():
    stream = XmlStream()
    out = []
    for chunk in (b"  junk ", b"more junk\n", b"and more ", GOOD, b" tail"):
        out += stream.feed(chunk)
    assert out[0] == MalformedMessage(
        "stray text outside of any element was dropped", "junk more junk\nand more"
    )
    assert out[1:] == [GOOD_MSG]


def test_feed_of_nothing():
    stream = XmlStream()
    assert stream.feed(b"") == []
    assert stream.feed(b"\n \n") == []
    assert stream.buffered_bytes == 0


# ---------------------------------------------------------------------------
# size limit
# ---------------------------------------------------------------------------

LIMIT = 1000
BLOB_HEAD = b'<newBLOBVector device="CCD" name="UPLOAD"><oneBLOB name="FILE" size="75000" format=".fits">'
BLOB_TAIL = b"</oneBLOB></newBLOBVector>"


def test_oversized_message_fed_in_many_chunks_is_skipped_without_buffering():
    stream = XmlStream(max_message_bytes=LIMIT)
    out = stream.feed(b'<getProperties version="1.7"/>\n' + BLOB_HEAD)
    assert out == [GetProperties("1.7", None, None)]
    for _ in range(100):
        out += stream.feed(b"QUJD" * 250)  # 1000 bytes of base64 per read
        assert stream.buffered_bytes <= LIMIT + 300
    out += stream.feed(BLOB_TAIL + b"\n" + GOOD + b"\n")
    assert stream.buffered_bytes == 0
    assert out[0] == GetProperties("1.7", None, None)
    assert len(out) == 3, out
    malformed = out[1]
    assert isinstance(malformed, MalformedMessage)
    assert "exceeds 1000 bytes" in malformed.reason
    assert malformed.excerpt == (BLOB_HEAD + b"QUJD" * 250)[:120].decode()
    assert out[2] == GOOD_MSG


def test_oversized_message_in_one_feed_is_reported_the_same_way():
    data = BLOB_HEAD + b"QUJD" * 25000 + BLOB_TAIL + GOOD
    single = feed_all(data, max_message_bytes=LIMIT)
    chunked = feed_all(data, [997] * 110, max_message_bytes=LIMIT)
    assert single == chunked
    assert len(single) == 2
    assert "exceeds 1000 bytes" in single[0].reason
    assert single[1] == GOOD_MSG


def test_size_limit_boundary():
    exact = GOOD
    stream = XmlStream(max_message_bytes=len(exact))
    assert stream.feed(exact) == [GOOD_MSG]
    stream = XmlStream(max_message_bytes=len(exact) - 1)
    (msg,) = stream.feed(exact)
    assert isinstance(msg, MalformedMessage)
    assert f"exceeds {len(exact) - 1} bytes" in msg.reason


def test_oversized_tag_and_runaway_comment_are_bounded_and_recovered():
    stream = XmlStream(max_message_bytes=LIMIT)
    out = stream.feed(b'<newTextVector device="')
    for _ in range(50):
        out += stream.feed(b"x" * 500)
        assert stream.buffered_bytes <= LIMIT + 300
    out += stream.feed(b'" name="T"><oneText name="A">v</oneText></newTextVector>' + GOOD)
    assert len(out) == 2 and "exceeds" in out[0].reason and out[1] == GOOD_MSG

    stream = XmlStream(max_message_bytes=LIMIT)
    out = stream.feed(b"<!-- never closed ")
    for _ in range(50):
        out += stream.feed(b"y" * 500)
        assert stream.buffered_bytes <= LIMIT + 300
    out += stream.feed(b"\n" + GOOD)
    assert out[-1] == GOOD_MSG
    assert "exceeds" in out[0].reason
    assert all(isinstance(m, MalformedMessage) for m in out[:-1])


def test_invalid_limit():
    with pytest.raises(ValueError):
        XmlStream(max_message_bytes=0)


# ---------------------------------------------------------------------------
# property-based
# ---------------------------------------------------------------------------

SAFE_NAME = string.ascii_letters + string.digits + "_"
names = st.text(SAFE_NAME, min_size=1, max_size=16)
device_names = st.text(SAFE_NAME + " .-", min_size=1, max_size=24)
text_values = st.text(
    st.one_of(
        st.sampled_from(list("&<>\"';:# \t\n\r]]>")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=40,
).map(sanitize_text)


@st.composite
def new_vectors(draw):
    kind = draw(st.sampled_from(["Number", "Switch", "Text", "BLOB"]))
    device = draw(device_names)
    name = draw(names)
    timestamp = draw(st.none() | st.just("2026-11-21T04:58:16"))
    members = draw(st.lists(st.tuples(names, text_values), max_size=5))
    el = etree.Element(f"new{kind}Vector", device=device, name=name)
    if timestamp is not None:
        el.set("timestamp", timestamp)
    for member_name, value in members:
        child = etree.SubElement(el, f"one{kind}", name=member_name)
        child.text = value
    expected = NewVector(
        kind,
        device,
        name,
        tuple((n, v.strip()) for n, v in members),
        timestamp,
        tuple({"name": n} for n, _ in members),
    )
    return serialize(el), expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(new_vectors(), min_size=1, max_size=6), st.data())
def test_new_vector_round_trip_in_random_chunks(vectors, data):
    wire = b"".join(raw for raw, _ in vectors)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    stream = XmlStream()
    out = []
    prev = 0
    for cut in cuts + [len(wire)]:
        out += stream.feed(wire[prev:cut])
        prev = cut
    assert out == [expected for _, expected in vectors]
    assert stream.buffered_bytes == 0


xmlish_bytes = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"<", b">", b"/", b"/>", b"</", b'"', b"'", b"=", b" ", b"\n", b"&", b";",
                b"<!--", b"-->", b"<?", b"?>", b"<![CDATA[", b"]]>", b"<!DOCTYPE", b"<!ENTITY",
                b"[", b"]", b"a", b"getProperties", b"newNumberVector", b"oneNumber", b"\xff",
            ]
        ),
        st.binary(max_size=8),
    ),
    max_size=80,
).map(b"".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=600), xmlish_bytes), st.lists(st.integers(0, 600), max_size=10))
def test_feed_never_raises_on_arbitrary_bytes(garbage, cuts):
    limit = 200
    stream = XmlStream(max_message_bytes=limit)
    prev = 0
    for cut in sorted(c for c in cuts if c <= len(garbage)) + [len(garbage)]:
        for m in stream.feed(garbage[prev:cut]):
            assert isinstance(m, (GetProperties, NewVector, EnableBLOB, OtherMessage, MalformedMessage))
            if isinstance(m, MalformedMessage):
                assert isinstance(m.reason, str) and m.reason
                assert len(m.excerpt) <= 120
        assert stream.buffered_bytes <= limit + 300
        prev = cut


@settings(max_examples=100)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_wire_number_round_trips_exactly_without_a_usable_format(value):
    assert parse_number(format_number_wire(value, "")) == value + 0.0


@settings(max_examples=200)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_sexagesimal_display_and_wire_parse_back(value):
    assert parse_number(format_number_display(value, "%010.6m")) == pytest.approx(value, abs=0.5 / 3600 + 1e-9)
    assert parse_number(format_number_display(value, "%12.9m")) == pytest.approx(value, abs=0.005 / 3600 + 1e-9)
    assert parse_number(format_number_wire(value, "%010.6m")) == pytest.approx(value, abs=1e-10, rel=1e-12)


@given(st.text())
def test_sanitized_text_is_always_accepted_by_lxml(text):
    clean = sanitize_text(text)
    el = etree.Element("oneText", name=clean)
    el.text = clean
    assert sanitize_text(clean) == clean
    (msg,) = XmlStream().feed(serialize(etree.Element("message", message=clean)))
    assert msg.attrib["message"] == clean


# ---------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (51000, "%.f", "51000"),
        (51000.4, "%.0f", "51000"),
        (7.6, "%3.0f", "8"),
        (3.14159, "%.2f", "3.14"),
        (3.14159, "%6.2f", "3.14"),
        (3.14159, "%f", "3.141590"),
        (5.0, "%5.2lf", "5.00"),
        (1.5, "%+8.1f", "1.5"),
        (0.000123, "%g", "0.000123"),
        (123456789.0, "%g", "1.23457e+08"),
        (51000, "%.3g", "5.1e+04"),
        (1234.5, "%e", "1.234500e+03"),
        (1234.5, "%10.2E", "1.23E+03"),
        (12.5, "%d", "13"),
        (-12.5, "%i", "-13"),
        (12.4, "%d", "12"),
        (12.5, "%010.6m", "12.5"),
        (-0.5, "%9.6m", "-0.5"),
        (1 / 3, "%012.8m", "0.3333333333"),
        (12.0, "%7.3m", "12"),
        (-123.75, "%7.3m", "-123.75"),
        (-0.0, "%.2f", "0.00"),
        (-0.001, "%.2f", "0.00"),
        (-0.0, "%g", "0"),
        (-0.4, "%d", "0"),
        (-1e-12, "%010.6m", "0"),
        (0.1, "bogus", "0.1"),
        (51000.0, "", "51000"),
        (1e22, "%s", "1e+22"),
        (255, "%x", "255"),
        (2.0, "%5.2q", "2"),
    ],
)
def test_format_number_wire(value, fmt, expected):
    assert format_number_wire(value, fmt) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fmt", ["%g", "%.2f", "%010.6m", "%d", "bogus"])
def test_format_number_wire_rejects_non_finite(value, fmt):
    with pytest.raises(ValueError):
        format_number_wire(value, fmt)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        # examples from libindi's indiapi.h
        (-123.75, "%7.3m", "-123:45"),
        (0.0172222, "%9.6m", "  0:01:02"),
        # sign kept when the whole part is zero
        (-0.5, "%9.6m", " -0:30:00"),
        (-0.5, "%5.3m", "-0:30"),
        (-0.5, "%6.3m", " -0:30"),
        (12.5, "%010.6m", "  12:30:00"),
        (-12.51, "%010.6m", " -12:30:36"),
        (45.5125, "%012.8m", "  45:30:45.0"),
        (1 + 2 / 60 + 3.25 / 3600, "%12.9m", "  1:02:03.25"),
        (12.51, "%8.5m", " 12:30.6"),
        (23.9999999, "%6.3m", " 24:00"),
        (5.0, "%4.3m", "5:00"),
        # printf formats as printf would
        (3.14159, "%6.2f", "  3.14"),
        (51000, "%.f", "51000"),
        (5, "%03d", "005"),
        (1234.5, "%g", "1234.5"),
        (0.5, "%5.1f%%", "  0.5%"),
        (2.0, "%-6.1f|", "2.0   |"),
        (0.1, "bogus", "0.1"),
    ],
)
def test_format_number_display(value, fmt, expected):
    assert format_number_display(value, fmt) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("51000", 51000.0),
        ("51000.0", 51000.0),
        ("5.1e4", 51000.0),
        (" 12.5 ", 12.5),
        ("\n  12.5\n", 12.5),
        ("-7", -7.0),
        ("+3.5", 3.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-3", 0.001),
        ("12:30:00", 12.5),
        ("12;30;00", 12.5),
        ("12 30 00", 12.5),
        ("12: 30 :00", 12.5),
        ("-0:30", -0.5),
        ("-0:30:00", -0.5),
        ("-12:30:36", -12.51),
        ("12:30", 12.5),
        ("12:30.5", 12 + 30.5 / 60),
        ("0:0:36", 0.01),
        ("23:59:59.99", 23 + 59 / 60 + 59.99 / 3600),
        ("+1:00", 1.0),
    ],
)
def test_parse_number_valid(text, expected):
    assert parse_number(text) == pytest.approx(expected, rel=1e-15, abs=1e-15)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "1,5",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "1e999",
        "12:60",
        "12:30:60",
        "12:-30",
        "1:2:3:4",
        "12:",
        ":30",
        "12::30",
        "12.5:30",
        "12:30.5:10",
        "0x10",
        "1_000",
        "\u0661\u0662",
        "12h30m",
        "- 12 30",
        "1 2 3 4",
    ],
)
def test_parse_number_invalid(text):
    with pytest.raises(ValueError) as info:
        parse_number(text)
    assert str(info.value)


# ---------------------------------------------------------------------------
# serialization helpers
# ---------------------------------------------------------------------------

NASTY = "a&b<c>d\"e'f ]]> &amp;"


def test_serialize_escapes_attributes_and_text():
    el = etree.Element("setTextVector", device=NASTY, name="T")
    child = etree.SubElement(el, "oneText", name="X")
    child.text = NASTY
    el.tail = "must not appear"
    data = serialize(el)
    assert data.endswith(b">\n")
    assert not data.startswith(b"<?xml")
    assert b"must not appear" not in data
    assert b'device="a&amp;b&lt;c&gt;d&quot;e\'f ]]&gt; &amp;amp;"' in data
    assert b">a&amp;b&lt;c&gt;d\"e'f ]]&gt; &amp;amp;</oneText>" in data
    # Nothing unescaped can leak into the markup: the only '<' are the tags.
    assert data.count(b"<") == 4
    # ... and it reads back losslessly.
    (msg,) = XmlStream().feed(data)
    assert msg.attrib["device"] == NASTY
    assert msg.element[0].text == NASTY


def test_serialize_utf8_and_single_newline():
    el = etree.Element("message", device="D", message="\u00b0 \u2013 ok")
    data = serialize(el)
    assert data == '<message device="D" message="\u00b0 \u2013 ok"/>\n'.encode()


def test_sanitize_text_removes_xml_illegal_characters():
    raw = "a\x00b\x01c\x08d\te\nf\rg\x0bh\x0ci\x0ej\x1fk\x7fl\ufffem\uffffn\ud800o\U0001f600"
    assert sanitize_text(raw) == "abcd\te\nf\rghijk\x7flmno\U0001f600"
    assert sanitize_text("plain") == "plain"
    el = etree.Element("message")
    el.set("message", sanitize_text(raw))  # must not raise


def test_timestamp_now_is_libindi_utc_format():
    stamp = timestamp_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stamp)
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - parsed).total_seconds()) < 5


@pytest.mark.parametrize(
    "text",
    ["2026-12-07T10:20:30", " 2026-12-07T10:20:30 ", "2026/12/07T10:20:30", "2026-12-07T10:20:30Z", "2026-12-07T10:20:30.75"],
)
def test_parse_timestamp_reads_what_clients_send(text: str):
    assert parse_timestamp(text) == datetime(2026, 12, 7, 10, 20, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-12-07", "2026-13-07T10:20:30", "2026-12-07 10:20:30"])
def test_parse_timestamp_refuses_other_text(text: str):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_format_and_parse_timestamp_round_trip():
    assert format_timestamp(1_796_638_830.4) == "2026-12-07T10:20:30"
    assert parse_timestamp(format_timestamp(1_796_638_830.4)).timestamp() == 1_796_638_830


def test_module_does_not_import_async_or_io_libraries():
    tree = ast.parse(Path(xmlstream.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"trio", "asyncio", "socket", "anyio", "selectors"}
