"""The file family's probes (bpf/progs_file.h) against real syscalls: each event's
parameters as the driver writes them (paths as given, dirfds, flags in the driver's
encodings, modes, dev/ino of the new fd), failed calls included.  Root, x86_64."""
from __future__ import annotations

import ctypes
import os
import platform
import stat
import threading
import time

import pytest

from live_harness import capture, needs_live

pytestmark = [needs_live, pytest.mark.skipif(platform.machine() != "x86_64",
                                             reason="x86_64 syscall numbers")]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# x86_64 syscall numbers
NR = dict(open=2, close=3, dup=32, dup2=33, chdir=80, fchdir=81, rename=82, mkdir=83, rmdir=84,
          creat=85, link=86, unlink=87, symlink=88, chmod=90, fchmod=91, mount=165, openat=257,
          mkdirat=258, unlinkat=263, renameat=264, linkat=265, symlinkat=266, fchmodat=268,
          dup3=292, renameat2=316, memfd_create=319, openat2=437)
AT_FDCWD = -100
ENOENT, EBADF, EEXIST, EXDEV, ENOTDIR, EINVAL, ENODEV, ENAMETOOLONG, ENOTEMPTY = (
    2, 9, 17, 18, 20, 22, 19, 36, 39)
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
O_CREAT, O_EXCL, O_TRUNC, O_NONBLOCK = 0o100, 0o200, 0o1000, 0o4000
O_DIRECTORY, O_CLOEXEC, O_TMPFILE = 0o200000, 0o2000000, 0o20200000
PPM_O_F_CREATED = 1 << 14


def _arg(a):
    if a is None:
        return ctypes.c_void_p(None)
    if isinstance(a, (bytes, ctypes.Array)):
        return a
    return ctypes.c_long(a)


def sc(name, *args):
    """The raw syscall: its result, or -errno."""
    r = libc.syscall(ctypes.c_long(NR[name]), *(_arg(a) for a in args))
    return r if r >= 0 else -ctypes.get_errno()


def only(events, etype, _tid=None, **match):
    """The single event `etype` of thread _tid (default: this one) whose args match."""
    tid = threading.get_native_id() if _tid is None else _tid
    got = [e for e in events if e.name == etype and e.tid == tid
           and all(e.args.get(k) == v for k, v in match.items())]
    assert len(got) == 1, f"{len(got)} {etype} events matching {match}: {got}"
    return got[0]


def dev_ino(path):
    st = os.stat(path)
    return st.st_dev, st.st_ino


@pytest.fixture
def d(tmp_path):
    """A directory (as bytes) and an O_PATH-less fd on it."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield bytes(tmp_path), fd
    os.close(fd)


# --- the open family --------------------------------------------------------------------

def test_open(d):
    top, _ = d
    path = top + b"/o1"
    r = {}

    def act():
        r["new"] = sc("open", path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        r["old"] = sc("open", path, O_RDONLY | O_CLOEXEC, 0o777)
        r["bad"] = sc("open", top + b"/missing/o1", O_RDONLY, 0)
        os.close(r["new"])
        os.close(r["old"])
    evs = capture(["open"], act)
    dev, ino = dev_ino(path)

    e = only(evs, "open", fd=r["new"], name=path)
    assert r["new"] >= 0 and e.res == r["new"]
    assert e.text("flags") == "O_TRUNC|O_CREAT|O_WRONLY|O_F_CREATED"
    assert e.args["mode"] == 0o600
    assert (e.args["dev"], e.args["ino"]) == (dev, ino)

    e = only(evs, "open", fd=r["old"], name=path)
    assert e.text("flags") == "O_RDONLY|O_CLOEXEC"
    assert e.args["mode"] == 0                      # no O_CREAT: the driver reports 0
    assert (e.args["dev"], e.args["ino"]) == (dev, ino)

    e = only(evs, "open", name=top + b"/missing/o1")
    assert e.res == r["bad"] == -ENOENT
    assert e.text("flags") == "O_RDONLY"
    assert (e.args["dev"], e.args["ino"]) == (0, 0)


def test_openat(d, monkeypatch):
    top, dfd = d
    monkeypatch.chdir(top.decode())
    r = {}

    def act():
        r["cwd"] = sc("openat", AT_FDCWD, b"rel1", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o640)
        r["dir"] = sc("openat", dfd, b"rel1", O_RDONLY | O_NONBLOCK, 0)
        r["excl"] = sc("openat", dfd, b"rel1", O_CREAT | O_EXCL | O_WRONLY, 0o600)
        r["tmp"] = sc("openat", dfd, b".", O_TMPFILE | O_RDWR, 0o1600)
        r["shm"] = sc("openat", AT_FDCWD, b"/dev/shm/live_files_shm", O_CREAT | O_WRONLY, 0o600)
        for k in ("cwd", "dir", "tmp", "shm"):
            os.fstat(r[k])
    try:
        evs = capture(["openat"], act)
        fstats = {k: os.fstat(r[k]) for k in ("tmp",)}
    finally:
        for k in ("cwd", "dir", "tmp", "shm"):
            if r.get(k, -1) >= 0:
                os.close(r[k])
    dev, ino = dev_ino(top + b"/rel1")

    e = only(evs, "openat", fd=r["cwd"])
    assert (e.args["dirfd"], e.args["name"]) == (AT_FDCWD, b"rel1")
    assert e.text("flags") == "O_EXCL|O_CREAT|O_RDWR|O_CLOEXEC|O_F_CREATED"
    assert e.args["mode"] == 0o640
    assert (e.args["dev"], e.args["ino"]) == (dev, ino)

    e = only(evs, "openat", fd=r["dir"])
    assert (e.args["dirfd"], e.args["name"]) == (dfd, b"rel1")
    assert e.text("flags") == "O_NONBLOCK|O_RDONLY"
    assert e.args["mode"] == 0
    assert (e.args["dev"], e.args["ino"]) == (dev, ino)

    e = only(evs, "openat", fd=-EEXIST)
    assert r["excl"] == -EEXIST
    assert (e.args["dirfd"], e.args["name"]) == (dfd, b"rel1")
    assert e.text("flags") == "O_EXCL|O_CREAT|O_WRONLY"   # not created
    assert e.args["mode"] == 0o600
    assert (e.args["dev"], e.args["ino"]) == (0, 0)

    e = only(evs, "openat", fd=r["tmp"])
    assert e.args["name"] == b"."
    assert e.args["flags"] & ~PPM_O_F_CREATED == 1024 | 3 | 8192   # DIRECTORY|RDWR|TMPFILE
    assert e.args["mode"] == 0o1600
    assert (e.args["dev"], e.args["ino"]) == (fstats["tmp"].st_dev, fstats["tmp"].st_ino)

    try:
        e = only(evs, "openat", fd=r["shm"])
        assert (e.args["dev"], e.args["ino"]) == dev_ino("/dev/shm/live_files_shm")  # tmpfs
    finally:
        os.unlink("/dev/shm/live_files_shm")


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 1, 2, 4, 8


def test_openat2(d):
    top, dfd = d
    r = {}

    def openat2(dirfd, path, flags, mode, resolve):
        how = OpenHow(flags, mode, resolve)
        return sc("openat2", dirfd, path, ctypes.addressof(how), ctypes.sizeof(how))

    def act():
        r["new"] = openat2(dfd, b"o2", O_CREAT | O_WRONLY | O_CLOEXEC, 0o640,
                           RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
        r["old"] = openat2(dfd, b"o2", O_RDONLY, 0, RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS)
        r["out"] = openat2(dfd, b"../o2", O_RDONLY, 0, RESOLVE_BENEATH)
        r["abs"] = openat2(AT_FDCWD, top + b"/o2", O_RDONLY, 0, 0)
        for k in ("new", "old", "abs"):
            os.close(r[k])
    evs = capture(["openat2"], act)

    e = only(evs, "openat2", fd=r["new"])
    assert (e.args["dirfd"], e.args["name"]) == (dfd, b"o2")
    assert e.text("flags") == "O_CREAT|O_WRONLY|O_CLOEXEC|O_F_CREATED"
    assert e.args["mode"] == 0o640
    assert e.text("resolve") == "RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"

    e = only(evs, "openat2", fd=r["old"])
    assert e.text("flags") == "O_RDONLY"
    assert e.text("resolve") == "RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV"

    e = only(evs, "openat2", name=b"../o2")
    assert e.res == r["out"] == -EXDEV
    assert e.text("resolve") == "RESOLVE_BENEATH"

    e = only(evs, "openat2", fd=r["abs"])
    assert (e.args["dirfd"], e.args["name"], e.args["resolve"]) == (AT_FDCWD, top + b"/o2", 0)


def test_creat(d):
    top, _ = d
    r = {}

    def act():
        r["ok"] = sc("creat", top + b"/c1", 0o4640 | stat.S_IFREG)
        r["bad"] = sc("creat", top + b"/nodir/c1", 0o600)
        os.close(r["ok"])
    evs = capture(["creat"], act)

    e = only(evs, "creat", fd=r["ok"])
    assert e.args["name"] == top + b"/c1"
    assert e.args["mode"] == 0o4640                 # permission bits only
    assert (e.args["dev"], e.args["ino"]) == dev_ino(top + b"/c1")
    e = only(evs, "creat", name=top + b"/nodir/c1")
    assert e.res == r["bad"] == -ENOENT
    assert (e.args["mode"], e.args["dev"], e.args["ino"]) == (0o600, 0, 0)


# --- fds ------------------------------------------------------------------------------

def test_close_and_dups(d):
    top, dfd = d
    r = {}

    def act():
        fd = os.open(top, os.O_RDONLY)
        r["fd"] = fd
        r["dup"] = sc("dup", fd)
        r["dup_bad"] = sc("dup", 99999)
        r["dup2"] = sc("dup2", fd, 200)
        r["dup3"] = sc("dup3", fd, 201, O_CLOEXEC)
        r["dup3_0"] = sc("dup3", fd, 202, 0)
        r["dup3_same"] = sc("dup3", fd, fd, 0)
        for k in ("dup", "dup2", "dup3", "dup3_0", "fd"):
            r["close_" + k] = sc("close", r[k])
        r["close_bad"] = sc("close", 99999)
    evs = capture(["close", "dup", "dup2", "dup3"], act)
    fd = r["fd"]

    e = only(evs, "dup", res=r["dup"])
    assert r["dup"] >= 0 and (e.args["oldfd"], e.args["fd"]) == (fd, fd)
    e = only(evs, "dup", oldfd=99999)
    assert e.res == r["dup_bad"] == -EBADF
    e = only(evs, "dup2", res=200)
    assert (e.args["oldfd"], e.args["newfd"], e.args["fd"]) == (fd, 200, fd)
    e = only(evs, "dup3", res=201)
    assert (e.args["oldfd"], e.args["newfd"], e.args["fd"]) == (fd, 201, fd)
    assert e.text("flags") == "O_CLOEXEC"
    e = only(evs, "dup3", res=202)
    assert e.args["flags"] == 0
    e = only(evs, "dup3", newfd=fd)
    assert e.res == r["dup3_same"] == -EINVAL

    for k in ("dup", "dup2", "dup3", "dup3_0", "fd"):
        e = only(evs, "close", fd=r[k])
        assert e.res == r["close_" + k] == 0
    e = only(evs, "close", fd=99999)
    assert e.res == r["close_bad"] == -EBADF


# --- cwd --------------------------------------------------------------------------------

def test_chdir_fchdir(d, monkeypatch):
    top, dfd = d
    os.mkdir(top + b"/sub")
    monkeypatch.chdir(top.decode())
    r = {}

    def act():
        r["rel"] = sc("chdir", b"sub")
        r["dots"] = sc("chdir", b"../sub/.")
        r["bad"] = sc("chdir", b"nowhere")
        r["abs"] = sc("chdir", top)
        r["fchdir"] = sc("fchdir", dfd)
        r["fchdir_bad"] = sc("fchdir", 99999)
    evs = capture(["chdir", "fchdir"], act)

    assert only(evs, "chdir", path=b"sub").res == r["rel"] == 0
    assert only(evs, "chdir", path=b"../sub/.").res == r["dots"] == 0   # as given
    assert only(evs, "chdir", path=b"nowhere").res == r["bad"] == -ENOENT
    assert only(evs, "chdir", path=top).res == r["abs"] == 0
    assert only(evs, "fchdir", fd=dfd).res == r["fchdir"] == 0
    assert only(evs, "fchdir", fd=99999).res == r["fchdir_bad"] == -EBADF


# --- names and links ----------------------------------------------------------------------

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def test_renames(d, monkeypatch):
    top, dfd = d
    monkeypatch.chdir(top.decode())
    for n in (b"a", b"c", b"x", b"y"):
        open(top + b"/" + n, "w").close()
    r = {}

    def act():
        r["rename"] = sc("rename", b"a", top + b"/b")
        r["rename_bad"] = sc("rename", b"nope", b"b2")
        r["renameat"] = sc("renameat", dfd, b"b", AT_FDCWD, b"c2")
        r["renameat2"] = sc("renameat2", AT_FDCWD, b"c2", dfd, b"d", RENAME_NOREPLACE)
        r["noreplace"] = sc("renameat2", dfd, b"d", dfd, b"c", RENAME_NOREPLACE)
        r["exchange"] = sc("renameat2", dfd, b"x", dfd, b"y", RENAME_EXCHANGE)
    evs = capture(["rename", "renameat", "renameat2"], act)

    e = only(evs, "rename", oldpath=b"a")
    assert (e.res, e.args["newpath"]) == (0, top + b"/b")
    e = only(evs, "rename", oldpath=b"nope")
    assert (e.res, e.args["newpath"]) == (-ENOENT, b"b2")
    e = only(evs, "renameat")
    assert e.res == r["renameat"] == 0
    assert [e.args[k] for k in ("olddirfd", "oldpath", "newdirfd", "newpath")] == [
        dfd, b"b", AT_FDCWD, b"c2"]
    e = only(evs, "renameat2", oldpath=b"c2")
    assert e.res == 0
    assert [e.args[k] for k in ("olddirfd", "newdirfd", "newpath")] == [AT_FDCWD, dfd, b"d"]
    assert e.text("flags") == "RENAME_NOREPLACE"
    e = only(evs, "renameat2", oldpath=b"d")
    assert e.res == r["noreplace"] == -EEXIST
    assert e.text("flags") == "RENAME_NOREPLACE"
    e = only(evs, "renameat2", oldpath=b"x")
    assert (e.res, e.args["newpath"], e.text("flags")) == (0, b"y", "RENAME_EXCHANGE")


AT_REMOVEDIR, AT_SYMLINK_FOLLOW = 0x200, 0x400


def test_unlink_mkdir_rmdir(d, monkeypatch):
    top, dfd = d
    monkeypatch.chdir(top.decode())
    for n in (b"f1", b"f2"):
        open(top + b"/" + n, "w").close()
    r = {}

    def act():
        r["mkdir"] = sc("mkdir", b"m1", 0o750)
        r["mkdir_again"] = sc("mkdir", top + b"/m1", 0o700)
        r["mkdirat"] = sc("mkdirat", dfd, b"m2", 0o1777)
        r["mkdirat_cwd"] = sc("mkdirat", AT_FDCWD, b"m3", 0o755)
        open(top + b"/m3/inside", "w").close()
        r["rmdir"] = sc("rmdir", b"m1")
        r["rmdir_full"] = sc("rmdir", top + b"/m3")
        r["unlink"] = sc("unlink", b"f1")
        r["unlink_bad"] = sc("unlink", b"f1")
        r["unlinkat"] = sc("unlinkat", dfd, b"f2", 0)
        r["unlinkat_dir"] = sc("unlinkat", AT_FDCWD, b"m2", AT_REMOVEDIR)
        r["unlinkat_notdir"] = sc("unlinkat", dfd, b"m3/inside", AT_REMOVEDIR)
    evs = capture(["mkdir", "mkdirat", "rmdir", "unlink", "unlinkat"], act)

    e = only(evs, "mkdir", path=b"m1")
    assert (e.res, e.args["mode"]) == (0, 0o750)
    e = only(evs, "mkdir", path=top + b"/m1")
    assert (e.res, e.args["mode"]) == (-EEXIST, 0o700)
    e = only(evs, "mkdirat", path=b"m2")
    assert (e.res, e.args["dirfd"], e.args["mode"]) == (0, dfd, 0o1777)
    e = only(evs, "mkdirat", path=b"m3")
    assert (e.res, e.args["dirfd"]) == (0, AT_FDCWD)
    assert only(evs, "rmdir", path=b"m1").res == 0
    assert only(evs, "rmdir", path=top + b"/m3").res == r["rmdir_full"] == -ENOTEMPTY
    unl = [e for e in evs if e.name == "unlink" and e.tid == threading.get_native_id()
           and e.args["path"] == b"f1"]
    assert [e.res for e in unl] == [0, -ENOENT]
    e = only(evs, "unlinkat", name=b"f2")
    assert (e.res, e.args["dirfd"], e.args["flags"]) == (0, dfd, 0)
    e = only(evs, "unlinkat", name=b"m2")
    assert (e.res, e.args["dirfd"], e.text("flags")) == (0, AT_FDCWD, "AT_REMOVEDIR")
    e = only(evs, "unlinkat", name=b"m3/inside")
    assert (e.res, e.text("flags")) == (r["unlinkat_notdir"], "AT_REMOVEDIR")
    assert e.res == -ENOTDIR


def test_links(d, monkeypatch):
    top, dfd = d
    monkeypatch.chdir(top.decode())
    open(top + b"/t", "w").close()
    r = {}

    def act():
        r["symlink"] = sc("symlink", b"../anything/at all", b"s1")
        r["symlink_bad"] = sc("symlink", b"t", top + b"/nodir/s")
        r["symlinkat"] = sc("symlinkat", b"t", dfd, b"s2")
        r["symlinkat_cwd"] = sc("symlinkat", top + b"/t", AT_FDCWD, b"s3")
        r["link"] = sc("link", b"t", top + b"/h1")
        r["link_bad"] = sc("link", b"none", b"h0")
        r["linkat"] = sc("linkat", dfd, b"s2", AT_FDCWD, b"h2", AT_SYMLINK_FOLLOW)
        r["linkat_exists"] = sc("linkat", AT_FDCWD, b"t", dfd, b"h1", 0)
    evs = capture(["symlink", "symlinkat", "link", "linkat"], act)

    e = only(evs, "symlink", linkpath=b"s1")
    assert (e.res, e.args["target"]) == (0, b"../anything/at all")
    e = only(evs, "symlink", linkpath=top + b"/nodir/s")
    assert (e.res, e.args["target"]) == (-ENOENT, b"t")
    e = only(evs, "symlinkat", linkpath=b"s2")
    assert (e.res, e.args["target"], e.args["linkdirfd"]) == (0, b"t", dfd)
    e = only(evs, "symlinkat", linkpath=b"s3")
    assert (e.res, e.args["target"], e.args["linkdirfd"]) == (0, top + b"/t", AT_FDCWD)
    e = only(evs, "link", oldpath=b"t")
    assert (e.res, e.args["newpath"]) == (0, top + b"/h1")
    e = only(evs, "link", oldpath=b"none")
    assert (e.res, e.args["newpath"]) == (-ENOENT, b"h0")
    e = only(evs, "linkat", newpath=b"h2")
    assert e.res == 0
    assert [e.args[k] for k in ("olddir", "oldpath", "newdir")] == [dfd, b"s2", AT_FDCWD]
    assert e.text("flags") == "AT_SYMLINK_FOLLOW"
    assert os.stat(top + b"/h2").st_ino == os.stat(top + b"/t").st_ino   # followed
    e = only(evs, "linkat", newpath=b"h1")
    assert (e.res, e.args["olddir"], e.args["newdir"], e.args["flags"]) == (
        -EEXIST, AT_FDCWD, dfd, 0)


# --- modes --------------------------------------------------------------------------------

def test_chmods(d, monkeypatch):
    top, dfd = d
    monkeypatch.chdir(top.decode())
    open(top + b"/p", "w").close()
    r = {}

    def act():
        r["chmod"] = sc("chmod", b"p", 0o4755)
        r["chmod_bad"] = sc("chmod", top + b"/none", 0o644)
        fd = os.open(top + b"/p", os.O_RDONLY)
        r["fd"] = fd
        r["fchmod"] = sc("fchmod", fd, stat.S_IFREG | 0o640)
        r["fchmod_bad"] = sc("fchmod", 99999, 0o600)
        r["fchmodat"] = sc("fchmodat", dfd, b"p", 0o2711)
        r["fchmodat_cwd"] = sc("fchmodat", AT_FDCWD, b"p", 0o600)
        os.close(fd)
    evs = capture(["chmod", "fchmod", "fchmodat"], act)

    e = only(evs, "chmod", filename=b"p")
    assert (e.res, e.args["mode"]) == (0, 0o4755)
    assert e.text("mode") == "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
    e = only(evs, "chmod", filename=top + b"/none")
    assert (e.res, e.args["mode"]) == (-ENOENT, 0o644)
    e = only(evs, "fchmod", fd=r["fd"])
    assert (e.res, e.args["mode"]) == (0, 0o640)    # the file type bits are not modes
    e = only(evs, "fchmod", fd=99999)
    assert (e.res, e.args["mode"]) == (-EBADF, 0o600)
    e = only(evs, "fchmodat", dirfd=dfd)
    assert (e.res, e.args["filename"], e.args["mode"]) == (0, b"p", 0o2711)
    e = only(evs, "fchmodat", dirfd=AT_FDCWD)
    assert (e.res, e.args["filename"], e.text("mode")) == (0, b"p", "S_IWUSR|S_IRUSR")


# --- mounts and memfds --------------------------------------------------------------------

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_MGC_VAL = 0xC0ED0000


def test_mount(d):
    top, _ = d
    mnt = top + b"/mnt"
    os.mkdir(mnt)
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    r = {}

    def act():
        r["ok"] = sc("mount", b"livetest", mnt, b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        if r["ok"] == 0:
            libc.umount2(mnt, 0)
        r["magic"] = sc("mount", b"livetest2", mnt, b"tmpfs", MS_MGC_VAL | MS_RDONLY, None)
        if r["magic"] == 0:
            libc.umount2(mnt, 0)
        r["nofs"] = sc("mount", b"x", mnt, b"nosuchfs_live", 0, None)
        r["nulls"] = sc("mount", None, mnt, None, MS_REMOUNT, None)
    evs = capture(["mount"], act)
    if r["ok"] == -1:                                 # EPERM: no CAP_SYS_ADMIN here
        pytest.skip("mount not permitted")

    e = only(evs, "mount", dev=b"livetest")
    assert (e.res, e.args["dir"], e.args["type"]) == (0, mnt, b"tmpfs")
    assert e.text("flags") == "NOSUID|NODEV|NOEXEC"
    e = only(evs, "mount", dev=b"livetest2")
    assert (e.res, e.args["flags"], e.text("flags")) == (0, MS_RDONLY, "RDONLY")
    e = only(evs, "mount", type=b"nosuchfs_live")
    assert (e.res, e.args["dev"], e.args["dir"]) == (-ENODEV, b"x", mnt)
    e = only(evs, "mount", flags=MS_REMOUNT)
    assert e.res == r["nulls"] == -EINVAL           # not a mount point
    assert (e.args["dev"], e.args["dir"], e.args["type"]) == (b"", mnt, b"")


def test_mount_long_type(d):
    """A filesystem type longer than the stash keeps it comes whole anyway."""
    top, _ = d
    typ = b"t" * 100
    r = {}

    def act():
        r["res"] = sc("mount", b"x", top, typ, 0, None)
    evs = capture(["mount"], act)
    e = only(evs, "mount", dev=b"x")
    assert (e.res, e.args["type"]) == (r["res"], typ)
    assert e.res in (-ENODEV, -1)


MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB = 1, 2, 4


def test_memfd_create():
    r = {}

    def act():
        r["ok"] = os.memfd_create("live-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING)
        r["plain"] = sc("memfd_create", b"live-plain", 0)
        r["long"] = sc("memfd_create", b"n" * 300, 0)        # longer than the kernel takes
        os.close(r["ok"])
        os.close(r["plain"])
    evs = capture(["memfd_create"], act)

    e = only(evs, "memfd_create", name=b"live-memfd")
    assert e.res == r["ok"] >= 0
    assert e.text("flags") == "MFD_CLOEXEC|MFD_ALLOW_SEALING"
    e = only(evs, "memfd_create", name=b"live-plain")
    assert (e.res, e.args["flags"]) == (r["plain"], 0)
    e = only(evs, "memfd_create", name=b"n" * 300)
    assert e.res == r["long"] == -EINVAL


# --- strings: long paths, and the values the kernel saw at entry ---------------------------

def test_long_paths(d):
    top, dfd = d
    p4000 = (b"d/" * 2000)[:3999] + b"z"              # 4000 bytes, deep and missing
    p6000 = b"e/" * 3000                              # longer than PATH_MAX
    r = {}

    def act():
        r["4000"] = sc("openat", dfd, p4000, O_RDONLY, 0)
        r["6000"] = sc("openat", dfd, p6000, O_RDONLY, 0)
        r["two"] = sc("renameat", dfd, p4000, dfd, p4000[:-1] + b"y")
    evs = capture(["openat", "renameat"], act)
    assert len(p4000) == 4000

    e = only(evs, "openat", name=p4000)               # whole
    assert e.res == r["4000"] == -ENOENT
    e = only(evs, "openat", fd=-ENAMETOOLONG, dirfd=dfd)
    assert r["6000"] == -ENAMETOOLONG
    assert e.args["name"] == p6000[:4095]             # cut, not lost
    e = only(evs, "renameat", oldpath=p4000)          # two long strings in one event
    assert (e.res, e.args["newpath"]) == (-ENOENT, p4000[:-1] + b"y")


def _wait_in_syscall(tid, nr, timeout=5.0):
    """Until thread tid sleeps in syscall nr (read from /proc)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/self/task/{tid}/syscall") as f:
                fields = f.read().split()
            with open(f"/proc/self/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            fields, state = [], ""
        if fields and fields[0] == str(nr) and state == "S":
            return
        time.sleep(0.005)
    raise AssertionError(f"thread {tid} never blocked in syscall {nr}")


def test_path_changed_during_the_call(d):
    """A path another thread rewrites while the call sleeps is reported as the kernel
    read it at entry: openat of a FIFO blocks until a writer opens it."""
    top, dfd = d
    os.mkfifo(top + b"/fifo_a")
    buf = ctypes.create_string_buffer(b"fifo_a", 16)
    r = {}

    def reader():
        r["tid"] = threading.get_native_id()
        r["fd"] = sc("openat", dfd, buf, O_RDONLY, 0)

    def act():
        t = threading.Thread(target=reader)
        t.start()
        while "tid" not in r:
            time.sleep(0.001)
        try:
            _wait_in_syscall(r["tid"], NR["openat"])
            ctypes.memmove(buf, b"fifo_b\0", 7)         # the user's buffer, mid-call
            w = os.open(top + b"/fifo_a", os.O_WRONLY | os.O_NONBLOCK)
        finally:
            if "w" not in locals():                   # unblock the reader anyway
                w = os.open(top + b"/fifo_a", os.O_RDWR)
            t.join(5)
        os.close(w)
        os.close(r["fd"])
    evs = capture(["openat"], act)

    assert buf.value == b"fifo_b"
    e = only(evs, "openat", _tid=r["tid"], dirfd=dfd)
    assert e.res == r["fd"] >= 0
    assert e.args["name"] == b"fifo_a"
    assert (e.args["dev"], e.args["ino"]) == dev_ino(top + b"/fifo_a")


def test_strings_not_yet_in_memory(d):
    """Arguments on pages the process never touched (the probe at entry cannot fault
    them in; the syscall does): read at exit instead of lost."""
    top, dfd = d
    open(top + b"/target", "w").close()
    how = bytes(OpenHow(O_RDONLY | O_CLOEXEC, 0, RESOLVE_BENEATH))
    page = 4096
    with open(top + b"/args", "wb") as f:                 # page 0: the path, page 1: how
        f.write(b"target\0".ljust(page, b"\0") + how.ljust(page, b"\0"))
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(top + b"/args", os.O_RDONLY)
    maps = []
    r = {}

    def mapping():                                        # PROT_READ, MAP_PRIVATE, untouched
        a = libc.mmap(None, 2 * page, 1, 2, fd, 0)
        assert a not in (None, ctypes.c_void_p(-1).value)
        maps.append(a)
        return a

    def act():
        a = mapping()
        r["openat"] = sc("openat", dfd, a, O_RDONLY, 0)
        b = mapping()
        r["openat2"] = sc("openat2", dfd, b, b + page, len(how))
    try:
        evs = capture(["openat", "openat2"], act)
    finally:
        for a in maps:
            libc.munmap(a, 2 * page)
        os.close(fd)
        for k in ("openat", "openat2"):
            if r.get(k, -1) >= 0:
                os.close(r[k])

    e = only(evs, "openat", fd=r["openat"])
    assert r["openat"] >= 0 and e.args["name"] == b"target"
    e = only(evs, "openat2", fd=r["openat2"])
    assert r["openat2"] >= 0 and e.args["name"] == b"target"
    assert (e.text("flags"), e.text("resolve")) == ("O_RDONLY|O_CLOEXEC", "RESOLVE_BENEATH")
