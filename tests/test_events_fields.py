"""The field registry: lookups, arguments, coverage of the rulesets, and the
values accessors read (through .py_func, as the reference evaluator does)."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

from sensor.events import evttypes as ET
from sensor.events import fields as F
from sensor.events.builder import Builder, sample_batch
from sensor.events.evtargs import evt_arg_plan, evt_arg_text, param_render
from sensor.events.fields import Arg, FType, Kind

SHARED = Path(__file__).parents[1] / ".." / "shared"
RULE_FILES = sorted((SHARED / "rulesets").glob("*/*.yaml"))
needs_shared = pytest.mark.skipif(not RULE_FILES, reason=f"no rulesets under {SHARED}")


def value(name, B, P, C, i, arg_text=None):
    """A field's value on row i, as the reference evaluator reads it."""
    f, a = F.lookup(name, arg_text)
    arg, key = f.resolve_arg(a) if a is not None else (0, b"")
    return F.read(f, B, P, C, i, arg, key)


def text(name, B, P, C, i, arg_text=None):
    f, a = F.lookup(name, arg_text)
    arg, key = f.resolve_arg(a) if a is not None else (0, b"")
    return F.field_text(f, B, P, C, i, arg, key)


@pytest.fixture(scope="module")
def sample():
    return sample_batch()


# --- the registry ---------------------------------------------------------------------

def test_lookup_forms():
    f, a = F.lookup("evt.arg.flags")
    assert (f.name, a) == ("evt.arg", "flags")
    assert F.lookup("evt.arg", "1")[0].name == "evt.arg"
    assert F.lookup("evt.rawarg.res") == (F.lookup("evt.rawarg")[0], "res")
    assert F.lookup("proc.aname", "2")[1] == "2"
    assert F.lookup("proc.env", "HOME")[1] == "HOME"
    assert F.lookup("proc.nobody") is None
    assert F.lookup("proc.name.x") is None
    assert F.lookup("evt.arg.") is None


@pytest.mark.parametrize("name, arg, resolved", [
    ("proc.aname", "2", (2, b"")),
    ("proc.env", "HOME", (0, b"HOME")),
    ("evt.arg", "flags", (ET.param_name_id("flags"), b"")),
    ("evt.arg", "1", (-2, b"")),
    ("container.mount.dest", "/var/run/*", (0, b"/var/run/*")),
    ("fd.types", "0", (1, b"")),
])
def test_resolve_arg(name, arg, resolved):
    assert F.lookup(name, arg)[0].resolve_arg(arg) == resolved


@pytest.mark.parametrize("name, arg, message", [
    ("proc.aname", "x", "not a valid index"),
    ("proc.name", "1", "does not take an argument"),
    ("evt.arg", "no_such_param", "no event has a parameter named"),
    ("evt.arg", "99", "at most"),
    ("container.mount.dest", "", "non-empty"),
])
def test_resolve_arg_errors(name, arg, message):
    with pytest.raises(ValueError, match=message):
        F.lookup(name, arg)[0].resolve_arg(arg)


def test_registry_is_consistent():
    fields = F.all_fields()
    names = [f.name for f in fields]
    assert len(names) == len(set(names))
    assert F.all_fields() == fields                        # stable order
    for f in fields:
        assert f.desc, f.name
        assert f.get is not None or (f.output_only and f.text is not None), f.name
        assert f.resolve_arg is not None
        if f.any_index:
            assert f.arg in (Arg.NONE, Arg.OPT_INDEX)
        if f.flags:
            assert f.kind == Kind.NUM
    with pytest.raises(ValueError, match="twice"):
        F.register(fields[0])


def test_describe_fields():
    rows = F.describe_fields()
    assert len(rows) == len(F.all_fields())
    by_name = {r[0]: r for r in rows}
    assert by_name["proc.aname"][1:3] == ("string", "[N] optional")
    assert by_name["evt.arg"][2] == ".NAME or [N]"
    assert "outputs only" in by_name["evt.args"][3]
    assert "conditions only" in by_name["fd.ip"][3]


# --- coverage of the rulesets ---------------------------------------------------------------

# A field reference: a known class prefix, not inside a path or a longer word
# (registry.k8s.io/...), with an optional [argument]; '%' prefixes it in outputs.
_FIELD_RX = re.compile(r"(?<![\w./-])%?\b((?:evt|proc|thread|user|group|fd|container|k8s|fs)"
                       r"\.[A-Za-z0-9_.]*[A-Za-z0-9_])(?:\[([^\]]*)\])?(?![\w/-])")


def _rule_fields():
    found = set()
    for path in RULE_FILES:
        for item in yaml.safe_load(path.read_text()) or []:
            for key in ("condition", "output"):
                t = item.get(key) if isinstance(item, dict) else None
                if isinstance(t, str):
                    found.update((m.group(1), m.group(2)) for m in _FIELD_RX.finditer(t))
    return sorted(found, key=str)


@needs_shared
def test_every_rules_field_resolves():
    refs = _rule_fields()
    assert len(refs) > 100 and ("proc.aname", "2") in refs and ("evt.arg.flags", None) in refs
    bad = []
    for name, arg in refs:
        found = F.lookup(name, arg)
        if found is None:
            bad.append(f"{name}: unknown")
            continue
        f, a = found
        if a is not None:
            try:
                f.resolve_arg(a)
            except ValueError as e:
                bad.append(f"{name}[{a}]: {e}")
    assert not bad, bad


@needs_shared
def test_rules_evt_args_have_plans():
    """Each evt.arg.X the rules use exists in the event types they use it with."""
    cases = {"flags": ["open", "openat", "openat2"], "request": ["ptrace"], "domain": ["socket"],
             "cmd": ["bpf"], "uid": ["setuid"], "mode": ["chmod", "fchmod", "fchmodat"],
             "target": ["symlink", "symlinkat"], "linkpath": ["symlink", "symlinkat"],
             "path": ["mkdir", "rmdir", "unlink"], "name": ["unlinkat", "openat"],
             "oldpath": ["rename", "renameat", "renameat2"], "newpath": ["rename", "renameat"],
             "filename": ["chmod", "fchmodat"], "data": ["write", "sendto"], "fd": ["fchmod"],
             "res_or_fd": ["bpf"]}
    for arg, types in cases.items():
        plans = evt_arg_plan(arg, [ET.type_id(t) for t in types])
        covered = {ET.type_name(t) for p in plans for t, _ in p.slots}
        if arg == "res_or_fd":           # old bpf events only: accepted, always absent
            assert not plans and ET.param_name_id(arg) is not None
            continue
        assert covered == set(types), (arg, covered)


# --- values on built batches ------------------------------------------------------------------

def _chain():
    b = Builder()
    g = b.add_proc(pid=1, comm="init", exe="/sbin/init")
    p = b.add_proc(pid=10, comm="sshd", exe="/usr/sbin/sshd", parent=g)
    c = b.add_proc(pid=20, comm="bash", exe="/bin/bash", parent=p)
    orphan = b.add_proc(pid=30, comm="orphan", exe="/x")
    b.add_event("execve", slot=c)
    b.add_event("execve", slot=orphan)
    return b.build()


def test_ancestors_through_a_three_level_chain():
    B, P, C = _chain()
    assert [value("proc.aname", B, P, C, 0, str(n)) for n in range(4)] == \
        [b"bash", b"sshd", b"init", None]
    assert value("proc.apid", B, P, C, 0, "2") == 1
    assert value("proc.aexepath", B, P, C, 0, "1") == b"/usr/sbin/sshd"
    assert value("proc.pname", B, P, C, 0) == b"sshd"
    assert value("proc.ppid", B, P, C, 0) == 10
    f = F.lookup("proc.aname")[0]
    assert f.any_index[0] == 1                  # proc.aname alone: any ancestor


def test_parent_fields_absent_when_the_parent_is_unknown():
    B, P, C = _chain()
    for name in ("proc.pname", "proc.pexe", "proc.pcmdline", "proc.pexepath"):
        assert value(name, B, P, C, 1) is None, name
    assert value("proc.aname", B, P, C, 1, "1") is None
    assert value("proc.name", B, P, C, 1) == b"orphan"


@pytest.mark.parametrize("name, want", [
    ("/etc/shadow", (b"/etc", b"shadow")),
    ("/shadow", (b"/", b"shadow")),
    ("/a/b/c.txt", (b"/a/b", b"c.txt")),
    ("/etc/", (b"/etc/", b"/etc/")),       # a trailing slash keeps the name
    ("relative", (None, None)),             # not a path (libsinsp says "/"): absent
])
def test_directory_and_filename(name, want):
    b = Builder()
    p = b.add_proc(pid=1, comm="x")
    b.add_event("openat", slot=p, res=3, fd=3, fd_type="f", fd_name=name)
    B, P, C = b.build()
    assert (value("fd.directory", B, P, C, 0), value("fd.filename", B, P, C, 0)) == want


def test_directory_of_a_socket_is_absent(sample):
    B, P, C = sample
    assert value("fd.name", B, P, C, 5) is not None
    assert value("fd.directory", B, P, C, 5) is None
    assert value("fd.filename", B, P, C, 5) is None


@pytest.mark.parametrize("flags, read, write", [
    ("O_RDONLY", 1, 0), ("O_WRONLY|O_CREAT", 0, 1), ("O_RDWR", 1, 1), ("O_RDONLY|O_CLOEXEC", 1, 0)])
def test_is_open_read_write(flags, read, write):
    b = Builder()
    p = b.add_proc(pid=1, comm="x")
    b.add_event("openat", slot=p, res=3, params={"flags": flags, "name": "/f"})
    b.add_event("openat", dir=">", slot=p, params={"flags": flags, "name": "/f"})
    b.add_event("read", slot=p, res=3)
    B, P, C = b.build()
    assert value("evt.is_open_read", B, P, C, 0) == read
    assert value("evt.is_open_write", B, P, C, 0) == write
    for i in (1, 2):            # enter events and other types: false
        assert value("evt.is_open_read", B, P, C, i) == 0


def test_is_open_exec_and_create():
    b = Builder()
    p = b.add_proc(pid=1, comm="x")
    b.add_event("openat", slot=p, res=3, params={"flags": "O_WRONLY|O_CREAT|O_F_CREATED",
                                                 "mode": 0o755})
    b.add_event("openat", slot=p, res=3, params={"flags": "O_WRONLY|O_CREAT", "mode": 0o644})
    B, P, C = b.build()
    assert [value("evt.is_open_exec", B, P, C, i) for i in (0, 1)] == [1, 0]
    assert [value("evt.is_open_create", B, P, C, i) for i in (0, 1)] == [1, 0]


def test_local_and_remote_follow_the_role(sample):
    B, P, C = sample
    client, server = 5, 6          # connect (client, IPv4) and accept4 (server, IPv6)
    assert value("fd.lip", B, P, C, client) == ipaddress.ip_address("10.0.0.5")
    assert value("fd.rip", B, P, C, client) == ipaddress.ip_address("1.2.3.4")
    assert (value("fd.lport", B, P, C, client), value("fd.rport", B, P, C, client)) == (41000, 443)
    assert value("fd.lip", B, P, C, server) == ipaddress.ip_address("2001:db8::2")
    assert value("fd.rip", B, P, C, server) == ipaddress.ip_address("2001:db8::1")
    assert (value("fd.lport", B, P, C, server), value("fd.rport", B, P, C, server)) == (22, 52000)
    assert value("fd.is_server", B, P, C, server) == 1
    assert value("fd.is_server", B, P, C, client) == 0
    assert text("fd.l4proto", B, P, C, client) == "tcp"
    assert text("fd.l4proto", B, P, C, 7) == "udp"
    assert text("fd.sockfamily", B, P, C, client) == "ip"
    assert text("fd.sockfamily", B, P, C, 8) == "unix"
    assert value("fd.lip", B, P, C, 8) is None          # unix socket: no addresses


def test_fd_ip_alternatives(sample):
    B, P, C = sample
    f = F.lookup("fd.ip")[0]
    assert f.any_index == (0, 1) and f.filter_only
    assert F.read(f, B, P, C, 5, 0) == ipaddress.ip_address("10.0.0.5")
    assert F.read(f, B, P, C, 5, 1) == ipaddress.ip_address("1.2.3.4")


def test_event_fields(sample):
    B, P, C = sample
    assert text("evt.type", B, P, C, 0) == "openat"
    assert text("evt.type", B, P, C, 15) == "madvise"
    assert [text("evt.dir", B, P, C, i) for i in (0, 3)] == ["<", ">"]
    assert [text("evt.res", B, P, C, i) for i in (0, 2, 3, 8)] == \
        ["SUCCESS", "ENOENT", None, "EINPROGRESS"]
    assert value("evt.rawres", B, P, C, 2) == -2
    assert [value("evt.failed", B, P, C, i) for i in (0, 2, 3)] == [0, 1, 0]
    assert value("evt.buffer", B, P, C, 7) == b"\x12\x34query\x00"
    assert value("evt.buflen", B, P, C, 7) == 8
    assert text("evt.category", B, P, C, 18) == "ipc"        # a read on a pipe
    assert text("evt.time.iso8601", B, P, C, 0) == "2023-11-14T22:13:20.000000000Z"
    assert text("evt.args", B, P, C, 9) == "fd=10 domain=AF_PACKET type=3 proto=768"


def test_evt_arg_text_and_plans(sample):
    B, P, C = sample
    assert text("evt.arg.flags", B, P, C, 0) == "O_RDONLY|O_CLOEXEC"
    assert text("evt.arg.flags", B, P, C, 1) == "O_TRUNC|O_CREAT|O_WRONLY"
    assert text("evt.arg.name", B, P, C, 0) == "/etc/shadow"
    assert text("evt.arg.request", B, P, C, 12) == "PTRACE_ATTACH"
    assert text("evt.arg.domain", B, P, C, 9) == "AF_PACKET"
    assert text("evt.arg.cmd", B, P, C, 17) == "BPF_PROG_LOAD"
    assert text("evt.arg.uid", B, P, C, 10) == "nobody"
    assert text("evt.arg.uid", B, P, C, 11) == "<NA>"          # written by the builder
    assert text("evt.arg.res", B, P, C, 8) == "EINPROGRESS"
    assert text("evt.arg.mode", B, P, C, 13).endswith("S_ISUID")
    assert text("evt.arg", B, P, C, 9, "0") == "10"             # exit socket: fd first
    assert text("evt.arg.flags", B, P, C, 5) is None            # connect has no flags
    assert value("evt.rawarg.flags", B, P, C, 0) == 1 | 4096
    assert value("evt.arg.name", B, P, C, 0) == b"/etc/shadow"
    assert value("evt.arg.uid", B, P, C, 10) == b"nobody"
    assert value("evt.arg.flags", B, P, C, 0) is None            # numeric: use evt.rawarg
    # The compiled form agrees with the text on the rows.
    (plan,) = evt_arg_plan("flags", [ET.type_id("openat")], dirs=(ET.EXIT,))
    assert plan.storage == "num" and plan.field == "evt.rawarg"
    test = plan.render.test("contains", "O_TRUNC")
    for i in (0, 1, 2):
        raw = value("evt.rawarg.flags", B, P, C, i)
        assert test.eval(raw) == ("O_TRUNC" in text("evt.arg.flags", B, P, C, i))


def param_bytes_text(p, raw: bytes) -> str:
    """A byte parameter as Falco prints it: binary addresses rendered, buffers dotted."""
    from sensor.events import params
    if p.ptype in params.BINARY_TYPES:
        return params.render(p.ptype, raw)
    if p.ptype in ("bytebuf", "charbufarray"):
        return params.printable(raw)
    return raw.decode("utf-8", "replace")


def test_evt_arg_text_matches_plans_on_every_row(sample):
    """For each row and parameter: the plan's storage reads what evt_arg_text prints."""
    B, P, C = sample
    for i in range(int(B.n[0])):
        tid, d = int(B.type[i]), int(B.dir[i])
        for k, p in enumerate(ET.params(tid, d)):
            if not (int(B.arg_mask[i]) >> k) & 1:
                continue
            nid = ET.param_name_id(p.name)
            if ET.param_index(tid, d, p.name) != k:
                continue
            (plan,) = [pl for pl in evt_arg_plan(p.name, [tid], dirs=(d,))]
            shown = evt_arg_text(B, P, C, i, nid, b"")
            if plan.storage == "num":
                raw = value("evt.rawarg", B, P, C, i, p.name)
                assert param_render(p).text(raw) == shown
            else:
                assert param_bytes_text(p, value("evt.arg", B, P, C, i, p.name)) == shown


def test_process_fields(sample):
    B, P, C = sample
    cat, bash, orphan = 0, 2, 15
    assert value("proc.name", B, P, C, orphan) == b"a-very-long-proc"    # comm: 16 bytes
    assert value("proc.cmdline", B, P, C, cat) == b"cat /etc/shadow"
    assert value("proc.args", B, P, C, orphan) == b"a b c"
    assert value("proc.exe", B, P, C, bash) == b"-bash"
    assert value("proc.exepath", B, P, C, bash) == b"/usr/bin/bash"
    assert value("proc.env", B, P, C, bash, "HOME") == b"/home/alice"
    assert value("proc.env", B, P, C, bash, "NOPE") is None
    assert text("proc.env", B, P, C, bash) == "HOME=/home/alice PATH=/usr/bin:/bin HTTP_PROXY=x"
    assert value("proc.sname", B, P, C, cat) == b"bash"        # session leader slot
    assert value("proc.vpgid.name", B, P, C, cat) == b"cat"    # unknown leader: itself
    assert value("proc.is_vpgid_leader", B, P, C, bash) == 1
    assert value("proc.tty", B, P, C, bash) == 34816
    assert value("proc.is_exe_upper_layer", B, P, C, cat) == 1
    assert value("proc.is_exe_from_memfd", B, P, C, cat) == 1
    assert value("proc.is_exe_writable", B, P, C, orphan) == 1
    assert value("proc.exe_ino.ctime_duration_proc_start", B, P, C, bash) == 10**16
    ts, start = 1_700_000_000_000_002_000, 1_650_000_000_000_000_000     # row 2, bash
    assert value("proc.duration", B, P, C, bash) == ts - start
    assert value("proc.cwd", B, P, C, cat) == b"/home/alice"
    assert value("user.loginuid", B, P, C, cat) == 1000
    for name in ("proc.name", "proc.pid", "user.loginuid", "container.id"):
        assert value(name, B, P, C, 17) is None, name              # no process slot


def test_thread_user_group(sample):
    B, P, C = sample
    assert text("thread.cap_effective", B, P, C, 14) == "CAP_CHOWN CAP_SYS_ADMIN"
    assert value("thread.cap_permitted", B, P, C, 14) == 2**40 | 5
    assert F.lookup("thread.cap_effective")[0].flags == "capabilities"
    render = F.flag_render(F.lookup("thread.cap_effective")[0])
    assert render.test("contains", "CAP_SYS_ADMIN").eval((1 << 21) | 1)
    assert value("thread.tid", B, P, C, 0) == 901
    assert value("thread.ismain", B, P, C, 0) == 1
    assert (value("user.uid", B, P, C, 0), value("user.name", B, P, C, 0)) == (0, b"root")
    assert value("user.loginname", B, P, C, 0) == b"alice"
    assert (value("group.gid", B, P, C, 2), value("group.name", B, P, C, 2)) == (1000, b"alice")
    assert value("user.uid", B, P, C, 3) is None                 # -1: unknown


def test_container_fields(sample):
    B, P, C = sample
    inside, host = 0, 2
    assert value("container.id", B, P, C, inside) == b"3ad7b26ded6d"
    assert value("container.id", B, P, C, host) == b"host"
    assert value("container.name", B, P, C, host) == b"host"
    assert value("container.image", B, P, C, host) is None
    assert value("container.image.repository", B, P, C, inside) == b"nginx"
    assert value("container.image.tag", B, P, C, inside) == b"1.25"
    assert value("container.privileged", B, P, C, inside) == 1
    assert value("container.mounts", B, P, C, inside) == \
        b"/var/run/docker.sock\0/host/proc\0/srv/data"
    assert text("container.mounts", B, P, C, inside) == "/var/run/docker.sock,/host/proc,/srv/data"
    assert value("container.mount.dest", B, P, C, inside, "/pro*") == b"/host/proc"
    assert value("container.mount.dest", B, P, C, inside, "2") == b"/srv/data"
    assert value("container.mount.dest", B, P, C, inside, "/etc") is None
    assert value("container.mount.source", B, P, C, inside, "/srv/*") == b"/data"
    assert value("container.mount.dest", B, P, C, host, "/proc") is None
    assert text("container.info", B, P, C, inside) == ""


def test_k8s_fields_are_absent_without_a_source(sample):
    B, P, C = sample
    for f in F.all_fields():
        if f.name.startswith("k8s."):
            assert F.read(f, B, P, C, 0, 0, b"app") is None
            assert f.type == FType.CHARBUF
