"""The reference evaluator: the spec of every operator (Falco's semantics)."""
import pytest

import standin
from sensor.compile import ast as A
from sensor.compile.bind import ConditionError, bind, ip_value, parse_int, parse_net
from sensor.compile.reference import compare, evaluate, glob_match, pmatch, run
from sensor.compile.rule import OutputFormat, Priority, Rule
from sensor.events.fields import FType


def F(name, arg=None, tr=()):
    return A.FieldRef(name, arg, tuple(tr))


def lit(text):
    return A.Literal(text, True)


def values(*xs):
    return A.ValueList(tuple(lit(x) for x in xs))


PROCS = [
    dict(name=b"bash", exepath=b"/bin/bash", cmdline=b"bash -c ls",
         env=[b"HOME=/root", b"TERM=xterm"], container=0),
    dict(name=b"sshd", parent=0),
]
ROWS = [
    dict(type=1, slot=0, fd_name=b"/etc/shadow", uid=0, fd_family=2,
         fd_sip=ip_value("10.1.2.3"), fd_sport=22, fd_connected=1, buffer=b"\x00\xffab",
         ts=2**64 - 5, res=-2),
    dict(type=2, slot=1, fd_name=b"/usr/lib/x86_64/libc.so.6", uid=1000),
    dict(type=3, slot=-1),                               # no process, nothing set
]
BATCH = standin.build(ROWS, PROCS, [dict(mounts=[b"/proc", b"/var/run/docker.sock"])])


def holds(cond, row):
    return evaluate(bind(cond, standin), *BATCH, row)


OPERATOR_CASES = [
    (A.Compare(F("proc.name"), "=", lit("bash")), [True, False, False]),
    (A.Compare(F("proc.name"), "==", lit("bash")), [True, False, False]),
    # absent -> false for every operator, including !=; `not` makes it true
    (A.Compare(F("proc.name"), "!=", lit("bash")), [False, True, False]),
    (A.Not(A.Compare(F("proc.name"), "=", lit("bash"))), [False, True, True]),
    (A.Compare(F("proc.exepath"), "exists"), [True, False, False]),
    (A.Compare(F("fd.name"), "contains", lit("")), [True, True, False]),
    (A.Compare(F("fd.name"), "startswith", lit("/etc/")), [True, False, False]),
    (A.Compare(F("fd.name"), "endswith", lit(".so.6")), [False, True, False]),
    (A.Compare(F("proc.name"), "icontains", lit("ASH")), [True, False, False]),
    (A.Compare(F("proc.name"), "contains", lit("ASH")), [False, False, False]),
    (A.Compare(F("proc.name"), "<", lit("c")), [True, False, False]),
    (A.Compare(F("proc.name"), ">=", lit("sshd")), [False, True, False]),
    (A.Compare(F("proc.name"), "in", values("a", "sshd")), [False, True, False]),
    (A.Compare(F("proc.name"), "intersects", values("bash")), [True, False, False]),
    (A.Compare(F("fd.name"), "glob", lit("/etc/*")), [True, False, False]),
    (A.Compare(F("fd.name"), "glob", lit("*/lib/*/libc.so.?")), [False, True, False]),
    (A.Compare(F("fd.name"), "iglob", lit("/ETC/SHA[a-d]OW")), [True, False, False]),
    (A.Compare(F("fd.name"), "pmatch", values("/etc", "/usr/lib/x86_64")), [True, True, False]),
    (A.Compare(F("fd.name"), "pmatch", values("/et")), [False, False, False]),
    (A.Compare(F("user.uid"), "<", lit("1000")), [True, False, False]),
    (A.Compare(F("user.uid"), "in", values("5", "1000")), [False, True, False]),
    (A.Compare(F("evt.res"), "=", lit("-2")), [True, False, False]),
    # u64 values compare unsigned
    (A.Compare(F("evt.time"), ">", lit("18446744073709551000")), [True, False, False]),
    (A.Compare(F("fd.connected"), "=", lit("true")), [True, False, False]),
    (A.Compare(F("fd.sip"), "=", lit("10.1.2.3")), [True, False, False]),
    (A.Compare(F("fd.sip"), "in", values("192.168.0.0/16", "10.0.0.0/8")), [True, False, False]),
    (A.Compare(F("fd.sip"), "!=", lit("10.0.0.0/8")), [False, False, False]),
    (A.Compare(F("proc.env", "HOME"), "=", lit("/root")), [True, False, False]),
    (A.Compare(F("proc.aname", "1"), "=", lit("bash")), [False, True, False]),
    (A.Compare(F("container.mounts"), "intersects", values("/proc")), [True, False, False]),
    (A.Compare(F("container.mounts"), "in", values("/proc")), [False, False, False]),
    (A.Compare(F("container.mounts"), "in", values("/proc", "/var/run/docker.sock")),
     [True, False, False]),
    (A.Compare(F("evt.buffer"), "bcontains", lit("00ff")), [True, False, False]),
    (A.Compare(F("evt.buffer"), "bstartswith", lit("00FF61")), [True, False, False]),
    (A.Compare(F("proc.name", tr=["toupper"]), "=", lit("BASH")), [True, False, False]),
    (A.Compare(F("fd.name", tr=["basename"]), "=", lit("libc.so.6")), [False, True, False]),
    (A.Compare(F("proc.cmdline", tr=["len"]), "=", lit("10")), [True, False, False]),
    (A.Compare(F("container.mounts", tr=["len"]), "=", lit("2")), [True, False, False]),
    (A.Compare(F("proc.aname", "1"), "=", A.FieldValue(F("proc.name"))), [False, False, False]),
    (A.Compare(F("proc.name"), "!=", A.FieldValue(F("proc.aname", "1"))), [False, True, False]),
    (A.And((A.Compare(F("proc.name"), "=", lit("bash")),
            A.Compare(F("user.uid"), "=", lit("0")))), [True, False, False]),
    (A.Or((A.Compare(F("proc.name"), "=", lit("sshd")),
           A.Compare(F("user.uid"), "=", lit("0")))), [True, True, False]),
]


@pytest.mark.parametrize("cond,expected", OPERATOR_CASES)
def test_operator(cond, expected):
    assert [holds(cond, i) for i in range(3)] == expected


GLOB_CASES = [
    (b"*", b"", False, True), (b"a*c", b"abbbc", False, True), (b"a?c", b"ac", False, False),
    (b"*/x", b"/a/b/x", False, True),                    # '*' crosses '/': flags 0
    (b"[!a]b", b"cb", False, True), (b"[^a]b", b"ab", False, False),
    (b"[]]", b"]", False, True), (b"[a-c]", b"d", False, False),
    (b"[", b"[", False, True),                           # unclosed '[' is literal
    (b"\\*", b"*", False, True), (b"\\*", b"a", False, False),
    (b"[[:digit:]]x", b"7x", False, True), (b"ABC", b"abc", True, True),
    (b"[A-C]", b"b", True, True), (b"abc", b"ABC", False, False),
]


@pytest.mark.parametrize("pat,s,fold,ok", GLOB_CASES)
def test_glob(pat, s, fold, ok):
    assert glob_match(pat, s, fold) is ok


PMATCH_CASES = [
    ([b"/var/run"], b"/var/run/docker", True),
    ([b"/var/run"], b"/var/run", True),
    ([b"/var/run"], b"/var", False),
    ([b"/var/run"], b"/var/runner", False),
    ([b"/var/*/x"], b"/var/a/x/y", True),
    ([b"/"], b"/anything", True),
    ([b"//usr//lib/"], b"/usr/lib/z", True),
]


@pytest.mark.parametrize("pats,path,ok", PMATCH_CASES)
def test_pmatch(pats, path, ok):
    assert pmatch(pats, path) is ok


def test_b64_transformer():
    procs = [dict(name=b"x", cmdline=b"aGVsbG8="), dict(name=b"y", cmdline=b"a===")]
    B, P, C = standin.build([dict(slot=0), dict(slot=1)], procs)
    cond = bind(A.Compare(F("proc.cmdline", tr=["b64"]), "=", lit("hello")), standin)
    assert evaluate(cond, B, P, C, 0) is True
    ex = bind(A.Compare(F("proc.cmdline", tr=["b64"]), "exists"), standin)
    assert evaluate(ex, B, P, C, 1) is False          # invalid base64: absent


@pytest.mark.parametrize("text,ftype,value", [
    ("0", FType.UINT16, 0), ("65535", FType.PORT, 65535), ("-1", FType.INT64, -1),
    ("18446744073709551615", FType.UINT64, -1), ("true", FType.BOOL, 1),
])
def test_literal_conversion(text, ftype, value):
    assert parse_int(text, ftype) == value


@pytest.mark.parametrize("text,ftype", [
    ("65536", FType.PORT), ("-1", FType.UINT32), ("12abc", FType.INT64), ("0x10", FType.INT64),
    ("1", FType.BOOL), ("", FType.INT64),
])
def test_bad_literal(text, ftype):
    with pytest.raises(ConditionError):
        parse_int(text, ftype)


def test_ipv4_is_mapped():
    hi, lo, mh, ml = parse_net("10.0.0.0/8")
    assert (hi, mh) == (0, 2**64 - 1) and lo == (0xFFFF0A << 24) and ml == 0xFFFFFFFFFF000000


@pytest.mark.parametrize("cond,message", [
    (A.Compare(F("user.uid"), "contains", lit("1")), "'contains' operator not supported"),
    (A.Compare(F("user.uid"), "=", lit("root")), "'root' is not a number"),
    (A.Compare(F("fd.sip"), "=", lit("10.0.0.300")), "not an IP address"),
    (A.Compare(F("no.such"), "=", lit("1")), "unknown field"),
    (A.Compare(F("evt.buffer"), "bcontains", lit("zz")), "not a hex byte string"),
    (A.Compare(F("container.mounts"), "=", lit("x")), "'=' operator not supported"),
    (A.Compare(F("proc.name"), "=", values("a", "b")), "single value"),
    (A.Compare(F("user.uid", tr=["tolower"]), "=", lit("a")), "needs a string field"),
])
def test_bind_errors(cond, message):
    with pytest.raises(ConditionError) as e:
        bind(A.Compare(cond.field, cond.op, cond.value, pos=7), standin)
    assert message in str(e.value)
    assert e.value.node is not None


def test_run_dispatch_and_first_all():
    def rule(k, cond, types=None):
        return Rule(k, f"r{k}", cond, OutputFormat("", []), Priority.NOTICE, evttypes=types)
    always = A.Compare(F("evt.type"), ">=", lit("0"))
    rules = [rule(0, always, frozenset({2})), rule(1, always), rule(2, always)]
    assert run(rules, *BATCH, "first", standin) == [(0, 1), (1, 0), (2, 1)]
    assert run(rules, *BATCH, "all", standin) == [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2),
                                                 (2, 1), (2, 2)]
    rules[1].enabled = False
    assert run(rules, *BATCH, "first", standin) == [(0, 2), (1, 0), (2, 2)]
