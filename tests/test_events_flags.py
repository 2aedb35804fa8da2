"""Flag tables: Falco's renderings, parse/format round trips, and the numeric
tests that stand for text comparisons (flagtest) agreeing with the text."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from sensor.events import flags
from sensor.events.evtargs import param_render
from sensor.events.evttypes import Param
from sensor.events.flagtest import Raw, Render, text_op

FILE = flags.table("file_flags")


@pytest.mark.parametrize("value, text", [
    (1 | 4096, "O_RDONLY|O_CLOEXEC"),
    (3, "O_RDWR"),                              # not O_RDWR|O_WRONLY|O_RDONLY
    (2 | 4 | 256, "O_TRUNC|O_CREAT|O_WRONLY"),  # the table's order, not the bits'
    (0, "O_NONE"),
    (1 << 20, ""),                              # no name applies
])
def test_file_flags_render_as_libsinsp(value, text):
    assert FILE.resolve(value) == text


@pytest.mark.parametrize("table, value, text", [
    ("socket_families", 1, "AF_LOCAL|AF_UNIX"),      # enums list every equal entry
    ("socket_families", 17, "AF_PACKET"),
    ("ptrace_requests", 16, "PTRACE_GETSIGINFO"),
    ("ptrace_requests", 11, "PTRACE_ATTACH"),
    ("bpf_commands", 5, "BPF_PROG_LOAD"),
    ("errno", -115, "EINPROGRESS"),
    ("errno", -95, "EOPNOTSUPP"),
    ("signals", 9, "SIGKILL"),
    ("capabilities", (1 << 21) | 1, "CAP_CHOWN CAP_SYS_ADMIN"),
    ("chmod_mode", 0o4755, "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"),
    ("chmod_mode", 1, "S_IXOTH"),
    ("prctl_options", 15, "PR_SET_NAME"),
])
def test_renderings(table, value, text):
    assert flags.table(table).resolve(value) == text


@pytest.mark.parametrize("name", sorted(flags.TABLES))
def test_parse_format_round_trip(name):
    t = flags.table(name)
    for entry, value in t.entries:
        text = t.format(value)
        assert t.parse(text) == value or t.kind == "enum"   # enums: several names, one value
        assert t.parse(entry) == value or t.value_of(entry) == t.parse(entry)
    # every value of a bits table survives format -> parse when all its bits are named
    if t.kind == "bits":
        named = 0
        for _, v in t.entries:
            named |= v
        for v in (named, named & 0x5555, named & 0xAAAA):
            assert t.parse(t.format(v)) & named == v & named or not t.resolve(v)


def test_parse_accepts_numbers_and_rejects_unknown_names():
    assert FILE.parse("O_WRONLY|O_TRUNC") == 2 | 256
    assert FILE.parse("0x10") == 16
    assert flags.table("socket_families").parse("AF_INET6") == 10
    with pytest.raises(ValueError, match="O_BOGUS"):
        FILE.parse("O_RDONLY|O_BOGUS")


# --- numeric tests equal to text comparisons ---------------------------------------------

_RENDERS = {
    "file_flags": param_render(Param("flags", "flags32", "file_flags")),
    "chmod_mode": param_render(Param("mode", "mode", "chmod_mode", "oct")),
    "mknod_mode": param_render(Param("mode", "mode", "mknod_mode", "oct")),
    "clone_flags": param_render(Param("flags", "flags32", "clone_flags")),
    "socket_families": param_render(Param("domain", "enumflags32", "socket_families")),
    "ptrace_requests": param_render(Param("request", "enumflags16", "ptrace_requests")),
    "errno": param_render(Param("res", "errno", "errno")),
    "capabilities": Render(flags.table("capabilities"), raw=None),
    "plain": Render(None, raw=Raw("dec", 64, True)),
}


def _literals(name):
    t = _RENDERS[name].table
    names = [n for n, _ in t.entries] if t else []
    words = names + [n[2:5] for n in names if len(n) > 5] + ["1", "17", "-2", "", "X", "0"]
    return st.sampled_from(words) | st.builds(lambda a, b: f"{a}|{b}", st.sampled_from(
        names or ["1"]), st.sampled_from(names or ["2"]))


def _values(name):
    t = _RENDERS[name].table
    vals = [v for _, v in t.entries] if t else [0, 1, -2]
    return (st.sampled_from(vals) | st.integers(0, 2**16)
            | st.builds(lambda a, b: a | b, st.sampled_from(vals), st.integers(0, 2**15))
            | st.integers(-200, 0))


@pytest.mark.parametrize("name", sorted(_RENDERS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_numeric_test_matches_text(name, data):
    render = _RENDERS[name]
    op = data.draw(st.sampled_from(["=", "!=", "contains", "icontains", "in"]))
    if op == "in":
        lit = data.draw(st.lists(_literals(name), min_size=1, max_size=3))
    else:
        lit = data.draw(_literals(name))
    test = render.test(op, lit)
    if test is None:
        return          # not expressible: the caller rejects the rule
    for _ in range(20):
        v = data.draw(_values(name))
        text = render.text(v)
        want = any(text == x for x in lit) if op == "in" else text_op(op, text, lit)
        assert test.eval(v) == want, (name, op, lit, v, text, test)


def test_rule_literals_compile_to_bit_tests():
    r = _RENDERS["file_flags"]
    assert r.test("contains", "O_TRUNC") == ("mask", 256, frozenset({256}))
    assert r.test("contains", "O_RDONLY") == ("mask", 3, frozenset({1}))
    assert r.test("=", "O_RDWR").kind == "mask"
    assert _RENDERS["ptrace_requests"].test("contains", "PTRACE_ATTACH") == ("eq", 11, None)
    assert _RENDERS["socket_families"].test("contains", "AF_PACKET") == ("eq", 17, None)
    # a number literal never equals a named enum value's text
    assert _RENDERS["ptrace_requests"].test("=", "11").eval(11) is False
