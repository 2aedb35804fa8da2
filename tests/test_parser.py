"""The condition parser: canonical forms, precedence, errors with positions, hostile text."""
from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor.compile.ast import And, Compare, FieldRef, FieldValue, Ident, Literal, Not, Or, ValueList
from sensor.compile.parser import (MAX_DEPTH, ParseError, literal_from_item, parse_condition,
                                   parse_field_at, parse_field_ref, parse_value_list)
from sensor.compile.printer import format_expr, quote

# (condition, canonical text)
GOLDEN = [
    ("evt.type=open", "evt.type = open"),
    ("evt.type = open and proc.name=cat", "evt.type = open and proc.name = cat"),
    ("a or b and c", "a or b and c"),
    ("(a or b) and c", "(a or b) and c"),
    ("a and (b and c)", "a and b and c"),
    ("not a and b", "not a and b"),
    ("not (a and b)", "not (a and b)"),
    ("not(a or b)", "not (a or b)"),
    ("not not a", "a"),
    ("not not not a", "not a"),
    ("not (not a)", "not (not a)"),
    ("((((a))))", "a"),
    ("proc.name in (cat, 'dog', \"bird fish\")", 'proc.name in (cat, "dog", "bird fish")'),
    ("proc.name in ()", "proc.name in ()"),
    ("proc.name in(a,b)", "proc.name in (a, b)"),
    ("proc.name in shell_binaries", "proc.name in (shell_binaries)"),
    ("proc.name intersects (a)", "proc.name intersects (a)"),
    ("fd.name pmatch (/tmp, /var)", "fd.name pmatch (/tmp, /var)"),
    ("proc.pname exists", "proc.pname exists"),
    ("not proc.pname exists", "not proc.pname exists"),
    ("fd.num>=0", "fd.num >= 0"),
    ("evt.rawres < -1", "evt.rawres < -1"),
    ("evt.arg.flags > 0x10", "evt.arg.flags > 0x10"),
    ("proc.pid <= 1.5e+3", "proc.pid <= 1.5e+3"),
    ("evt.dir=<", "evt.dir = <"),
    ("evt.dir = >", "evt.dir = >"),
    ("proc.name != sshd", "proc.name != sshd"),
    ("proc.name == sshd", "proc.name == sshd"),
    ("fd.name contains /etc", "fd.name contains /etc"),
    ("fd.name icontains ETC", "fd.name icontains ETC"),
    ("evt.buffer bcontains cafebabe", "evt.buffer bcontains cafebabe"),
    ("fd.name startswith '/etc/'", 'fd.name startswith "/etc/"'),
    ("fd.name bstartswith 2f6574", "fd.name bstartswith 2f6574"),
    ("fd.name endswith .conf", "fd.name endswith .conf"),
    ("fd.name glob '/home/*/.ssh/*'", 'fd.name glob "/home/*/.ssh/*"'),
    ("fd.name iglob /HOME/*", "fd.name iglob /HOME/*"),
    ("proc.cmdline regex '^sh -c .*'", 'proc.cmdline regex "^sh -c .*"'),
    ("proc.aname[2]=sshd", "proc.aname[2] = sshd"),
    ("proc.env[HOME] = /root", "proc.env[HOME] = /root"),
    ("proc.env['MY VAR'] = x", 'proc.env["MY VAR"] = x'),
    ("evt.arg[0] startswith /bin/", "evt.arg[0] startswith /bin/"),
    ("evt.arg.path = /etc", "evt.arg.path = /etc"),
    ("tolower(proc.name) = bash", "tolower(proc.name) = bash"),
    ("toupper( b64(proc.aname[1]) ) = X", "toupper(b64(proc.aname[1])) = X"),
    ("len(proc.name) > 3", "len(proc.name) > 3"),
    ("basename(proc.exepath) = sh", "basename(proc.exepath) = sh"),
    ("proc.name = val(proc.pname)", "proc.name = val(proc.pname)"),
    ("proc.name = tolower(proc.pname)", "proc.name = tolower(proc.pname)"),
    ("proc.pid > val(proc.ppid)", "proc.pid > val(proc.ppid)"),
    ("proc.name in val(proc.pname)", "proc.name in val(proc.pname)"),
    ("proc.pname in (runc:[0:PARENT], runc:[1:CHILD])", "proc.pname in (runc:[0:PARENT], runc:[1:CHILD])"),
    ("(proc.args endswith \\)", "proc.args endswith \\"),
    ("proc.name=a or proc.name=b or proc.name=c", "proc.name = a or proc.name = b or proc.name = c"),
    ("spawned_process and not (a or b)", "spawned_process and not (a or b)"),
    ("a and(b)", "a and b"),
    ("a or(b and c)", "a or b and c"),
    ("order_macro and android_macro", "order_macro and android_macro"),
    ("notify", "notify"),
    ("not_cat", "not_cat"),
]

ACCEPTED = [g[0] for g in GOLDEN] + [
    'proc.cmdline contains "it\'s" and proc.name = "a\\"b"',
    "fd.name = '/tmp/x y' or (fd.name startswith /dev and not fd.name in (/dev/null, /dev/zero))",
    "(evt.type in (open, openat, openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)",
]


@pytest.mark.parametrize("text,canonical", GOLDEN)
def test_golden(text, canonical):
    assert format_expr(parse_condition(text)) == canonical


def _swap_blanks(text: str, blank: str) -> str:
    """Replace every space outside quoted strings by `blank`."""
    out, quote_char, escaped = [], None, False
    for c in text:
        if quote_char:
            out.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote_char:
                quote_char = None
        elif c in "\"'":
            quote_char = c
            out.append(c)
        else:
            out.append(blank if c == " " else c)
    return "".join(out)


@pytest.mark.parametrize("text", ACCEPTED)
@pytest.mark.parametrize("blank", ["\t", "\n", "\r\n", " \t\n "])
def test_accepted_conditions_survive_other_blanks(text, blank):
    expected = format_expr(parse_condition(text))
    assert format_expr(parse_condition(_swap_blanks(text, blank))) == expected


@pytest.mark.parametrize("text", ACCEPTED)
def test_canonical_text_parses_back_to_itself(text):
    once = format_expr(parse_condition(text))
    assert format_expr(parse_condition(once)) == once


def test_precedence_not_and_or():
    e = parse_condition("a or not b and c")
    assert isinstance(e, Or)
    a, rest = e.children
    assert a == Ident("a")
    assert rest == And((Not(Ident("b")), Ident("c")))


def test_and_or_chains_are_nary():
    e = parse_condition("a and b and c or d")
    assert e == Or((And((Ident("a"), Ident("b"), Ident("c"))), Ident("d")))


def test_node_structure_of_a_check():
    e = parse_condition("tolower(proc.aname[2]) in (a, 'b c')")
    assert e == Compare(FieldRef("proc.aname", "2", ("tolower",)), "in",
                        ValueList((Literal("a"), Literal("b c", quoted=True))))


def test_transformers_innermost_first():
    e = parse_condition("toupper(b64(proc.name)) = x")
    assert e.field.transformers == ("b64", "toupper")


def test_right_side_field():
    e = parse_condition("proc.name = val(proc.pname)")
    assert e.value == FieldValue(FieldRef("proc.pname"))
    assert e.value.field.transformers == ()


def test_positions_are_offsets_of_first_characters():
    text = "evt.type = open and\n  not proc.name in (cat, 'dog')"
    e = parse_condition(text)
    check, negated = e.children
    assert check.pos == 0 and check.value.pos == text.index("open")
    assert negated.pos == text.index("not")
    inner = negated.child
    assert inner.pos == text.index("proc.name")
    assert inner.value.pos == text.index("(")
    assert [i.pos for i in inner.value.items] == [text.index("cat"), text.index("'dog'")]


# (condition, Falco's message, offset where parsing stopped)
ERRORS = [
    ("evt.type=execve foo", "unexpected token after 'execve', expecting 'or', 'and'", 16),
    ("evt.type=open bar", "unexpected token after 'open', expecting 'or', 'and'", 14),
    ("(a) b", "unexpected token after ')', expecting 'or', 'and'", 4),
    ("proc.name = 'x' y", "unexpected token after 'x', expecting 'or', 'and'", 16),
    ("", "filter input string is empty", 0),
    ("a andb", "expected blank or '(' after 'and'", 5),
    ("a orb", "expected blank or '(' after 'or'", 4),
    ("(a and b", "expected a ')' token", 8),
    ("a and", "expected a '(' token, a field check, or an identifier", 5),
    ("   ", "expected a '(' token, a field check, or an identifier", 3),
    ("proc.name", "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', "
                  "'=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', "
                  "'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'", 9),
    ("proc.name contains", "expected a string value or a field with a valid transformer: 'val', "
                           "'tolower', 'toupper', 'b64', 'basename', 'len'", 18),
    ("proc.pid > abc", "expected a number value or a field with a valid transformer: 'val', "
                       "'tolower', 'toupper', 'b64', 'basename', 'len'", 11),
    ("proc.name in (a, )", "expected a string value", 17),
    ("proc.name in (a b)", "expected a ')' token", 16),
    ("proc.name in 'a'", "expected a list, an identifier, or a field with a valid transformer: "
                         "'val', 'tolower', 'toupper', 'b64', 'basename', 'len'", 13),
    ("proc.aname[2 = x", "expected a ']' token", 12),
    ("proc.aname[] = x", "expected a valid field argument: a quoted string or a bare string", 11),
    ("tolower(x) = y", "expected a field or a nested valid transformer: 'val', 'tolower', "
                       "'toupper', 'b64', 'basename', 'len'", 8),
    ("tolower(proc.name = y", "expected a ')' token closing the transformer", 18),
    ("proc.name = val(x)", "expected a field within 'val' transformer", 16),
    ("proc.name = 'abc", "unterminated quoted string", 12),
    ("proc.name = 'a\\qb'", "unsupported string escape sequence: \\q", 12),
    ("proc.name = 'a\\\"b'", "invalid \\\" escape in '-quoted string", 12),
    ("proc.name = (x)", "expected a string value or a field with a valid transformer: 'val', "
                        "'tolower', 'toupper', 'b64', 'basename', 'len'", 12),
]


@pytest.mark.parametrize("text,message,offset", ERRORS)
def test_pinned_errors(text, message, offset):
    with pytest.raises(ParseError) as info:
        parse_condition(text)
    assert info.value.message == message
    assert info.value.offset == offset


def test_parse_error_pickles():
    err = pickle.loads(pickle.dumps(ParseError("boom", 3)))
    assert (err.message, err.offset) == ("boom", 3)


def test_depth_is_capped_with_a_clear_error():
    deep = "(" * (MAX_DEPTH + 50) + "a" + ")" * (MAX_DEPTH + 50)
    with pytest.raises(ParseError, match=f"exceeded max depth limit of {MAX_DEPTH}"):
        parse_condition(deep)
    fine = "(" * (MAX_DEPTH - 2) + "a" + ")" * (MAX_DEPTH - 2)
    assert parse_condition(fine) == Ident("a")


def test_transformer_nesting_is_capped():
    deep = "tolower(" * (MAX_DEPTH + 5) + "proc.name" + ")" * (MAX_DEPTH + 5) + " = x"
    with pytest.raises(ParseError, match="exceeded max depth"):
        parse_condition(deep)


def test_long_flat_conditions_do_not_recurse():
    text = " or ".join(f"proc.name = p{i}" for i in range(5000))
    assert len(parse_condition(text).children) == 5000
    assert parse_condition("not " * 3001 + "a") == Not(Ident("a"))


HOSTILE = [
    '"); import os',
    "'; DROP TABLE rules; --",
    "a\\b",
    'quote " inside',
    "single ' inside",
    "line\nbreak",
    "tab\tand\rcr",
    "and or not",
    "evt.type = open",
    "%proc.name",
    "{__import__('os')}",
    "",
    "\\",
    "é ü ∑ 漢字",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_plain_literals(value):
    e = parse_condition(f"proc.name = {quote(value)}")
    assert e.value == Literal(value, quoted=True)
    lst = parse_condition(f"proc.name in ({quote(value)}, other)")
    assert lst.value.items[0] == Literal(value, quoted=True)
    assert parse_condition(format_expr(e)) == e


def test_hostile_text_in_bare_positions_is_rejected_not_executed():
    for text in ['proc.name = x"); import os', "proc.name = a; rm -rf /", "__import__('os')"]:
        try:
            e = parse_condition(text)
        except ParseError:
            continue
        # whatever parses is data: only the node types of the language
        for n in (e, getattr(e, "value", None)):
            assert n is None or type(n).__module__ == "sensor.compile.ast"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_round_trips_as_a_quoted_value(value):
    e = parse_condition(f"proc.name = {quote(value)}")
    assert e.value.text == value
    assert parse_condition(format_expr(e)) == e


def test_literal_from_list_items_follows_falco_quoting():
    assert literal_from_item("cat") == Literal("cat")
    assert literal_from_item('"10.0.0.0/8"') == Literal("10.0.0.0/8", quoted=True)
    assert literal_from_item("cat /dev/null") == Literal("cat /dev/null", quoted=True)
    assert literal_from_item("runc:[1:CHILD]") == Literal("runc:[1:CHILD]")
    assert literal_from_item('"sh -c node -e \\"require(\'nan\')\\""') == \
        Literal("sh -c node -e \"require('nan')\"", quoted=True)
    assert literal_from_item("a,b") == Literal("a,b", quoted=True)


def test_value_list_and_field_helpers():
    assert parse_value_list("(a, 'b c')") == ValueList((Literal("a"), Literal("b c", True)))
    assert parse_field_ref("proc.aname[2]") == FieldRef("proc.aname", "2")
    with pytest.raises(ParseError):
        parse_field_ref("proc.name x")
    field, end = parse_field_at("cmd=%toupper(proc.name)!", 5)
    assert field == FieldRef("proc.name", None, ("toupper",)) and end == 23


def test_word_operators_need_a_boundary():
    assert parse_condition("proc.name in(a)").op == "in"
    with pytest.raises(ParseError):
        parse_condition("proc.name inx")
    with pytest.raises(ParseError):
        parse_condition("proc.name existsx")


def test_grammar_is_documented_in_the_module_header():
    import sensor.compile.parser as p
    for production in ("OrExpr", "AndExpr", "NotExpr", "Check", "FieldExpr", "Condition",
                       "RightField", "QuotedStr", "BareStr"):
        assert re.search(rf"^\s+{production}\s+::=", p.__doc__, re.M), production
