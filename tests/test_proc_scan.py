"""The /proc scan (sensor/capture/proc_scan.py, proc_fds.py) on this machine's
real processes: children started here and this test process itself, with
files, sockets, pipes and threads open.  Needs root (other processes' fds,
environ, sock_diag)."""
from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from sensor.capture.proc_fds import dump_sockets, open_flags_to_ppm
from sensor.capture.proc_scan import PPM_CL_CLONE_FILES, PPM_CL_CLONE_THREAD, scan_proc
from sensor.capture.state import StateEngine
from state_rows import RawRows, row

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the /proc scan needs root")

PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR = 1, 2, 3
PPM_O_CREAT, PPM_O_APPEND, PPM_O_TRUNC, PPM_O_CLOEXEC, PPM_O_NONBLOCK = 4, 8, 256, 4096, 64
LOOPBACK4 = (0xFFFF << 32) | 0x7F000001          # ::ffff:127.0.0.1, as the model keeps IPv4


def _wait(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError
        time.sleep(0.01)


def _status(pid, key):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return line.split()[1:]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Children and open things, then one scan of the whole machine."""
    tmp = tmp_path_factory.mktemp("scan")
    w = {"tmp": tmp, "own": {}}
    kids = []

    # a sleep in a known cwd with a known environment
    sleep = shutil.which("sleep")
    p = subprocess.Popen([sleep, "30"], cwd=tmp, env={"FOO": "bar", "PATH": "/usr/bin:/bin"})
    kids.append(p)
    _wait(lambda: open(f"/proc/{p.pid}/comm").read() == "sleep\n")
    w["sleep"], w["sleep_path"] = p, os.path.realpath(sleep)

    # a child holding files open with different flags, and a directory
    ro, wa = tmp / "ro.txt", tmp / "wa.log"
    ro.write_text("x")
    wa.write_text("")
    code = ("import os, sys, time\n"
            f"a = os.open({str(ro)!r}, os.O_RDONLY)\n"
            f"b = os.open({str(wa)!r}, os.O_WRONLY | os.O_APPEND)\n"
            f"c = os.open({str(tmp)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
            "print(a, b, c, flush=True)\n"
            "time.sleep(30)\n")
    f = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    kids.append(f)
    w["files"] = f
    w["file_fds"] = [int(x) for x in f.stdout.readline().split()]
    w["ro"], w["wa"] = ro, wa

    # sockets, a pipe and a thread of this very process
    own, keep = w["own"], []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    cli = socket.create_connection(srv.getsockname())
    acc, _ = srv.accept()
    own.update(srv=srv.fileno(), cli=cli.fileno(), acc=acc.fileno(),
               port=srv.getsockname()[1], cport=cli.getsockname()[1])
    keep += [srv, cli, acc]
    try:
        s6 = socket.socket(socket.AF_INET6)
        s6.bind(("::1", 0))
        s6.listen()
        c6 = socket.create_connection(s6.getsockname()[:2])
        keep += [s6, c6]
        own.update(s6=s6.fileno(), c6=c6.fileno(), port6=s6.getsockname()[1],
                   cport6=c6.getsockname()[1])
    except OSError:
        pass                                  # no IPv6 here: its test skips
    ux = socket.socket(socket.AF_UNIX)
    ux.bind(str(tmp / "srv.sock"))
    ux.listen()
    ab = socket.socket(socket.AF_UNIX)
    ab.bind(b"\0sensor-test-%d" % os.getpid())
    pa, pb = socket.socketpair()
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    keep += [ux, ab, pa, pb, nl, udp]
    own.update(ux=ux.fileno(), ab=ab.fileno(), pair=pa.fileno(), nl=nl.fileno(),
               udp=udp.fileno(), udp_port=udp.getsockname()[1])
    r, wr = os.pipe()
    own.update(pipe_r=r, pipe_w=wr)

    stop = threading.Event()
    started = threading.Event()
    th = threading.Thread(target=lambda: (started.set(), stop.wait()), daemon=True)
    th.start()
    started.wait()
    w["thread"] = th.native_id

    w["snap"] = scan_proc()
    yield w
    stop.set()
    for k in kids:
        k.kill()
        k.wait()
    for s in keep:
        s.close()
    os.close(r)
    os.close(wr)


def _fd(world, pid, fd):
    return next(f for f in world["snap"].procs[pid].fds if f.fd == fd)


# --- processes and threads --------------------------------------------------------------------

def test_a_child_process(world):
    p = world["sleep"]
    got = world["snap"].procs[p.pid]
    assert (got.tid, got.pid, got.ptid) == (p.pid, p.pid, os.getpid())
    assert got.comm == b"sleep"
    assert got.exe == shutil.which("sleep").encode()
    assert got.exepath == world["sleep_path"].encode()
    assert got.args == [b"30"]
    assert got.env == [b"FOO=bar", b"PATH=/usr/bin:/bin"]
    assert got.cwd == str(world["tmp"]).encode() + b"/"
    assert got.root == b"/"
    assert (got.uid, got.gid) == (os.geteuid(), os.getegid())
    assert (got.vtid, got.vpid) == (p.pid, p.pid)
    assert got.sid == os.getsid(0) and got.pgid == os.getpgid(0)
    assert got.flags == 0
    assert got.fdlimit == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert got.cap_effective == int(_status(os.getpid(), "CapEff")[0], 16)
    assert got.cap_permitted == int(_status(os.getpid(), "CapPrm")[0], 16)
    assert got.cap_inheritable == int(_status(os.getpid(), "CapInh")[0], 16)
    assert abs(got.clone_ts - time.time_ns()) < 15 * 10**9
    st = os.stat(world["sleep_path"])
    assert (got.exe_ino, got.exe_ino_mtime) == (st.st_ino, st.st_mtime_ns)
    assert got.exe_writable and not got.exe_from_memfd      # root owns it: it can chmod it
    with open("/proc/self/loginuid") as fh:
        login = int(fh.read())
    assert got.loginuid == (-1 if login == 0xFFFFFFFF else login)


def test_cgroups_follow_proc_cgroup(world):
    got = world["snap"].procs[os.getpid()].cgroups
    with open("/proc/self/cgroup", "rb") as fh:
        for line in fh.read().splitlines():
            _, subs, path = line.split(b":", 2)
            for sub in filter(None, subs.split(b",")):
                assert (sub, path) in got


def test_threads_share_the_process(world):
    snap, pid = world["snap"], os.getpid()
    t = snap.procs[world["thread"]]
    main = snap.procs[pid]
    assert t.pid == pid and t.tid == world["thread"] != pid
    assert t.ptid == main.ptid
    assert t.flags == PPM_CL_CLONE_THREAD | PPM_CL_CLONE_FILES
    assert t.fds == [] and main.fds
    assert (t.exepath, t.args, t.cwd) == (main.exepath, main.args, main.cwd)
    tids = {int(x) for x in os.listdir(f"/proc/{pid}/task")}
    assert {p.tid for p in snap.procs.values() if p.pid == pid} >= tids


def test_kernel_threads_are_kept():
    try:
        with open("/proc/2/comm") as fh:
            if fh.read() != "kthreadd\n":
                raise OSError
    except OSError:
        pytest.skip("no kthreadd in this pid namespace")
    k = scan_proc().procs[2]
    assert (k.comm, k.exe, k.exepath, k.args) == (b"kthreadd", b"", b"", [])


def test_excluded_processes_are_left_out(world):
    p = world["sleep"]
    snap = scan_proc(exclude_tgids=[p.pid, os.getpid()])
    assert p.pid not in snap.procs
    assert not [t for t in snap.procs.values() if t.pid in (p.pid, os.getpid())]
    assert world["files"].pid in snap.procs


def test_processes_exiting_during_the_scan():
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            kids = [subprocess.Popen(["true"]) for _ in range(10)]
            for k in kids:
                k.wait()
    spawners = [threading.Thread(target=churn) for _ in range(2)]
    for s in spawners:
        s.start()
    try:
        for _ in range(8):
            snap = scan_proc()
            assert os.getpid() in snap.procs
    finally:
        stop.set()
        for s in spawners:
            s.join()
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert gone.pid not in scan_proc().procs


# --- fds --------------------------------------------------------------------------------------

def test_files_and_their_flags(world):
    pid = world["files"].pid
    a, b, c = world["file_fds"]
    ro, wa = _fd(world, pid, a), _fd(world, pid, b)
    # Python opens everything close-on-exec
    assert (ro.typechar, ro.name, ro.flags) == ("f", str(world["ro"]).encode(),
                                                PPM_O_RDONLY | PPM_O_CLOEXEC)
    assert (wa.typechar, wa.name, wa.flags) == ("f", str(world["wa"]).encode(),
                                                PPM_O_WRONLY | PPM_O_APPEND | PPM_O_CLOEXEC)
    st = os.stat(world["ro"])
    assert ro.ino == st.st_ino and ro.dev == st.st_dev & 0xFFFFFFFF
    d = _fd(world, pid, c)
    assert (d.typechar, d.name, d.ino) == ("d", str(world["tmp"]).encode(),
                                           os.stat(world["tmp"]).st_ino)
    assert [f.fd for f in world["snap"].procs[pid].fds][:3] == [0, 1, 2]


@pytest.mark.parametrize("flags,want", [
    (0, PPM_O_RDONLY),
    (os.O_RDWR | os.O_CREAT | os.O_TRUNC, PPM_O_RDWR | PPM_O_CREAT | PPM_O_TRUNC),
    (os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC, PPM_O_WRONLY | PPM_O_NONBLOCK | PPM_O_CLOEXEC),
    (os.O_SYNC, PPM_O_RDONLY | 16 | 128),          # O_SYNC carries O_DSYNC's bit (libscap too)
])
def test_open_flags_conversion(flags, want):
    assert open_flags_to_ppm(flags) == want


def test_tcp_listener_and_both_ends(world):
    pid, o = os.getpid(), world["own"]
    srv, cli, acc = (_fd(world, pid, o[k]) for k in ("srv", "cli", "acc"))
    assert (srv.typechar, srv.l4proto, srv.cip, srv.cport, srv.sip, srv.sport) == (
        "4", 6, 0, 0, LOOPBACK4, o["port"])
    # connections list this end first
    assert (cli.typechar, cli.l4proto, cli.cip, cli.cport, cli.sip, cli.sport) == (
        "4", 6, LOOPBACK4, o["cport"], LOOPBACK4, o["port"])
    assert (acc.cip, acc.cport, acc.sip, acc.sport) == (LOOPBACK4, o["port"], LOOPBACK4,
                                                        o["cport"])
    assert cli.ino == os.fstat(o["cli"]).st_ino
    udp = _fd(world, pid, o["udp"])
    assert (udp.typechar, udp.l4proto, udp.sip, udp.sport, udp.cip) == (
        "4", 17, LOOPBACK4, o["udp_port"], 0)


def test_ipv6_sockets(world):
    o = world["own"]
    if "s6" not in o:
        pytest.skip("no IPv6 loopback")
    s6, c6 = _fd(world, os.getpid(), o["s6"]), _fd(world, os.getpid(), o["c6"])
    assert (s6.typechar, s6.l4proto, s6.cip, s6.cport, s6.sip, s6.sport) == (
        "6", 6, 0, 0, 1, o["port6"])
    assert (c6.typechar, c6.cip, c6.cport, c6.sip, c6.sport) == ("6", 1, o["cport6"], 1,
                                                                 o["port6"])


def test_unix_netlink_and_pipes(world):
    pid, o = os.getpid(), world["own"]
    ux, ab, pair = (_fd(world, pid, o[k]) for k in ("ux", "ab", "pair"))
    assert (ux.typechar, ux.name) == ("u", str(world["tmp"] / "srv.sock").encode())
    assert (ab.typechar, ab.name) == ("u", b"@sensor-test-%d" % pid)
    assert (pair.typechar, pair.name) == ("u", b"")
    assert _fd(world, pid, o["nl"]).typechar == "n"
    r, w = _fd(world, pid, o["pipe_r"]), _fd(world, pid, o["pipe_w"])
    ino = os.fstat(o["pipe_r"]).st_ino
    assert (r.typechar, r.ino, r.name) == ("p", ino, b"pipe:[%d]" % ino)
    assert (w.typechar, w.ino) == ("p", ino)


def test_sockets_of_another_network_namespace():
    if not shutil.which("unshare"):
        pytest.skip("no unshare")
    code = ("import socket, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 4444)); s.listen()\n"
            "print(s.fileno(), flush=True); time.sleep(30)\n")
    p = subprocess.Popen(["unshare", "-n", sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        fd = int(p.stdout.readline())
        snap = scan_proc()
        f = next(f for f in snap.procs[p.pid].fds if f.fd == fd)    # unshare execs python
        assert (f.typechar, f.sip, f.sport) == ("4", LOOPBACK4, 4444)
    finally:
        p.kill()
        p.wait()


def test_sock_diag_dump_knows_our_sockets(world):
    known = dump_sockets(None)
    assert known[os.fstat(world["own"]["srv"]).st_ino][:4] == ("4", 6, LOOPBACK4,
                                                               world["own"]["port"])


# --- machine, users, interfaces; the state engine ---------------------------------------------

def test_machine_users_groups_interfaces(world):
    snap = world["snap"]
    m = snap.machine
    assert m.num_cpus == os.sysconf("SC_NPROCESSORS_ONLN") and m.page_size == os.sysconf(
        "SC_PAGE_SIZE")
    assert m.hostname == os.uname().nodename.encode()
    assert m.kernel_release == os.uname().release.encode() and m.max_event_size == 0
    with open("/proc/uptime") as fh:
        up = float(fh.read().split()[0])
    assert abs(m.boot_ts - (time.time_ns() - int(up * 1e9))) < 5 * 10**9
    assert m.memory_bytes > 0
    root = next(u for u in snap.users if u.uid == 0)
    assert (root.name, root.home) == (b"root", b"/root")
    assert any(g.gid == 0 and g.name == b"root" for g in snap.groups)
    lo = [i for i in snap.interfaces if i.name == b"lo" and i.family == socket.AF_INET]
    assert lo and (lo[0].addr, lo[0].netmask) == (0x7F000001, 0xFF000000)


def test_state_engine_seeds_from_the_scan(world):
    eng = StateEngine()
    eng.seed(world["snap"])
    rows = RawRows()
    rows.add("read", ">", os.getpid(), fd=world["own"]["cli"], size=1)
    rows.add("read", ">", world["files"].pid, fd=world["file_fds"][0], size=1)
    B = eng.process(rows.batch())
    with open("/proc/self/comm") as fh:
        comm = fh.read().strip()
    me = row(eng, B, 0, "proc.name", "proc.pid", "fd.typechar", "fd.sport", "proc.cwd")
    assert me == {"proc.name": comm, "proc.pid": str(os.getpid()), "fd.typechar": "4",
                  "fd.sport": str(world["own"]["port"]), "proc.cwd": os.getcwd() + "/"}
    child = row(eng, B, 1, "proc.name", "proc.pname", "fd.name")
    assert child == {"proc.name": world["snap"].procs[world["files"].pid].comm.decode(),
                     "proc.pname": comm, "fd.name": str(world["ro"])}
