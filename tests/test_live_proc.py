"""The process probes (bpf/progs_proc.h, bpf/task.h) against real processes:
exec (success, failure, execveat), the clone family, process exit, credentials,
sessions, prctl, ptrace, kill, namespaces and bpf.  Each parameter is checked
against the truth: /proc of the process while it runs, os.stat of its binary,
what the test itself did.  Root, x86_64.

Exec'd children run `/bin/sh -c 'echo ready; read x'`: the test reads their
/proc files while they wait, then lets them go.  Children that mount things do
it in a mount namespace of their own (nothing leaks to the machine)."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import tempfile
import termios
import threading
import time
import traceback

import pytest

from live_harness import capture, needs_live

pytestmark = [needs_live, pytest.mark.skipif(platform.machine() != "x86_64",
                                             reason="x86_64 syscall numbers")]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]

NR = dict(kill=62, ptrace=101, setuid=105, setgid=106, setresuid=117, setresgid=119,
          setsid=112, prctl=157, unshare=272, setns=308, bpf=321, execve=59, execveat=322)
AT_FDCWD, AT_EMPTY_PATH = -100, 0x1000
CLONE_PARENT = 0x8000
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x04000000, 0x08000000, 0x20000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_SET_DUMPABLE, PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_DROP = 4, 15, 16, 24
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_NET_RAW = 0, 1, 3, 13
PPM_CL_CHILD_IN_PIDNS = 1 << 29
EXE_WRITABLE, EXE_UPPER_LAYER, EXE_FROM_MEMFD = 1, 2, 4
WAIT_SCRIPT = "echo ready; read x"
NOBODY, USER, GROUP = 65534, 1000, 4242


_BYREF = type(ctypes.byref(ctypes.c_int()))


def _arg(a):
    if a is None:
        return ctypes.c_void_p(None)
    if isinstance(a, (bytes, ctypes.Array, ctypes._Pointer, ctypes.c_void_p, _BYREF)):
        return a
    return ctypes.c_long(a)


def sc(name, *args):
    """The raw syscall: its result, or -errno."""
    r = libc.syscall(ctypes.c_long(NR[name]), *(_arg(a) for a in args))
    return r if r >= 0 else -ctypes.get_errno()


def cstrs(*items):
    """A NULL-terminated char* array."""
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)


def only(events, name, tid, **match):
    got = [e for e in events if e.name == name and e.tid == tid
           and all(e.args.get(k) == v for k, v in match.items())]
    assert len(got) == 1, f"{len(got)} {name} events of {tid} matching {match}: {got}"
    return got[0]


def mount(src, target, fstype, flags=0, data=None):
    enc = (lambda s: s.encode() if isinstance(s, str) else s)
    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {src} {target} {fstype}: {os.strerror(e)}")


def private_mounts():
    """A mount namespace of this process's own, its mounts not shared back."""
    if sc("unshare", CLONE_NEWNS) < 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def child(body) -> int:
    """Fork a child that runs body() then exits 0 (1 on an exception)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            body()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def reap(pid) -> int:
    return os.waitpid(pid, 0)[1]


def kernel_dev(rdev: int) -> int:
    """The kernel's new_encode_dev (tty_nr, the driver's tty)."""
    ma, mi = os.major(rdev), os.minor(rdev)
    return (mi & 0xFF) | (ma << 8) | ((mi & ~0xFF) << 12)


def stat_ns(path):
    st = os.stat(path)
    return st.st_ino, st.st_ctime_ns, st.st_mtime_ns


def boot_epoch_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def proc_start_ns(pid) -> int:
    """When the process started, in ns since the epoch (clock-tick precision)."""
    ticks = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK") + boot_epoch_ns()


def self_cmdline():
    parts = open("/proc/self/cmdline", "rb").read()
    exe, _, rest = parts.partition(b"\0")
    return exe, rest


def comm_of(pid="self") -> bytes:
    return open(f"/proc/{pid}/comm", "rb").read().rstrip(b"\n")


@pytest.fixture
def base():
    """A directory every user can traverse (pytest's tmp_path is root-only)."""
    d = tempfile.mkdtemp(prefix="live-proc-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# --- exec'd children that wait: their /proc is the truth --------------------------------

class Waiter:
    """A child that sets itself up (setup, in the child), then execs
    `/bin/sh -c WAIT_SCRIPT a b` with env, and waits for a line on stdin."""

    def __init__(self, setup=None, env=None, argv0="/bin/sh"):
        self.env = {"A": "1", "B": "x y"} if env is None else env
        self.argv = [argv0, "-c", WAIT_SCRIPT, "a b"]
        self.setup = setup
        self.truth = {}

    def start(self):
        in_r, self.in_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.dup2(in_r, 0)
                os.dup2(out_w, 1)
                if self.setup:
                    self.setup()
                os.execve("/bin/sh", self.argv, self.env)
            except BaseException:
                traceback.print_exc()
            os._exit(127)
        os.close(in_r)
        os.close(out_w)
        return self

    def read_proc(self):
        got = b""
        while b"ready\n" not in got:
            chunk = os.read(self.out_r, 100)
            assert chunk, f"child {self.pid} ended before it was ready"
            got += chunk
        p = f"/proc/{self.pid}"
        stat_fields = open(f"{p}/stat").read().rsplit(")", 1)[1].split()
        status = dict(line.split(":", 1) for line in open(f"{p}/status").read().splitlines())
        cg = expected_cgroups(open(f"{p}/cgroup").read())
        self.truth = dict(
            pgid=int(stat_fields[2]), tty=int(stat_fields[4]),
            caps=tuple(int(status[k], 16) for k in ("CapInh", "CapPrm", "CapEff")),
            euid=int(status["Uid"].split()[1]), comm=comm_of(self.pid),
            cgroup=cg,
            loginuid=int(open(f"{p}/loginuid").read()),
            fdlimit=int([ln for ln in open(f"{p}/limits").read().splitlines()
                         if ln.startswith("Max open files")][0].split()[3]),
            cwd=os.readlink(f"{p}/cwd"), exe=os.readlink(f"{p}/exe"))

    def finish(self):
        os.write(self.in_w, b"\n")
        os.close(self.in_w)
        os.close(self.out_r)
        return reap(self.pid)


def run_waiters(waiters, syscalls=("execve", "execveat")):
    def act():
        started = []
        try:
            for w in waiters:
                started.append(w.start())
            for w in waiters:
                w.read_proc()
            for w in waiters:
                assert w.finish() == 0
        except BaseException:
            for w in started:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                    reap(w.pid)
                except OSError:
                    pass
            raise
    return capture(list(syscalls), act)


def check_exec_common(e, w, *, ptid, own_mounts=False):
    """The parameters every Waiter's execve event shares with its /proc (a child
    in its own mount namespace has a cwd that d_path cannot show from here)."""
    t = w.truth
    assert e.res == 0
    if not own_mounts:
        assert e.args["cwd"] == t["cwd"].encode()
    assert e.args["exe"] == w.argv[0].encode()
    assert e.args["args"] == b"".join(a.encode() + b"\0" for a in w.argv[1:])
    assert (e.args["tid"], e.args["pid"], e.args["ptid"]) == (w.pid, w.pid, ptid)
    assert e.args["fdlimit"] == t["fdlimit"]
    assert e.args["comm"] == t["comm"] == b"sh"
    assert e.args["cgroups"] == t["cgroup"]
    assert e.args["env"] == b"".join(f"{k}={v}\0".encode() for k, v in w.env.items())
    assert e.args["tty"] == t["tty"]
    assert e.args["pgid"] == t["pgid"]
    assert e.args["loginuid"] == t["loginuid"]
    caps = (e.args["cap_inheritable"], e.args["cap_permitted"], e.args["cap_effective"])
    assert caps == t["caps"]
    assert e.args["uid"] == t["euid"]
    ino, ctime, mtime = stat_ns("/bin/sh")
    assert (e.args["exe_ino"], e.args["exe_ino_ctime"], e.args["exe_ino_mtime"]) == (
        ino, ctime, mtime)
    assert e.args["trusted_exepath"] == t["exe"].encode() == os.path.realpath("/bin/sh").encode()
    assert e.args["filename"] == b"/bin/sh"


# --- execve: success ------------------------------------------------------------------------

def expected_cgroups(proc_cgroup: str) -> bytes:
    """The probes' cgroups parameter for a /proc/PID/cgroup text: for cpu and
    memory, the controller's v1 cgroup when it has a v1 hierarchy, else the
    v2 ("0::") one."""
    v1, v2 = {}, "/"
    for line in proc_cgroup.splitlines():
        hid, subs, path = line.split(":", 2)
        if hid == "0" and not subs:
            v2 = path
        for sub in subs.split(","):
            if sub:
                v1[sub] = path
    return b"".join(f"{c}={v1.get(c, v2)}\0".encode() for c in ("cpu", "memory"))


def _v1_controllers() -> set:
    return {sub for ln in open("/proc/self/cgroup").read().splitlines()
            for sub in ln.split(":", 2)[1].split(",") if sub}


def _cgroup2_mount():
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype = line.split()[:3]
        if fstype == "cgroup2":
            return mnt
    return None


def test_execve_success(base):
    """Six children, each parameter against the child's /proc."""
    plain = os.path.join(base, "plain")
    os.mkdir(plain)

    def setup_plain():
        os.setsid()                              # no controlling tty, its own group
        os.chdir(plain)
        resource.setrlimit(resource.RLIMIT_NOFILE, (333, 1024))

    w_plain = Waiter(setup_plain)

    # cwd through two mount points: a tmpfs, and a bind mount inside it
    src, m1 = os.path.join(base, "src"), os.path.join(base, "m1")
    os.makedirs(os.path.join(src, "deep"))
    os.mkdir(m1)
    deep = os.path.join(m1, "a", "b", "deep")

    def setup_mounts():
        private_mounts()
        mount("tmpfs", m1, "tmpfs")
        os.makedirs(os.path.join(m1, "a", "b"))
        mount(src, os.path.join(m1, "a", "b"), None, MS_BIND)
        os.chdir(deep)
        assert os.getcwd() == deep
        assert os.path.ismount(m1) and os.path.ismount(os.path.join(m1, "a", "b"))

    w_mounts = Waiter(setup_mounts, env={})

    # capabilities: CAP_NET_RAW out of the bounding set, CAP_CHOWN inheritable
    class CapHeader(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class CapData(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    def setup_caps():
        assert sc("prctl", PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) == 0
        hdr = CapHeader(0x20080522, 0)           # _LINUX_CAPABILITY_VERSION_3
        data = (CapData * 2)()
        assert libc.capget(ctypes.byref(hdr), data) == 0
        data[0].inheritable = 1 << CAP_CHOWN
        assert libc.capset(ctypes.byref(hdr), data) == 0

    w_caps = Waiter(setup_caps, env={"ONLY": "one"})

    # not root: euid, no capabilities, root's /bin/sh not writable
    def setup_nobody():
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)

    w_nobody = Waiter(setup_nobody)

    # a cgroup v2 leaf, and a login uid
    cg_root = _cgroup2_mount()
    cg_dir = None
    if cg_root:
        cg_dir = os.path.join(cg_root, f"live-proc-{os.getpid()}", "leaf")
        try:
            os.makedirs(cg_dir)
        except OSError:
            cg_dir = None

    def setup_cgroup():
        if cg_dir:
            with open(os.path.join(cg_dir, "cgroup.procs"), "w") as f:
                f.write("0")
        try:
            with open("/proc/self/loginuid", "w") as f:
                f.write("1000")
        except OSError:
            pass                                   # no audit: stays as it is

    w_cgroup = Waiter(setup_cgroup)

    # a controlling terminal: a pty's slave
    try:
        master, slave = os.openpty()
        slave_rdev = os.fstat(slave).st_rdev
    except OSError:
        master = slave = None

    def setup_tty():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    w_tty = Waiter(setup_tty) if slave is not None else None

    waiters = [w for w in (w_plain, w_mounts, w_caps, w_nobody, w_cgroup, w_tty) if w]
    try:
        evs = run_waiters(waiters)
    finally:
        if slave is not None:
            os.close(slave)
            os.close(master)
        if cg_dir:
            for d in (cg_dir, os.path.dirname(cg_dir)):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
    me = os.getpid()

    for w in waiters:
        e = only(evs, "execve", w.pid)
        check_exec_common(e, w, ptid=me, own_mounts=w is w_mounts)
        root = w is not w_nobody
        assert e.args["flags"] == (EXE_WRITABLE if root else 0), e.text("flags")
        assert e.text("flags") == ("EXE_WRITABLE" if root else "0")

    e = only(evs, "execve", w_plain.pid)
    assert e.args["cwd"] == plain.encode() == w_plain.truth["cwd"].encode()
    assert e.args["fdlimit"] == 333
    assert e.args["tty"] == 0 and e.args["pgid"] == w_plain.pid
    assert e.args["env"] == b"A=1\0B=x y\0"

    # the mount namespace is the child's own: its cwd is known, not readable from here
    e = only(evs, "execve", w_mounts.pid)
    assert e.args["cwd"] == deep.encode()
    assert e.args["env"] == b""

    e = only(evs, "execve", w_caps.pid)
    inh, prm, eff = w_caps.truth["caps"]
    assert inh == 1 << CAP_CHOWN and not prm & (1 << CAP_NET_RAW) and prm & (1 << CAP_CHOWN)
    assert e.args["env"] == b"ONLY=one\0"

    e = only(evs, "execve", w_nobody.pid)
    assert e.args["uid"] == NOBODY
    assert w_nobody.truth["caps"] == (0, 0, 0)

    e = only(evs, "execve", w_cgroup.pid)
    if cg_dir:
        assert e.args["cgroups"] == w_cgroup.truth["cgroup"]
        if "cpu" not in _v1_controllers():                # the leaf is where cpu is
            assert e.args["cgroups"].startswith(f"cpu=/live-proc-{me}/leaf\0".encode())
    assert e.args["cwd"] == os.getcwd().encode()           # inherited
    want_login = int(open("/proc/self/loginuid").read())
    if w_cgroup.truth["loginuid"] != want_login:
        assert e.args["loginuid"] == 1000                   # set in the child
    else:
        assert e.args["loginuid"] == want_login             # 4294967295: unset

    if w_tty:
        e = only(evs, "execve", w_tty.pid)
        assert e.args["tty"] == kernel_dev(slave_rdev) == w_tty.truth["tty"] != 0
        assert e.args["pgid"] == w_tty.pid


# --- execve: failures, execveat ---------------------------------------------------------------

def test_execve_failures_describe_the_caller(base):
    noexec = os.path.join(base, "noexec")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(noexec, 0o644)
    r = {}

    def body():
        for path in (b"/nonexistent/prog", noexec.encode()):
            sc("execve", path, cstrs(path, b"x"), cstrs(b"E=1"))

    def act():
        r["pid"] = child(body)
        assert reap(r["pid"]) == 0
    evs = capture(["execve", "execveat"], act)

    exe, rest = self_cmdline()
    ino, ctime, mtime = stat_ns("/proc/self/exe")
    environ = open("/proc/self/environ", "rb").read()
    for path, err in ((b"/nonexistent/prog", errno.ENOENT), (noexec.encode(), errno.EACCES)):
        e = only(evs, "execve", r["pid"], filename=path)
        assert e.res == -err
        assert e.args["exe"] == exe and e.args["args"] == rest[:4096]
        assert (e.args["tid"], e.args["pid"], e.args["ptid"]) == (r["pid"], r["pid"], os.getpid())
        assert e.args["cwd"] == os.getcwd().encode()
        assert e.args["comm"] == comm_of()
        assert e.args["fdlimit"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert e.args["env"] == environ[:4096]
        assert e.args["uid"] == 0 and e.args["flags"] == EXE_WRITABLE
        assert (e.args["exe_ino"], e.args["exe_ino_ctime"], e.args["exe_ino_mtime"]) == (
            ino, ctime, mtime)
        assert e.args["trusted_exepath"] == os.readlink("/proc/self/exe").encode()


def test_execveat(base):
    """A successful execveat leaves through execve's exit tracepoint (the kernel
    makes every successful 64-bit exec look like execve): still an execveat event."""
    r = {}
    true = os.path.realpath("/usr/bin/true")

    def at_dir():
        dfd = os.open(os.path.dirname(true), os.O_RDONLY | os.O_DIRECTORY)
        name = os.path.basename(true).encode()
        r_bad = sc("execveat", dfd, b"nonexistent", cstrs(b"x"), None, 0)
        assert r_bad == -errno.ENOENT
        sc("execveat", dfd, name, cstrs(b"truex", b"arg1", b"arg 2"), cstrs(b"K=V"), 0)

    def at_empty():
        fd = os.open(true, os.O_RDONLY)
        os.dup2(fd, 42)
        sc("execveat", 42, b"", cstrs(b"viafd"), None, AT_EMPTY_PATH)

    def act():
        r["dir"] = child(at_dir)
        r["empty"] = child(at_empty)
        for k in ("dir", "empty"):
            assert reap(r[k]) == 0
    evs = capture(["execve", "execveat"], act)
    ours = (r["dir"], r["empty"])           # other processes of the machine exec too
    assert not [e for e in evs if e.name == "execve" and e.tid in ours]
    ino, ctime, mtime = stat_ns(true)

    bad = only(evs, "execveat", r["dir"], pathname=b"nonexistent")
    assert bad.res == -errno.ENOENT
    dfd = bad.args["dirfd"]
    assert dfd >= 3
    assert bad.args["exe"] == self_cmdline()[0]             # still the caller

    e = only(evs, "execveat", r["dir"], pathname=os.path.basename(true).encode())
    assert e.res == 0 and e.args["dirfd"] == dfd
    assert (e.args["exe"], e.args["args"]) == (b"truex", b"arg1\0arg 2\0")
    assert e.args["env"] == b"K=V\0"
    assert e.args["comm"] == os.path.basename(true).encode()
    assert e.args["trusted_exepath"] == true.encode()
    assert (e.args["exe_ino"], e.args["exe_ino_ctime"], e.args["exe_ino_mtime"]) == (
        ino, ctime, mtime)
    assert (e.args["tid"], e.args["ptid"]) == (r["dir"], os.getpid())

    e = only(evs, "execveat", r["empty"])
    assert e.res == 0 and (e.args["dirfd"], e.args["pathname"]) == (42, b"")
    assert (e.args["exe"], e.args["args"], e.args["env"]) == (b"viafd", b"", b"")
    # the program's name: /dev/fd/42's basename, or (kernels since 6.14) the file's
    assert e.args["comm"] in (b"42", os.path.basename(true).encode())
    assert e.args["trusted_exepath"] == true.encode()
    assert e.args["exe_ino"] == ino


# --- execve flags: writable, overlay upper layer, memfd ------------------------------------

def _copy_exe(dst, uid=0, gid=0, mode=0o755):
    shutil.copyfile("/usr/bin/true", dst)
    os.chown(dst, uid, gid)
    os.chmod(dst, mode)


def ns_runs(setup, runs):
    """A child in a mount namespace of its own: setup(), then each of runs (a
    function that execs) in a grandchild.  Returns the child's pid and a list
    the grandchildren's pids are put in (after reap)."""
    r, w = os.pipe()

    def body():
        os.close(r)
        private_mounts()
        setup()
        pids = []
        for run in runs:
            g = os.fork()
            if g == 0:
                try:
                    run()
                finally:
                    os._exit(127)
            status = reap(g)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (run, status)
            pids.append(g)
        os.write(w, json.dumps(pids).encode())
    pid = child(body)
    os.close(w)
    return pid, r


def ns_pids(pid, r):
    assert reap(pid) == 0
    data = os.read(r, 4096)
    os.close(r)
    return json.loads(data)


def as_user(uid, gid, groups=()):
    def pre():
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    return pre


def drop_caps(*caps):
    def pre():
        for c in caps:
            assert sc("prctl", PR_CAPBSET_DROP, c, 0, 0, 0) == 0
    return pre


def test_exe_flags_writable(base):
    """EXE_WRITABLE as the driver means it (could this process write its own
    executable?): owner yes, group or other write bit, CAP_DAC_OVERRIDE or
    CAP_FOWNER; never on a read-only filesystem or mount."""
    bins = {
        "nobody755": (NOBODY, NOBODY, 0o755), "nobody757": (NOBODY, NOBODY, 0o757),
        "nobody555": (NOBODY, NOBODY, 0o555), "group775": (NOBODY, GROUP, 0o775)}
    for name, (uid, gid, mode) in bins.items():
        _copy_exe(os.path.join(base, name), uid, gid, mode)
    for d in ("rofs", "robind", "bindsrc"):
        os.mkdir(os.path.join(base, d))
    _copy_exe(os.path.join(base, "bindsrc", "prog"))
    rofs, robind = os.path.join(base, "rofs"), os.path.join(base, "robind")

    def setup():
        mount("tmpfs", rofs, "tmpfs", 0, "mode=0755")
        _copy_exe(os.path.join(rofs, "prog"))
        mount(None, rofs, None, MS_REMOUNT | MS_RDONLY)              # a read-only superblock
        mount(os.path.join(base, "bindsrc"), robind, None, MS_BIND)
        mount(None, robind, None, MS_REMOUNT | MS_BIND | MS_RDONLY)  # a read-only mount

    def run(path, pre=None):
        def go():
            if pre:
                pre()
            os.execve(path, [os.path.basename(path)], {})
        return go

    def memfd():
        mfd = os.memfd_create("live-proc", 0)
        os.write(mfd, open("/usr/bin/true", "rb").read())
        os.execve(f"/proc/self/fd/{mfd}", ["memexe"], {})

    b = lambda n: os.path.join(base, n)          # noqa: E731
    no_dac = drop_caps(CAP_DAC_OVERRIDE, CAP_FOWNER)
    rofs_prog, robind_prog = os.path.join(rofs, "prog"), os.path.join(robind, "prog")
    cases = [   # (run, expected flags, path to stat or None, the binary's path)
        (run(b("nobody755")), EXE_WRITABLE, b("nobody755"), None),            # CAP_DAC_OVERRIDE
        (run(b("nobody755"), no_dac), 0, b("nobody755"), None),
        (run(b("nobody757"), no_dac), EXE_WRITABLE, b("nobody757"), None),    # other may write
        (run(b("nobody555"), as_user(NOBODY, NOBODY)), EXE_WRITABLE, b("nobody555"), None),
        (run(b("group775"), as_user(USER, USER, [GROUP])), EXE_WRITABLE, b("group775"), None),
        (run(b("group775"), as_user(USER, USER)), 0, b("group775"), None),
        (run("/usr/bin/true", as_user(NOBODY, NOBODY)), 0, "/usr/bin/true", None),
        (run(rofs_prog), 0, None, rofs_prog),
        (run(robind_prog), 0, b("bindsrc/prog"), robind_prog),    # same inode, other mount
        (memfd, EXE_WRITABLE | EXE_FROM_MEMFD, None, None),
    ]
    out = {}

    def act():
        out["pid"], out["r"] = ns_runs(setup, [c[0] for c in cases])
        out["pids"] = ns_pids(out["pid"], out["r"])
    evs = capture(["execve", "execveat"], act)

    for (_, want, path, exe_path), pid in zip(cases, out["pids"]):
        e = only(evs, "execve", pid)
        assert e.res == 0
        assert e.args["flags"] == want, (path, exe_path, e.text("flags"))
        if path:
            ino, ctime, mtime = stat_ns(path)
            assert (e.args["exe_ino"], e.args["exe_ino_ctime"], e.args["exe_ino_mtime"]) == (
                ino, ctime, mtime)
        if path or exe_path:
            want_path = exe_path or os.path.realpath(path)
            assert e.args["trusted_exepath"] == want_path.encode()
    no_dac_ev = only(evs, "execve", out["pids"][1])
    assert not no_dac_ev.args["cap_effective"] & ((1 << CAP_DAC_OVERRIDE) | (1 << CAP_FOWNER))

    # a memfd: its path is the memfd's name (the kernel's d_path adds " (deleted)")
    e = only(evs, "execve", out["pids"][-1])
    assert e.text("flags") == "EXE_WRITABLE|EXE_FROM_MEMFD"
    assert e.args["trusted_exepath"] == b"/memfd:live-proc"
    assert e.args["filename"].startswith(b"/proc/self/fd/")
    assert e.args["comm"] == e.args["filename"].rsplit(b"/", 1)[1]   # the fd number
    assert e.args["exe"] == b"memexe"


def _overlay_ok(base) -> str:
    """Why an overlay mount is impossible here ("" when it works)."""
    d = os.path.join(base, "probe")
    for s in ("l", "u", "w", "m"):
        os.makedirs(os.path.join(d, s))
    pid = child(lambda: (private_mounts(), mount(
        "overlay", os.path.join(d, "m"), "overlay", 0,
        f"lowerdir={d}/l,upperdir={d}/u,workdir={d}/w")))
    return "" if reap(pid) == 0 else "mount -t overlay refused"


def test_exe_flags_overlay_upper_layer(base):
    why = _overlay_ok(base)
    if why:
        pytest.skip(why)
    o = os.path.join(base, "ovl")
    lower, upper, work, merged = (os.path.join(o, s) for s in ("lower", "upper", "work", "merged"))
    for p in (lower, upper, work, merged):
        os.makedirs(p)
    _copy_exe(os.path.join(lower, "lowbin"))

    def setup():
        mount("overlay", merged, "overlay", 0,
              f"lowerdir={lower},upperdir={upper},workdir={work}")
        _copy_exe(os.path.join(merged, "upbin"))          # lands in the upper layer

    runs = [lambda: os.execve(os.path.join(merged, "upbin"), ["upbin"], {}),
            lambda: os.execve(os.path.join(merged, "lowbin"), ["lowbin"], {})]
    out = {}

    def act():
        pid, r = ns_runs(setup, runs)
        out["pids"] = ns_pids(pid, r)
    evs = capture(["execve"], act)
    assert os.path.exists(os.path.join(upper, "upbin"))
    assert not os.path.exists(os.path.join(upper, "lowbin"))

    up = only(evs, "execve", out["pids"][0])
    assert up.res == 0 and up.args["flags"] == EXE_UPPER_LAYER | EXE_WRITABLE, up.text("flags")
    assert up.text("flags") == "EXE_WRITABLE|EXE_UPPER_LAYER"
    assert up.args["trusted_exepath"] == os.path.join(merged, "upbin").encode()
    low = only(evs, "execve", out["pids"][1])
    assert low.res == 0 and low.args["flags"] == EXE_WRITABLE, low.text("flags")
    assert low.args["trusted_exepath"] == os.path.join(merged, "lowbin").encode()


# --- the clone family ----------------------------------------------------------------------------

CLONE_FORK_TEXT = "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"
CLONE_THREAD_TEXT = ("CLONE_FILES|CLONE_FS|CLONE_PARENT_SETTID|CLONE_SIGHAND|CLONE_SYSVSEM|"
                     "CLONE_THREAD|CLONE_VM|CLONE_CHILD_CLEARTID|CLONE_SETTLS")
CLONE_VFORK_TEXT = "CLONE_VM|CLONE_VFORK"


def check_clone_task(e, *, tid, pid, ptid, res):
    """The caller's or child's common parameters: this test process's image."""
    exe, rest = self_cmdline()
    assert e.res == res
    assert (e.args["exe"], e.args["args"]) == (exe, rest[:4096])
    assert (e.args["tid"], e.args["pid"], e.args["ptid"]) == (tid, pid, ptid)
    assert (e.args["vtid"], e.args["vpid"]) == (tid, pid)         # one pid namespace
    assert e.args["cwd"] == os.getcwd().encode()
    assert e.args["comm"] == comm_of()
    assert e.args["fdlimit"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert (e.args["uid"], e.args["gid"]) == (os.geteuid(), os.getegid())
    assert e.args["vm_size"] > 0
    assert not e.args["flags"] & PPM_CL_CHILD_IN_PIDNS
    # the start of this pid namespace's init, ns since the epoch
    assert abs(e.args["pidns_init_start_ts"] - proc_start_ns(1)) < 50_000_000


def test_clone_fork_thread_vfork():
    r = {}
    me, parent = os.getpid(), os.getppid()

    def act():
        r["fork"] = child(lambda: None)
        reap(r["fork"])
        t = threading.Thread(target=lambda: r.setdefault("thread", threading.get_native_id()))
        t.start()
        t.join()
        # glibc's posix_spawn: clone3(CLONE_VM|CLONE_VFORK)
        r["spawn"] = os.posix_spawn("/bin/true", ["true"], {})
        reap(r["spawn"])
        p = subprocess.Popen(["/bin/true"])            # CPython: vfork() (with close_fds)
        p.wait()
        r["vfork"] = p.pid
        p = subprocess.Popen(["/bin/true"], close_fds=False)   # CPython: posix_spawn
        p.wait()
        r["popen_spawn"] = p.pid
    evs = capture(["clone", "clone3", "fork", "vfork"], act)

    # os.fork: glibc's fork is clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD)
    caller = only(evs, "clone", me, res=r["fork"])
    check_clone_task(caller, tid=me, pid=me, ptid=parent, res=r["fork"])
    assert caller.text("flags") == CLONE_FORK_TEXT
    new = only(evs, "clone", r["fork"])
    check_clone_task(new, tid=r["fork"], pid=r["fork"], ptid=me, res=0)
    assert new.text("flags") == CLONE_FORK_TEXT

    # a thread: glibc 2.34+ makes it with clone3; the new thread reads the same flags
    kind = "clone3" if [e for e in evs if e.name == "clone3" and e.tid == me] else "clone"
    th = r["thread"]
    caller = only(evs, kind, me, res=th)
    check_clone_task(caller, tid=me, pid=me, ptid=parent, res=th)
    assert caller.text("flags") == CLONE_THREAD_TEXT
    new = only(evs, kind, th)
    check_clone_task(new, tid=th, pid=me, ptid=parent, res=0)   # ptid: the process's parent
    assert new.text("flags") == CLONE_THREAD_TEXT

    # posix_spawn: clone3 (or clone) with CLONE_VM|CLONE_VFORK
    sp = r["spawn"]
    caller = [e for e in evs if e.tid == me and e.res == sp]
    assert len(caller) == 1 and caller[0].name in ("clone3", "clone")
    assert caller[0].text("flags") == CLONE_VFORK_TEXT
    new = only(evs, caller[0].name, sp)
    check_clone_task(new, tid=sp, pid=sp, ptid=me, res=0)
    assert new.text("flags") == CLONE_VFORK_TEXT

    # subprocess without preexec_fn: vfork(2)
    vf = r["vfork"]
    caller = only(evs, "vfork", me, res=vf)
    check_clone_task(caller, tid=me, pid=me, ptid=parent, res=vf)
    assert caller.text("flags") == CLONE_VFORK_TEXT
    new = only(evs, "vfork", vf)
    check_clone_task(new, tid=vf, pid=vf, ptid=me, res=0)

    # subprocess with close_fds=False: posix_spawn, as os.posix_spawn
    ps = r["popen_spawn"]
    caller = [e for e in evs if e.tid == me and e.res == ps]
    assert len(caller) == 1 and caller[0].text("flags") == CLONE_VFORK_TEXT
    assert only(evs, caller[0].name, ps).text("flags") == CLONE_VFORK_TEXT


def test_clone_in_new_pid_namespace():
    """A child that unshares CLONE_NEWPID, then forks: the grandchild is 1 in
    its namespace, and both clone events say CHILD_IN_PIDNS."""
    r = {}
    rd, wr = os.pipe()

    def body():
        assert sc("unshare", CLONE_NEWPID) == 0
        g = child(lambda: None)
        reap(g)
        os.write(wr, str(g).encode())

    def act():
        r["start"] = time.time_ns()
        r["child"] = child(body)
        assert reap(r["child"]) == 0
        r["grand"] = int(os.read(rd, 100))
    evs = capture(["clone", "clone3", "fork", "vfork"], act)
    os.close(rd)
    os.close(wr)

    c, g = r["child"], r["grand"]
    caller = only(evs, "clone", c, res=g)
    assert (caller.args["vtid"], caller.args["vpid"]) == (c, c)
    assert caller.args["flags"] & PPM_CL_CHILD_IN_PIDNS
    new = only(evs, "clone", g)
    assert (new.args["tid"], new.args["pid"], new.args["ptid"]) == (g, g, c)
    assert (new.args["vtid"], new.args["vpid"]) == (1, 1)
    assert new.args["flags"] & PPM_CL_CHILD_IN_PIDNS
    assert new.text("flags") == CLONE_FORK_TEXT        # the pidns bit has no name
    # its namespace's init is itself: started during this test
    assert r["start"] - 50_000_000 < new.args["pidns_init_start_ts"] < time.time_ns()
    assert new.args["pidns_init_start_ts"] > caller.args["pidns_init_start_ts"]


# --- process exit --------------------------------------------------------------------------------

def test_procexit(base):
    r = {}

    def threads_then_exit():
        ts = [threading.Thread(target=lambda: r.setdefault("t", []).append(
            threading.get_native_id())) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()                                   # these two end with exit(0)
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        time.sleep(0.05)
        os._exit(5)                                    # exit_group: the sleeper goes with 5

    def act():
        r["exit3"] = child(lambda: os._exit(3))
        r["s_exit3"] = reap(r["exit3"])
        r["killed"] = child(lambda: time.sleep(30))
        os.kill(r["killed"], signal.SIGKILL)
        r["s_killed"] = reap(r["killed"])
        # a core dump: a small shell killed by SIGSEGV in a directory it may write
        p = subprocess.Popen(["/bin/sh", "-c", "kill -SEGV $$"], cwd=base,
                             preexec_fn=lambda: resource.setrlimit(
                                 resource.RLIMIT_CORE, (1 << 30, 1 << 30)))
        r["core"] = p.pid
        r["s_core"] = reap(p.pid)
        p.returncode = 0
        r["mt"] = child(threads_then_exit)
        r["s_mt"] = reap(r["mt"])
    evs = capture(["clone", "clone3"], act)

    def pexit(tid):
        return only(evs, "procexit", tid)

    e = pexit(r["exit3"])
    assert (e.args["status"], e.args["ret"], e.args["sig"], e.args["core"]) == (
        r["s_exit3"], 3, 0, 0) == (3 << 8, 3, 0, 0)
    e = pexit(r["killed"])
    assert os.WIFSIGNALED(r["s_killed"]) and os.WTERMSIG(r["s_killed"]) == signal.SIGKILL
    assert (e.args["status"], e.args["ret"], e.args["sig"], e.args["core"]) == (
        r["s_killed"], 0, signal.SIGKILL, 0)
    assert e.text("sig") == "SIGKILL"

    # each thread of the multi-threaded child: its own procexit
    s = r["s_mt"]
    assert os.WIFEXITED(s) and os.WEXITSTATUS(s) == 5
    mt = r["mt"]
    thread_ids = {e.res for e in evs if e.name in ("clone3", "clone") and e.tid == mt
                  and e.res > 0}
    assert len(thread_ids) == 3
    ended = {e.tid: e for e in evs if e.name == "procexit" and (e.tid in thread_ids or e.tid == mt)}
    assert set(ended) == thread_ids | {mt}
    assert (ended[mt].args["status"], ended[mt].args["ret"]) == (s, 5)
    codes = sorted((e.args["status"], e.args["ret"]) for t, e in ended.items() if t != mt)
    assert codes == [(0, 0), (0, 0), (5 << 8, 5)]      # two exit(0), the sleeper by exit_group

    s = r["s_core"]
    e = pexit(r["core"])
    assert os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGSEGV
    assert (e.args["status"], e.args["sig"], e.args["core"]) == (
        s, signal.SIGSEGV, int(os.WCOREDUMP(s)))
    assert e.text("sig") == "SIGSEGV"
    if not os.WCOREDUMP(s):
        pytest.skip("no core dump was written here (core_pattern, limits)")
    assert e.args["status"] == signal.SIGSEGV | 0x80


# --- credentials and sessions ------------------------------------------------------------------

def test_credentials_and_setsid():
    r = {}
    rd, wr = os.pipe()

    def body():
        out = {
            "setgid": sc("setgid", GROUP),
            "setresgid": sc("setresgid", GROUP + 1, GROUP + 2, GROUP + 3),
            "setuid0": sc("setuid", 0),
            "setresuid": sc("setresuid", USER, USER + 1, USER + 2),
            "setuid_eperm": sc("setuid", 0),                 # no longer root
            "setresgid_eperm": sc("setresgid", 0, 0, 0),
            "setgid_eperm": sc("setgid", 0),
            "setsid": sc("setsid"),
            "setsid_eperm": sc("setsid"),                    # a session leader already
        }
        g = child(lambda: None)                              # the clone events' uid/gid
        reap(g)
        out["grand"] = g
        os.write(wr, json.dumps(out).encode())

    def act():
        r["pid"] = child(body)
        assert reap(r["pid"]) == 0
        r.update(json.loads(os.read(rd, 4096)))
    evs = capture(["setuid", "setgid", "setresuid", "setresgid", "setsid", "clone"], act)
    os.close(rd)
    os.close(wr)
    c = r["pid"]

    assert only(evs, "setgid", c, gid=GROUP).res == r["setgid"] == 0
    e = only(evs, "setresgid", c, rgid=GROUP + 1)
    assert (e.res, e.args["egid"], e.args["sgid"]) == (0, GROUP + 2, GROUP + 3)
    ok, bad = [e for e in evs if e.name == "setuid" and e.tid == c]
    assert (ok.res, ok.args["uid"]) == (0, 0)
    assert (bad.res, bad.args["uid"]) == (r["setuid_eperm"], 0) == (-errno.EPERM, 0)
    assert bad.text("res") == "EPERM"
    e = only(evs, "setresuid", c)
    assert (e.res, e.args["ruid"], e.args["euid"], e.args["suid"]) == (0, USER, USER + 1, USER + 2)
    e = only(evs, "setresgid", c, rgid=0)
    assert e.res == r["setresgid_eperm"] == -errno.EPERM
    assert (e.args["egid"], e.args["sgid"]) == (0, 0)
    assert only(evs, "setgid", c, gid=0).res == r["setgid_eperm"] == -errno.EPERM
    first, second = [e for e in evs if e.name == "setsid" and e.tid == c]
    assert first.res == r["setsid"] == c                    # the new session's id
    assert second.res == r["setsid_eperm"] == -errno.EPERM

    # a fork after the changes: the clone events carry the effective ids
    for e in (only(evs, "clone", c, res=r["grand"]), only(evs, "clone", r["grand"])):
        assert (e.args["uid"], e.args["gid"]) == (USER + 1, GROUP + 2)


# --- prctl, ptrace, kill, setns, unshare, bpf -----------------------------------------------

def test_prctl():
    r = {}

    def body():
        name = ctypes.create_string_buffer(b"live-proc-a-long-name", 32)
        out = ctypes.create_string_buffer(32)
        val = ctypes.c_int(-7)
        res = [sc("prctl", PR_SET_NAME, name, 0, 0, 0),
               sc("prctl", PR_GET_NAME, out, 0, 0, 0),
               sc("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0),
               sc("prctl", PR_GET_CHILD_SUBREAPER, ctypes.byref(val), 0, 0, 0),
               sc("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0),
               sc("prctl", 9999, 1234, 0, 0, 0)]
        assert res[:5] == [0] * 5 and res[5] == -errno.EINVAL, res
        assert out.value == b"live-proc-a-lon" and val.value == 1

    def act():
        r["pid"] = child(body)
        assert reap(r["pid"]) == 0
    evs = capture(["prctl"], act)
    c = r["pid"]

    e = only(evs, "prctl", c, option=PR_SET_NAME)
    assert (e.res, e.text("option")) == (0, "PR_SET_NAME")
    assert e.args["arg2_str"] == b"live-proc-a-long-name"   # as passed; the kernel keeps 15
    assert not e.args.get("arg2_int")
    e = only(evs, "prctl", c, option=PR_GET_NAME)
    assert (e.res, e.text("option"), e.args["arg2_str"]) == (0, "PR_GET_NAME", b"live-proc-a-lon")
    e = only(evs, "prctl", c, option=PR_SET_CHILD_SUBREAPER)
    assert (e.res, e.args["arg2_int"], e.args["arg2_str"]) == (0, 1, b"")
    e = only(evs, "prctl", c, option=PR_GET_CHILD_SUBREAPER)
    assert (e.res, e.args["arg2_int"]) == (0, 1)            # the value written at arg2
    e = only(evs, "prctl", c, option=PR_SET_DUMPABLE)
    assert (e.res, e.text("option"), e.args["arg2_int"]) == (0, "PR_SET_DUMPABLE", 0)
    e = only(evs, "prctl", c, option=9999)
    assert (e.res, e.args["arg2_int"]) == (-errno.EINVAL, 1234)


PTRACE_PEEKDATA, PTRACE_CONT, PTRACE_KILL, PTRACE_ATTACH, PTRACE_DETACH = 2, 7, 8, 16, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
NO_PID = 0x7FFFFFF0            # above any pid_max


def test_ptrace_and_kill():
    r = {}
    secret = ctypes.c_uint64(0x1122334455667788)          # the same address in the fork

    def act():
        a = child(lambda: time.sleep(30))
        r["a"] = a
        r["attach"] = sc("ptrace", PTRACE_ATTACH, a, 0, 0)
        os.waitpid(a, 0)                                    # stopped by SIGSTOP
        word = ctypes.c_uint64(0)
        r["word_at"] = ctypes.addressof(word)
        r["peek"] = sc("ptrace", PTRACE_PEEKDATA, a, ctypes.c_void_p(ctypes.addressof(secret)),
                       ctypes.byref(word))
        r["word"] = word.value
        r["peek_bad"] = sc("ptrace", PTRACE_PEEKDATA, a, 8, ctypes.byref(word))   # EIO
        r["detach"] = sc("ptrace", PTRACE_DETACH, a, 0, signal.SIGCONT)
        b = child(lambda: time.sleep(30))
        r["b"] = b
        r["seize"] = sc("ptrace", PTRACE_SEIZE, b, 0, 0)
        r["attach_bad"] = sc("ptrace", PTRACE_ATTACH, NO_PID, 0, 0)
        r["kill"] = sc("kill", a, signal.SIGTERM)
        r["kill_bad"] = sc("kill", NO_PID, 0)
        os.kill(b, signal.SIGKILL)
        reap(a)
        reap(b)
    evs = capture(["ptrace", "kill"], act)
    me = os.getpid()
    assert r["peek"] == 0 and r["word"] == secret.value

    e = only(evs, "ptrace", me, request=11, pid=r["a"])
    assert (e.res, e.text("request"), e.args["pid"]) == (r["attach"], "PTRACE_ATTACH", r["a"])
    assert r["attach"] == 0 and (e.args["addr"], e.args["data"]) == (0, 0)
    peeks = [e for e in evs if e.name == "ptrace" and e.tid == me and e.args["request"] == 3]
    ok, bad = peeks
    assert ok.text("request") == "PTRACE_PEEKDATA" and ok.res == 0 and ok.args["pid"] == r["a"]
    assert ok.args["addr"] == ctypes.addressof(secret)
    assert ok.args["data"] == secret.value                  # the word read, as the driver
    assert bad.res == r["peek_bad"] == -errno.EIO
    assert (bad.args["addr"], bad.args["data"]) == (0, 0)   # a failed call: both 0
    e = only(evs, "ptrace", me, request=12)
    assert (e.res, e.text("request"), e.args["data"]) == (0, "PTRACE_DETACH", signal.SIGCONT)
    e = only(evs, "ptrace", me, request=20)
    assert (e.res, e.text("request"), e.args["pid"]) == (r["seize"], "PTRACE_SEIZE", r["b"])
    assert r["seize"] == 0
    e = only(evs, "ptrace", me, pid=NO_PID)
    assert e.res == r["attach_bad"] == -errno.ESRCH and e.text("request") == "PTRACE_ATTACH"

    e = only(evs, "kill", me, pid=r["a"])
    assert (e.res, e.args["sig"], e.text("sig")) == (0, signal.SIGTERM, "SIGTERM")
    e = only(evs, "kill", me, pid=NO_PID)
    assert (e.res, e.args["sig"]) == (-errno.ESRCH, 0) and r["kill_bad"] == -errno.ESRCH
    e = only(evs, "kill", me, pid=r["b"])
    assert (e.res, e.text("sig")) == (0, "SIGKILL")


def test_setns_unshare_bpf():
    r = {}
    rd, wr = os.pipe()

    def body():
        fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
        out = dict(fd=fd,
                   unshare=sc("unshare", CLONE_NEWUTS),
                   unshare3=sc("unshare", CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS),
                   unshare_bad=sc("unshare", CLONE_PARENT),  # not for unshare: EINVAL
                   setns=sc("setns", fd, CLONE_NEWUTS),
                   setns_any=sc("setns", fd, 0),
                   setns_wrong=sc("setns", fd, CLONE_NEWIPC),
                   setns_bad=sc("setns", 999, 0))
        os.write(wr, json.dumps(out).encode())

    # BPF_MAP_CREATE: an array of one u64, and a malformed one (no entries)
    attr = (ctypes.c_uint32 * 30)(2, 4, 8, 1)
    bad_attr = (ctypes.c_uint32 * 30)(2, 4, 8, 0)

    def act():
        c = child(body)
        assert reap(c) == 0
        r.update(json.loads(os.read(rd, 4096)))
        r["child"] = c
        r["map"] = sc("bpf", 0, attr, ctypes.sizeof(attr))
        r["map_bad"] = sc("bpf", 0, bad_attr, ctypes.sizeof(bad_attr))
        os.close(r["map"])
    evs = capture(["setns", "unshare", "bpf"], act)
    os.close(rd)
    os.close(wr)
    c, fd, me = r["child"], r["fd"], os.getpid()

    e = only(evs, "unshare", c, flags=1 << 7)
    assert e.res == r["unshare"] == 0 and e.text("flags") == "CLONE_NEWUTS"
    e = only(evs, "unshare", c, flags=(1 << 7) | (1 << 3) | (1 << 5))
    assert e.res == 0 and e.text("flags") == "CLONE_NEWIPC|CLONE_NEWNS|CLONE_NEWUTS"
    e = only(evs, "unshare", c, flags=1 << 8)
    assert e.res == r["unshare_bad"] == -errno.EINVAL and e.text("flags") == "CLONE_PARENT"

    e = only(evs, "setns", c, fd=fd, nstype=1 << 7)
    assert e.res == r["setns"] == 0 and e.text("nstype") == "CLONE_NEWUTS"
    e = only(evs, "setns", c, fd=fd, nstype=0)
    assert e.res == r["setns_any"] == 0
    e = only(evs, "setns", c, fd=fd, nstype=1 << 3)
    assert e.res == r["setns_wrong"] == -errno.EINVAL and e.text("nstype") == "CLONE_NEWIPC"
    e = only(evs, "setns", c, fd=999)
    assert e.res == r["setns_bad"] == -errno.EBADF

    assert r["map"] >= 0
    e = only(evs, "bpf", me, fd=r["map"])
    assert (e.args["cmd"], e.text("cmd")) == (0, "BPF_MAP_CREATE")
    e = only(evs, "bpf", me, fd=-errno.EINVAL)
    assert r["map_bad"] == -errno.EINVAL and e.text("cmd") == "BPF_MAP_CREATE"
