"""The cases of the client-input campaign (client_fuzz.py) as hypothesis strategies, built from a driver's own
property definitions: each case is the bytes a client sends (made when it runs, from the property's current range and
values) and what the driver must do with them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from input_rigs import Definition, Rig, vector_xml

from indi_astrojolo.indi.xmlstream import parse_number

# What the driver must do with a case.
REFUSED = "refused"  # Alert on the named property, with a message naming the problem
MESSAGE = "message"  # no property to put in Alert (unknown property, no device named): a message saying why
IGNORED = "ignored"  # for another device: indiserver drops it, nothing happens
MALFORMED = "malformed"  # not well-formed: if it reaches the driver, Alert on the property it names
ENTITY = "entity"  # entity tricks: nothing expanded; if the driver cannot read it, Alert as for MALFORMED
SURVIVE = "survive"  # junk naming no property: the driver carries on
ANSWERED = "answered"  # valid: the property comes back (an Alert carries its reason)

NUMBER_ALPHABET = set("0123456789+-.eE:; \t\r\n")
NUMBER_JUNK = ["12:xx:3", "1e309", "-1e309", "--5", "+-3", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "", " ",
               ".", "e5", "1e", "1.2.3", "12:60:00", "12:30:60", "1:2:3:4", "12.5:30", ":", "1::2", "-", "0x1A",
               "1_000", "1,5", "١٢", "５", "12h30m", "1e+", "--", "+", "12:-30"]  # fmt: skip
SWITCH_JUNK = ["on", "ON", "off", "OFF", "1", "0", "true", "false", "", "Of", "0n", "Off x", "Offf", "yes"]
# Characters XML allows and indiserver's parser passes through unchanged (no controls, surrogates or private use).
XML_TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"))
LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
EXPANDED_MARKS = ("lollollol", "root:")  # a billion-laughs expansion, or /etc/passwd's first line


@dataclass
class Case:
    category: str
    prop: str | None
    build: Callable[[Rig], bytes]
    expect: str
    reasons: tuple[str, ...] = ()
    own_connection: bool = False
    sent: bytes = b""
    state_before: str | None = None  # the named property's state when the case was sent

    def describe(self) -> str:
        return f"{self.category} {self.prop or '-'}: {self.sent[:200]!r}{'…' if len(self.sent) > 200 else ''}"


# --- building requests -----------------------------------------------------------------------------------------


def definition(rig: Rig, name: str) -> Definition:
    for candidate in rig.definitions():
        if candidate.name == name:
            return candidate
    raise LookupError(f"{name} is no longer defined")


def number_text(value: float) -> str:
    return repr(float(value))


def member_value(d: Definition, member: str, rig: Rig) -> str:
    """A value the member accepts: its current one."""
    current = rig.current(d.name).get(member)
    if d.kind == "Number":
        return number_text(current if current is not None else d.members[member].minimum)
    if d.kind == "Switch":
        return "On" if current else "Off"
    return "" if current is None else str(current)


def simple(kind: str, name: str, members: Callable[[Rig], list[tuple[str | None, str]]]) -> Callable[[Rig], bytes]:
    return lambda rig: vector_xml(kind, rig.device, name, members(rig))


def names(d: Definition) -> list[str]:
    return list(d.members)


# --- invalid requests ------------------------------------------------------------------------------------------


def unknown_member(d: Definition) -> st.SearchStrategy[Case]:
    bogus = st.text(XML_TEXT, max_size=24).filter(lambda s: s not in d.members)
    return bogus.map(
        lambda member: Case("unknown member", d.name, simple(d.kind, d.name, lambda rig: [(member, "1")]), REFUSED, ("has no member",))
    )


def wrong_kind(d: Definition) -> st.SearchStrategy[Case]:
    kinds = [k for k in ("Number", "Switch", "Text", "BLOB") if k != d.kind]
    text = {"Number": "1", "Switch": "On", "Text": "x", "BLOB": "eA=="}
    return st.sampled_from(kinds).map(
        lambda kind: Case(
            "wrong kind", d.name, simple(kind, d.name, lambda rig: [(m, text[kind]) for m in names(d)]), REFUSED,
            ("property, but a new",),
        )
    )  # fmt: skip


def duplicate_member(d: Definition) -> st.SearchStrategy[Case]:
    return st.sampled_from(names(d)).map(
        lambda member: Case(
            "duplicate member", d.name,
            lambda rig: vector_xml(d.kind, rig.device, d.name, [(member, member_value(d, member, rig))] * 2),
            REFUSED, ("given twice",),
        )
    )  # fmt: skip


def no_members(d: Definition) -> st.SearchStrategy[Case]:
    return st.just(Case("no members", d.name, simple(d.kind, d.name, lambda rig: []), REFUSED, ("has no members",)))


def nameless_member(d: Definition) -> st.SearchStrategy[Case]:
    return st.just(Case("nameless member", d.name, simple(d.kind, d.name, lambda rig: [(None, "1")]), REFUSED, ("has no name",)))


def number_junk(d: Definition) -> st.SearchStrategy[Case]:
    random_junk = st.text(XML_TEXT, min_size=1, max_size=16).filter(lambda s: any(c not in NUMBER_ALPHABET for c in s))
    junk = st.one_of(st.sampled_from(NUMBER_JUNK), random_junk)
    return st.tuples(st.sampled_from(names(d)), junk).map(
        lambda pair: Case(
            "number junk", d.name, simple("Number", d.name, lambda rig: [(pair[0], pair[1])]), REFUSED, ("is not a number",)
        )
    )


def number_out_of_range(d: Definition) -> st.SearchStrategy[Case]:
    beyond = st.one_of(st.floats(min_value=1e-6, max_value=1e6), st.floats(min_value=1e6, max_value=1e308))
    pick = st.tuples(st.sampled_from(names(d)), st.booleans(), beyond)

    def build(member: str, above: bool, delta: float) -> Callable[[Rig], bytes]:
        def make(rig: Rig) -> bytes:
            limits = definition(rig, d.name).members[member]
            value = limits.maximum + max(delta, abs(limits.maximum) * 1e-9) if above else limits.minimum - max(delta, abs(limits.minimum) * 1e-9)
            if not math.isfinite(value):
                value = math.copysign(1.7e308, value)
            return vector_xml("Number", rig.device, d.name, [(member, number_text(value))])

        return make

    return pick.map(lambda p: Case("number out of range", d.name, build(*p), REFUSED, ("outside the allowed range",)))


def switch_junk(d: Definition) -> st.SearchStrategy[Case]:
    random_junk = st.text(XML_TEXT, max_size=12).filter(lambda s: not s.strip().startswith("On") and s.strip() != "Off")
    junk = st.one_of(st.sampled_from(SWITCH_JUNK), random_junk)
    return st.tuples(st.sampled_from(names(d)), junk).map(
        lambda pair: Case(
            "switch junk", d.name, simple("Switch", d.name, lambda rig: [(pair[0], pair[1])]), REFUSED, ("must be On or Off",)
        )
    )


def switch_two_on(d: Definition) -> st.SearchStrategy[Case]:
    return st.lists(st.sampled_from(names(d)), min_size=2, max_size=len(d.members), unique=True).map(
        lambda on: Case(
            "two switches On", d.name, simple("Switch", d.name, lambda rig: [(m, "On") for m in on]), REFUSED,
            ("allows only one switch On",),
        )
    )  # fmt: skip


def switch_none_on(d: Definition) -> st.SearchStrategy[Case]:
    return st.just(
        Case("OneOfMany all Off", d.name, simple("Switch", d.name, lambda rig: [(m, "Off") for m in names(d)]), REFUSED,
             ("needs exactly one switch On",))
    )  # fmt: skip


def text_too_long(d: Definition) -> st.SearchStrategy[Case]:
    return st.tuples(st.sampled_from(names(d)), st.integers(4097, 60000)).map(
        lambda p: Case("text too long", d.name, simple("Text", d.name, lambda rig: [(p[0], "x" * p[1])]), REFUSED, ("longer than",))
    )


def read_only(d: Definition) -> st.SearchStrategy[Case]:
    kind = d.kind if d.kind != "Light" else "Switch"
    text = {"Number": "1", "Switch": "On", "Text": "x"}[kind]
    return st.just(
        Case("read-only", d.name, simple(kind, d.name, lambda rig: [(m, text) for m in names(d)]), REFUSED,
             ("is read-only", "property, but a new"))
    )  # fmt: skip


def unknown_property(_: object) -> st.SearchStrategy[Case]:
    return st.text(XML_TEXT, min_size=1, max_size=24).map(
        lambda name: Case(
            "unknown property", name, lambda rig: vector_xml("Number", rig.device, name, [("X", "1")]), MESSAGE,
            ("unknown property", "is not available"),
        )
    )  # fmt: skip


def wrong_device(d: Definition) -> st.SearchStrategy[Case]:
    def other(device: str) -> list[str]:
        return ["NexStar AUX" if device != "NexStar AUX" else "AstroLink 4 USB", device + " ", device.lower(), device[:-1], "*"]

    return st.integers(0, 4).map(
        lambda i: Case(
            "wrong device", d.name,
            lambda rig: vector_xml(d.kind, other(rig.device)[i], d.name, [(m, member_value(d, m, rig)) for m in names(d)]),
            IGNORED,
        )
    )  # fmt: skip


def missing_device(d: Definition) -> st.SearchStrategy[Case]:
    return st.sampled_from([None, ""]).map(
        lambda device: Case(
            "no device", d.name,
            lambda rig: vector_xml(d.kind, device, d.name, [(m, member_value(d, m, rig)) for m in names(d)]),
            MESSAGE, ("names no device",),
        )
    )  # fmt: skip


def many_members(d: Definition) -> st.SearchStrategy[Case]:
    return st.integers(100, 5000).map(
        lambda n: Case(
            "thousands of members", d.name, simple(d.kind, d.name, lambda rig: [(f"M{i}", "1") for i in range(n)]),
            REFUSED, ("has no member",),
        )
    )  # fmt: skip


# --- malformed XML (sent on a connection of its own: indiserver's parser may be left mid-element) ---------------


def start_tag(kind: str, device: str, name: str) -> str:
    return f'<new{kind}Vector device="{device}" name="{name}">'


def malformed(d: Definition) -> st.SearchStrategy[Case]:
    member = names(d)[0]
    kind, one = d.kind, f"one{d.kind}"

    def forms(device: str) -> dict[str, bytes]:
        head = start_tag(kind, device, d.name)
        tail = f"</new{kind}Vector>\n"
        return {
            "mismatched close tag": f'{head}<{one} name="{member}">1</oneBLOB>{tail}'.encode(),
            "unclosed element": f'{head}<{one} name="{member}">1</{one}>\n'.encode(),
            "control characters": f'{head}<{one} name="{member}">a\x01\x02\x1b</{one}>{tail}'.encode(),
            "invalid UTF-8": f'{head}<{one} name="{member}">'.encode() + b"\xff\xfe\xc3(" + f"</{one}>{tail}".encode(),
            "duplicate attribute": f'<new{kind}Vector device="{device}" name="{d.name}" name="X"><{one} name="{member}">1</{one}>{tail}'.encode(),
            "unexpected child": f'{head}<{one} name="{member}">1</{one}><bogus/>{tail}'.encode(),
            "nested markup": (f'{head}<{one} name="{member}">' + "<b>" * 300 + "</b>" * 300 + f"</{one}>{tail}").encode(),
            "unquoted attribute": f"<new{kind}Vector device={device.replace(' ', '_')} name={d.name}><{one} name={member}>1</{one}>{tail}".encode(),
            "truncated tag": f'<new{kind}Vector device="{device}" na'.encode(),
            "BLOB without size": f'<newBLOBVector device="{device}" name="{d.name}"><oneBLOB name="{member}">eA==</oneBLOB></newBLOBVector>\n'.encode(),
            "oversized": f'{head}<{one} name="{member}">'.encode() + b"7" * (1 << 20) + f"</{one}>{tail}".encode(),
        }  # fmt: skip

    return st.sampled_from(sorted(forms("D"))).map(
        lambda form: Case(f"malformed: {form}", d.name, lambda rig: forms(rig.device)[form], MALFORMED, ("alformed",), own_connection=True)
    )


def entity_tricks(d: Definition) -> st.SearchStrategy[Case]:
    member = names(d)[0]
    forms = {
        "billion laughs": (f'<!DOCTYPE lolz [<!ENTITY lol "lol">{LAUGHS}]>', "&lol9;"),
        "external entity": ('<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
        "parameter entity": ('<!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', "&p;"),
        "undefined entity": ("", "&nbsp;&deg;"),
        "numeric references": ("", "&#0;&#65;&#x1F600;&#xD800;"),
        "DOCTYPE inside": ("", '<!DOCTYPE x [<!ENTITY y "z">]>&y;'),
    }

    def build(form: str) -> Callable[[Rig], bytes]:
        prologue, text = forms[form]
        return lambda rig: (
            f'{prologue}{start_tag("Text", rig.device, d.name)}<oneText name="{member}">{text}</oneText></newTextVector>\n'
        ).encode()

    return st.sampled_from(sorted(forms)).map(
        lambda form: Case(f"entity: {form}", d.name, build(form), ENTITY, ("alformed",), own_connection=True)
    )


def junk(_: object) -> st.SearchStrategy[Case]:
    return st.binary(min_size=1, max_size=300).map(
        lambda data: Case("random bytes", None, lambda rig: data + b"\n", SURVIVE, own_connection=True)
    )


# --- valid requests --------------------------------------------------------------------------------------------


def valid_number(d: Definition) -> st.SearchStrategy[Case]:
    fraction = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))
    choice = st.lists(st.tuples(st.sampled_from(names(d)), fraction, st.booleans()), min_size=1, max_size=len(d.members), unique_by=lambda t: t[0])

    def build(picks: list[tuple[str, float, bool]]) -> Callable[[Rig], bytes]:
        def make(rig: Rig) -> bytes:
            members = definition(rig, d.name).members
            out = []
            for member, u, sexagesimal in picks:
                limits = members[member]
                value = limits.minimum + u * (limits.maximum - limits.minimum)
                value = min(max(value, limits.minimum), limits.maximum)
                out.append((member, sexa(value) if sexagesimal and "m" in limits.format and sexa_ok(value, limits) else number_text(value)))
            return vector_xml("Number", rig.device, d.name, out)

        return make

    return choice.map(lambda picks: Case("valid number", d.name, build(picks), ANSWERED))


def sexa(value: float) -> str:
    sign = "-" if value < 0 else ""
    seconds = round(abs(value) * 3600)
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def sexa_ok(value: float, limits: object) -> bool:
    parsed = parse_number(sexa(value))
    return limits.minimum <= parsed <= limits.maximum  # type: ignore[attr-defined]


def valid_switch(d: Definition) -> st.SearchStrategy[Case]:
    members = names(d)
    if d.rule == "AnyOfMany":
        states = st.lists(st.tuples(st.sampled_from(members), st.booleans()), min_size=1, unique_by=lambda t: t[0])
        return states.map(lambda s: Case("valid switch", d.name, simple("Switch", d.name, lambda rig: [(m, "On" if on else "Off") for m, on in s]), ANSWERED))
    options = st.sampled_from(members) if d.rule == "OneOfMany" else st.one_of(st.none(), st.sampled_from(members))
    return st.tuples(options, st.booleans()).map(
        lambda p: Case(
            "valid switch", d.name,
            simple("Switch", d.name, lambda rig: [(m, "On" if m == p[0] else "Off") for m in members if m == p[0] or p[1]] or [(members[0], "Off")]),
            ANSWERED,
        )
    )  # fmt: skip


def valid_text(d: Definition) -> st.SearchStrategy[Case]:
    # Text goes back as it is: arbitrary text could name a directory to create or a port to open.
    return st.lists(st.sampled_from(names(d)), min_size=1, unique=True).map(
        lambda chosen: Case("valid text (as it is)", d.name, lambda rig: vector_xml("Text", rig.device, d.name, [(m, member_value(d, m, rig)) for m in chosen]), ANSWERED)
    )  # fmt: skip


# --- the mix ---------------------------------------------------------------------------------------------------

# (category, applies to, strategy, weight); CONNECTION only gets invalid requests: a valid one would end the session.
Builder = Callable[[Definition], st.SearchStrategy[Case]]


def category_table() -> list[tuple[Callable[[Definition], bool], Builder, int]]:
    def writable(kind: str | None = None, rules: tuple[str, ...] = ()) -> Callable[[Definition], bool]:
        return lambda d: d.writable and (kind is None or d.kind == kind) and (not rules or d.rule in rules)

    return [
        (writable(), unknown_member, 2),
        (lambda d: d.kind != "Light", wrong_kind, 2),
        (writable(), duplicate_member, 1),
        (writable(), no_members, 1),
        (writable(), nameless_member, 1),
        (writable("Number"), number_junk, 4),
        (writable("Number"), number_out_of_range, 3),
        (writable("Switch"), switch_junk, 2),
        (lambda d: writable("Switch", ("OneOfMany", "AtMostOne"))(d) and len(d.members) > 1, switch_two_on, 2),
        (writable("Switch", ("OneOfMany",)), switch_none_on, 1),
        (writable("Text"), text_too_long, 1),
        (lambda d: not d.writable, read_only, 1),
        (writable(), unknown_property, 1),
        (writable(), wrong_device, 1),
        (writable(), missing_device, 1),
        (writable(), many_members, 1),
        (writable(), malformed, 3),
        (writable("Text"), entity_tricks, 2),
        (writable(), junk, 1),
        (lambda d: writable("Number")(d), valid_number, 4),
        (lambda d: writable("Switch")(d) and d.name != "CONNECTION", valid_switch, 3),
        (writable("Text"), valid_text, 1),
    ]


def case_strategy(definitions: list[Definition]) -> st.SearchStrategy[Case]:
    choices = []
    for applies, builder, weight in category_table():
        targets = sorted((d for d in definitions if applies(d)), key=lambda d: d.name)
        if targets:
            strategy = st.sampled_from(targets).flatmap(builder)
            choices += [strategy] * weight
    return st.sampled_from(range(len(choices))).flatmap(lambda i: choices[i])
