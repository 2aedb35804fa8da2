"""The state engine on hand-built raw batches: one test per behaviour of
libsinsp's state it reproduces (threads and processes, fd tables, paths,
sockets, users, containers), plus its own mechanics (epochs, growth, batch
reuse).  Integration against sysdig on real traces: test_state_traces.py."""
from __future__ import annotations

import numpy as np
import pytest

from sensor.capture import cgroups, paths
from sensor.capture.model import FdInfo, Snapshot, UserInfo
from sensor.capture.state import StateEngine
from state_rows import RawRows, proc, row, snapshot, standard_snapshot, text

CLONE_THREAD = 8192


def engine(snap=None) -> StateEngine:
    eng = StateEngine()
    eng.seed(snap if snap is not None else standard_snapshot())
    return eng


def run(eng, rows):
    return eng.process(rows.batch())


# --- helpers that stand alone ------------------------------------------------------------

@pytest.mark.parametrize("base,name,want", [
    (b"/home/u/", b"x.txt", b"/home/u/x.txt"),
    (b"/home/u/", b"../bob/x", b"/home/bob/x"),
    (b"/a/b/", b"./c//d/", b"/a/b/c/d"),
    (b"/", b"../../etc", b"/etc"),
    (b"/x/", b"/etc//passwd", b"/etc/passwd"),
    (b"/a/", b".", b"/a"),
    (b"/a/b/", b"..", b"/a"),
    (b"/r/", b".hidden", b"/r/.hidden"),
    (b"/r/", b"...", b"/r/..."),
    (b"/r/", b"a./b", b"/r/a./b"),
    (b"/", b"/", b"/"),
    (b"<UNKNOWN>", b"rel", b"<UNKNOWN>/rel"),
    (b"", b"", b""),
])
def test_path_resolution(base, name, want):
    assert paths.join(base, name) == want


def test_cwd_change():
    assert paths.new_cwd(b"/root/", b"..") == b"/"
    assert paths.new_cwd(b"/root/", b"/tmp/x/") == b"/tmp/x/"
    assert paths.new_cwd(b"/root/", b"sub") == b"/root/sub/"


H64 = "3ad7b26ded6d" + "0" * 52


@pytest.mark.parametrize("path,cid", [
    ("/docker/" + H64, "3ad7b26ded6d"),
    ("/system.slice/docker-" + H64 + ".scope", "3ad7b26ded6d"),
    ("/kubepods/besteffort/pod1234-5678/" + H64, "3ad7b26ded6d"),
    ("/kubepods.slice/kubepods-pod.slice/cri-containerd-" + H64 + ".scope", "3ad7b26ded6d"),
    ("/kubepods.slice/x.slice/crio-" + H64 + ".scope", "3ad7b26ded6d"),
    ("/machine.slice/libpod-" + H64 + ".scope", "3ad7b26ded6d"),
    ("/user.slice/user-1000.slice/session-2.scope", None),
    ("/docker/" + H64[:-1], None),
    ("/", None),
])
def test_container_id_from_cgroups(path, cid):
    got = cgroups.container_id([path.encode()])
    assert got == (cid.encode() if cid else None)


# --- seeding -------------------------------------------------------------------------------

def test_seed_groups_threads_and_names_each_thread():
    s = snapshot(
        proc(500, comm=b"java", args=[b"-jar", b"app.jar"], cwd=b"/srv", uid=1000, gid=1000,
             fds=[FdInfo(7, "f", b"/srv/app.log")]),
        proc(501, pid=500, comm=b"C2 CompilerThre", args=[b"-jar", b"app.jar"], uid=1000),
        proc(502, pid=500, comm=b"java", args=[b"-jar", b"app.jar"], uid=1000),
        users=[(1000, b"app")])
    eng = engine(s)
    rows = RawRows()
    for tid in (500, 501, 502):
        rows.add("write", ">", tid, fd=7, size=1)
    B = run(eng, rows)
    got = [row(eng, B, i, "proc.pid", "thread.tid", "proc.name", "proc.cmdline", "proc.cwd",
               "user.name", "fd.name") for i in range(3)]
    assert [g["proc.pid"] for g in got] == ["500"] * 3
    assert [g["proc.name"] for g in got] == ["java", "C2 CompilerThre", "java"]
    assert got[1]["proc.cmdline"] == "C2 CompilerThre -jar app.jar"
    assert all(g["proc.cwd"] == "/srv/" and g["user.name"] == "app" for g in got)
    assert all(g["fd.name"] == "/srv/app.log" for g in got)      # threads share the table
    assert B.slot[0] == B.slot[2] != B.slot[1]
    assert eng.stats["threads"] == 3 and eng.stats["processes"] == 1


def test_seed_links_parent_session_and_login():
    eng = engine()
    rows = RawRows()
    rows.add("read", ">", 900, fd=0, size=1)
    B = run(eng, rows)
    r = row(eng, B, 0, "proc.name", "proc.pname", "proc.aname[2]", "proc.sname", "proc.ppid",
            "user.name", "group.name", "user.loginname", "proc.exepath", "proc.cwd",
            "fd.name", "fd.typechar", "container.id")
    assert r == {"proc.name": "bash", "proc.pname": "sshd", "proc.aname[2]": "systemd",
                 "proc.sname": "bash", "proc.ppid": "700", "user.name": "alice",
                 "group.name": "alice", "user.loginname": "alice",
                 "proc.exepath": "/usr/bin/bash", "proc.cwd": "/home/alice/",
                 "fd.name": "/dev/pts/0", "fd.typechar": "f", "container.id": "host"}


def test_seed_sockets_are_named_and_turned_client_first():
    # The machine listens on 22: sshd's connection is turned around, the
    # listening socket is named by its address; unix names lose control bytes.
    s = snapshot(
        proc(700, comm=b"sshd", fds=[
            FdInfo(3, "4", sip=0, sport=22, l4proto=6),
            FdInfo(4, "4", cip=0x0A00020F, cport=22, sip=0x0A000202, sport=49289, l4proto=6),
            FdInfo(5, "4", cip=0x0A00020F, cport=41000, sip=0x01020304, sport=443, l4proto=6),
            FdInfo(6, "u", b"/run/x.sock\n")]))
    eng = engine(s)
    rows = RawRows()
    for fd in (3, 4, 5, 6):
        rows.add("read", ">", 700, fd=fd, size=1)
    B = run(eng, rows)
    names = [text(eng, B, i, "fd.name") for i in range(4)]
    assert names == ["0.0.0.0:22", "10.0.2.2:49289->10.0.2.15:22",
                     "10.0.2.15:41000->1.2.3.4:443", "/run/x.sock"]
    assert text(eng, B, 1, "fd.is_server") == "true"
    assert text(eng, B, 2, "fd.is_server") == "false"
    assert text(eng, B, 2, "fd.sip") == "1.2.3.4"


# --- fds ------------------------------------------------------------------------------------

def test_open_family_resolves_names():
    eng = engine()
    rows = RawRows()
    rows.add("open", ">", 900, name="notes.txt", flags=1, mode=0)
    rows.add("open", "<", 900, res=3, name="notes.txt", flags=1, mode=0)
    rows.add("openat", "<", 900, res=4, dirfd=-100, name="../bob//x", flags=1, mode=0)
    rows.add("openat", "<", 900, res=6, dirfd=5, name="passwd", flags=1, mode=0)   # 5 = /etc
    rows.add("openat", "<", 900, res=7, dirfd=99, name="/tmp/./a", flags=1, mode=0)
    rows.add("openat", "<", 900, res=8, dirfd=99, name="rel", flags=1, mode=0)
    rows.add("openat", "<", 900, res=-2, dirfd=-100, name="missing", flags=1, mode=0)
    rows.add("openat", "<", 900, res=9, dirfd=-100, name="/var/log", flags=1024 | 1, mode=0)
    rows.add("read", ">", 900, fd=6, size=1)
    B = run(eng, rows)
    t = [(text(eng, B, i, "fd.name"), text(eng, B, i, "fd.typechar")) for i in range(9)]
    assert t[0] == (None, "f")                       # open enter: no fd yet
    assert t[1] == ("/home/alice/notes.txt", "f")
    assert t[2] == ("/home/bob/x", "f")
    assert t[3] == ("/etc/passwd", "f")
    assert t[4] == ("/tmp/a", "f")                   # absolute: dirfd ignored
    assert t[5] == ("<UNKNOWN>/rel", "f")            # unknown dirfd (as libsinsp)
    assert t[6] == ("/home/alice/missing", "f")      # failed: name kept for the row
    assert t[7] == ("/var/log", "d")
    assert t[8] == ("/etc/passwd", "f")
    assert text(eng, B, 2, "fd.nameraw") == "../bob//x"
    assert text(eng, B, 2, "fd.num") == "4"
    assert text(eng, B, 6, "fd.num") is None


def test_old_exit_takes_the_fd_of_its_enter():
    # Older captures: read exit has no fd; it is the enter's.  A scheduler
    # switch between them does not break the pair; another enter does.
    eng = engine()
    rows = RawRows()
    rows.add("read", ">", 900, fd=5, size=1)
    rows.add("switch", ">", 900, next=0)
    rows.add("read", "<", 900, res=1)
    rows.add("write", ">", 900, fd=1, size=1)
    rows.add("read", "<", 900, res=1)                # does not match the write
    rows.add("read", "<", 900, res=1, fd=0)          # a newer exit names its fd
    B = run(eng, rows)
    assert text(eng, B, 2, "fd.name") == "/etc"
    assert text(eng, B, 2, "fd.typechar") == "d"
    assert (text(eng, B, 4, "fd.name"), text(eng, B, 4, "fd.typechar")) == ("", "o")
    assert text(eng, B, 5, "fd.name") == "/dev/pts/0"
    assert text(eng, B, 1, "fd.name") is None and text(eng, B, 1, "fd.typechar") is None


def test_unknown_fd_looks_like_falco():
    eng = engine()
    rows = RawRows()
    rows.add("fstat", ">", 900, fd=42)
    rows.add("fstat", "<", 900, res=-9)
    rows.add("futex", ">", 900, addr=0, op=0, val=0)
    B = run(eng, rows)
    assert (text(eng, B, 0, "fd.name"), text(eng, B, 0, "fd.typechar")) == (None, "o")
    assert (text(eng, B, 1, "fd.name"), text(eng, B, 1, "fd.typechar")) == ("", "o")
    assert (text(eng, B, 2, "fd.name"), text(eng, B, 2, "fd.typechar")) == (None, None)


def test_close_is_shown_with_its_fd_then_removed():
    eng = engine()
    rows = RawRows()
    rows.add("close", ">", 900, fd=5)
    rows.add("close", "<", 900, res=0)
    rows.add("fstat", ">", 900, fd=5)
    rows.add("close", ">", 900, fd=1)
    rows.add("close", "<", 900, res=-9)              # failed: the fd stays
    rows.add("fstat", ">", 900, fd=1)
    B = run(eng, rows)
    assert text(eng, B, 1, "fd.name") == "/etc"
    assert text(eng, B, 2, "fd.typechar") == "o"
    assert text(eng, B, 5, "fd.name") == "/dev/pts/0"


def test_sockets_connect_accept_bind():
    eng = engine()
    rows = RawRows()
    rows.add("socket", ">", 900, domain=2, type=1, proto=0)
    rows.add("socket", "<", 900, res=10)
    rows.add("connect", ">", 900, fd=10, addr="93.184.216.34:443")
    rows.add("connect", "<", 900, res=0, tuple="10.0.0.5:40000->93.184.216.34:443")
    rows.add("socket", "<", 900, res=11, domain=10, type=1, proto=6)
    rows.add("bind", ">", 900, fd=11)
    rows.add("bind", "<", 900, res=0, addr="[::]:8080")
    rows.add("accept4", "<", 900, res=12, tuple="[2001:db8::1]:5000->[2001:db8::2]:8080",
             queuepct=0)
    rows.add("socket", "<", 900, res=13, domain=1, type=1, proto=0)
    rows.add("connect", ">", 900, fd=13, addr="/run/docker.sock")
    rows.add("connect", "<", 900, res=0, tuple="ffff1->ffff2 /run/docker.sock")
    rows.add("connect", "<", 900, res=-111, fd=10, tuple="10.0.0.5:40001->1.1.1.1:80")
    rows.add("accept", "<", 900, res=-11)
    B = run(eng, rows)
    assert row(eng, B, 1, "fd.typechar", "fd.name", "fd.l4proto") == \
        {"fd.typechar": "4", "fd.name": "", "fd.l4proto": None}     # no role yet: no l4
    r = row(eng, B, 3, "fd.name", "fd.cip", "fd.sip", "fd.cport", "fd.sport", "fd.lport",
            "fd.is_server", "fd.l4proto", "fd.name_changed", "fd.connected")
    assert r == {"fd.name": "10.0.0.5:40000->93.184.216.34:443", "fd.cip": "10.0.0.5",
                 "fd.sip": "93.184.216.34", "fd.cport": "40000", "fd.sport": "443",
                 "fd.lport": "40000", "fd.is_server": "false", "fd.l4proto": "tcp",
                 "fd.name_changed": "true", "fd.connected": "true"}
    assert text(eng, B, 6, "fd.name") == ":::8080"
    assert text(eng, B, 6, "fd.typechar") == "4"        # libsinsp: "::" counts as IPv4
    assert row(eng, B, 7, "fd.name", "fd.typechar", "fd.is_server", "fd.num") == \
        {"fd.name": "2001:db8::1:5000->2001:db8::2:8080", "fd.typechar": "6",
         "fd.is_server": "true", "fd.num": "12"}
    assert text(eng, B, 10, "fd.name") == "ffff1->ffff2 /run/docker.sock"
    assert text(eng, B, 10, "fd.typechar") == "u"
    assert text(eng, B, 11, "fd.name") == "10.0.0.5:40001->1.1.1.1:80"     # failed connect
    assert text(eng, B, 12, "fd.name") == "NULL"                           # failed accept


def test_datagrams_take_their_tuple_and_guess_the_role():
    s = standard_snapshot()
    s.interfaces = [__import__("sensor.capture.model", fromlist=["x"]).InterfaceInfo(
        b"eth0", 2, 0x0A000005, 0xFFFFFF00)]
    eng = engine(s)
    rows = RawRows()
    rows.add("socket", "<", 900, res=10, domain=2, type=2, proto=0)
    rows.add("sendto", ">", 900, fd=10, size=4, tuple="0.0.0.0:5353->8.8.8.8:53")
    rows.add("sendto", "<", 900, res=4)
    rows.add("recvfrom", ">", 900, fd=10, size=512)
    rows.add("recvfrom", "<", 900, res=40, tuple="8.8.8.8:53->10.0.0.5:5353")
    B = run(eng, rows)
    # the unspecified source is the interface on the server's route
    assert text(eng, B, 2, "fd.name") == "10.0.0.5:5353->8.8.8.8:53"
    assert text(eng, B, 2, "fd.l4proto") == "udp"
    assert text(eng, B, 4, "fd.name") == "10.0.0.5:5353->8.8.8.8:53"


def test_dup_fcntl_pipe_and_friends():
    eng = engine()
    rows = RawRows()
    rows.add("dup2", ">", 900, fd=5)
    rows.add("dup2", "<", 900, res=20, oldfd=5, newfd=20)
    rows.add("fcntl", ">", 900, fd=5, cmd=1)
    rows.add("fcntl", "<", 900, res=21)
    rows.add("pipe2", "<", 900, res=0, fd1=22, fd2=23, ino=7, flags=0)
    rows.add("eventfd2", "<", 900, res=24, flags=0)
    rows.add("socketpair", "<", 900, res=0, fd1=25, fd2=26, source=1, peer=2)
    rows.add("memfd_create", "<", 900, res=27, name="shm", flags=0)
    rows.add("inotify_init1", "<", 900, res=28, flags=0)
    for fd in (20, 21, 22, 23, 24, 26, 27, 28):
        rows.add("fstat", ">", 900, fd=fd)
    B = run(eng, rows)
    got = [(text(eng, B, i, "fd.name"), text(eng, B, i, "fd.typechar")) for i in range(9, 17)]
    assert got == [("/etc", "d"), ("/etc", "d"), ("", "p"), ("", "p"), ("", "e"), ("", "u"),
                   ("shm", "m"), ("", "i")]
    assert text(eng, B, 1, "fd.num") == "20"


# --- processes -------------------------------------------------------------------------------

def clone_exit(rows, caller, child, res, flags=0, comm="bash", args=b"-i\0", ptid=700,
               pid=None, **kw):
    return rows.add("clone", "<", caller if res != 0 else child, res=res, exe=comm, args=args,
                    tid=child if res == 0 else caller, pid=pid if pid is not None else
                    (caller if flags & CLONE_THREAD else (child if res == 0 else caller)),
                    ptid=ptid, cwd="", fdlimit=1024, comm=comm, flags=flags, uid=1000,
                    gid=1000, **kw)


def test_fork_then_exec():
    eng = engine()
    rows = RawRows()
    clone_exit(rows, 900, 950, res=950)                         # caller side makes the child
    clone_exit(rows, 900, 950, res=0, ptid=900)                 # child side: already there
    rows.add("read", ">", 950, fd=0, size=1)                    # fds were copied
    rows.add("execve", ">", 950, filename="cat")
    rows.add("execve", "<", 950, res=0, exe="cat", args=b"/etc/shadow\0", tid=950, pid=950,
             ptid=900, cwd="", comm="cat", env=b"HOME=/root\0TERM=xterm\0", uid=0)
    rows.add("read", ">", 950, fd=0, size=1)
    B = run(eng, rows)
    assert row(eng, B, 0, "proc.name", "proc.pid", "thread.tid") == \
        {"proc.name": "bash", "proc.pid": "900", "thread.tid": "900"}
    r = row(eng, B, 2, "proc.name", "proc.pid", "proc.ppid", "proc.pname", "proc.cwd",
            "fd.name", "user.name", "proc.cmdline")
    assert r == {"proc.name": "bash", "proc.pid": "950", "proc.ppid": "900",
                 "proc.pname": "bash", "proc.cwd": "/home/alice/", "fd.name": "/dev/pts/0",
                 "user.name": "alice", "proc.cmdline": "bash -i"}
    r = row(eng, B, 5, "proc.name", "proc.exe", "proc.exepath", "proc.cmdline", "proc.pname",
            "user.name", "proc.env[HOME]", "proc.cwd", "fd.name")
    assert r == {"proc.name": "cat", "proc.exe": "cat", "proc.exepath": "/home/alice/cat",
                 "proc.cmdline": "cat /etc/shadow", "proc.pname": "bash", "user.name": "root",
                 "proc.env[HOME]": "/root", "proc.cwd": "/home/alice/", "fd.name": "/dev/pts/0"}
    assert B.slot[4] != B.slot[2]                  # exec: a new slot, shown on the exit row
    assert B.slot[4] == B.slot[5]


def test_threads_share_the_process_and_name_it_parent():
    eng = engine()
    rows = RawRows()
    clone_exit(rows, 900, 901, res=901, flags=CLONE_THREAD)
    rows.add("openat", "<", 901, res=30, dirfd=-100, name="t.txt", flags=1, mode=0)
    rows.add("fstat", ">", 900, fd=30)                          # same fd table
    # a thread seen first from its own side, for a process we did not know
    clone_exit(rows, 4000, 4001, res=0, flags=CLONE_THREAD, pid=4000, comm="curl",
               args=b"localhost\0", ptid=3999)
    B = run(eng, rows)
    assert row(eng, B, 1, "proc.pid", "thread.tid", "proc.pname", "proc.ppid", "fd.name") == \
        {"proc.pid": "900", "thread.tid": "901", "proc.pname": "bash", "proc.ppid": "700",
         "fd.name": "/home/alice/t.txt"}
    assert text(eng, B, 2, "fd.name") == "/home/alice/t.txt"
    assert row(eng, B, 3, "proc.name", "proc.pid", "proc.ppid", "proc.pname",
               "proc.cmdline") == {"proc.name": "curl", "proc.pid": "4000", "proc.ppid": "-1",
                                   "proc.pname": "curl", "proc.cmdline": "curl localhost"}


def test_unknown_thread_is_made_up_like_falco():
    eng = engine()
    rows = RawRows()
    rows.add("read", ">", 12345, fd=1, size=1)
    rows.add("switch", ">", 777, next=0)               # never made up for a switch
    rows.add("execve", "<", 12345, res=0, exe="ls", args=b"-l\0", tid=12345, pid=12345,
             ptid=900, cwd="", comm="ls")
    B = run(eng, rows)
    r = row(eng, B, 0, "proc.name", "proc.pid", "proc.ppid", "thread.tid", "user.uid",
            "user.name", "proc.cwd", "thread.vtid", "fd.typechar")
    assert r == {"proc.name": "<NA>", "proc.pid": "12345", "proc.ppid": "-1",
                 "thread.tid": "12345", "user.uid": "4294967295", "user.name": None,
                 "proc.cwd": "", "thread.vtid": None, "fd.typechar": "o"}
    assert row(eng, B, 1, "proc.name", "thread.tid") == {"proc.name": None, "thread.tid": "777"}
    # execve tells a made-up thread its parent
    assert row(eng, B, 2, "proc.name", "proc.ppid", "proc.pname") == \
        {"proc.name": "ls", "proc.ppid": "900", "proc.pname": "bash"}
    assert eng.stats["unknown_threads"] == 1


def test_exec_moves_children_parent_link():
    eng = engine()
    rows = RawRows()
    clone_exit(rows, 900, 950, res=950)
    rows.add("execve", "<", 900, res=0, exe="zsh", args=b"", tid=900, pid=900, ptid=700,
             cwd="", comm="zsh")
    rows.add("read", ">", 950, fd=0, size=1)
    B = run(eng, rows)
    assert text(eng, B, 2, "proc.pname") == "zsh"       # Falco finds the parent by tid


def test_procexit_releases_slots_after_their_epoch():
    eng = engine()
    rows = RawRows()
    clone_exit(rows, 900, 950, res=950)
    rows.add("procexit", ">", 950, status=0)
    rows.add("read", ">", 950, fd=0, size=1)            # a late event: made up again
    B = run(eng, rows)
    child_slot = int(B.slot[1])
    assert text(eng, B, 1, "proc.name") == "bash"
    assert text(eng, B, 2, "proc.name") == "<NA>"
    e = eng.end_batch()
    assert eng.stats["slots_retired_pending"] == 1
    assert eng.P.pid[child_slot] == 950                  # still readable until released
    in_use = eng.stats["slots_in_use"]
    eng.release(e)
    assert eng.stats["slots_reclaimed"] == 1 and eng.stats["slots_in_use"] == in_use - 1
    rows = RawRows(start_num=10)
    clone_exit(rows, 900, 960, res=960)
    rows.add("read", ">", 960, fd=0, size=1)
    B = run(eng, rows)
    assert int(B.slot[1]) == child_slot                  # the freed slot is reused
    assert text(eng, B, 1, "proc.pid") == "960"


def test_released_parent_link_is_cleared():
    eng = engine()
    rows = RawRows()
    clone_exit(rows, 900, 950, res=950)
    rows.add("procexit", ">", 900, status=0)             # bash exits before its child
    rows.add("read", ">", 950, fd=0, size=1)
    B = run(eng, rows)
    assert text(eng, B, 2, "proc.pname") == "bash"       # until released
    eng.release(eng.end_batch())
    rows = RawRows(start_num=10)
    rows.add("read", ">", 950, fd=0, size=1)
    B = run(eng, rows)
    assert text(eng, B, 0, "proc.pname") is None


def test_chdir_and_fchdir():
    eng = engine()
    rows = RawRows()
    rows.add("chdir", "<", 900, res=0, path="../bob")
    rows.add("open", "<", 900, res=3, name="a", flags=1, mode=0)
    rows.add("fchdir", ">", 900, fd=5)
    rows.add("fchdir", "<", 900, res=0)
    rows.add("open", "<", 900, res=4, name="b", flags=1, mode=0)
    rows.add("chdir", "<", 900, res=-2, path="/nope")
    B = run(eng, rows)
    assert text(eng, B, 0, "proc.cwd") == "/home/bob/"
    assert text(eng, B, 1, "fd.name") == "/home/bob/a"
    assert text(eng, B, 4, "fd.name") == "/etc/b"
    assert text(eng, B, 5, "proc.cwd") == "/etc/"


def test_credentials_and_uid_parameter_names():
    eng = engine()
    rows = RawRows()
    rows.add("setuid", ">", 900, uid=0)
    rows.add("setuid", "<", 900, res=0)
    rows.add("setresuid", ">", 900, ruid=-1, euid=1000, suid=-1)
    rows.add("setresuid", "<", 900, res=0)
    rows.add("setgid", "<", 900, res=0, gid=0)
    rows.add("getuid", "<", 900, uid=4242)
    rows.add("setuid", "<", 900, res=-1, uid=0)
    B = run(eng, rows)
    assert text(eng, B, 0, "evt.arg.uid") == "root"
    assert text(eng, B, 1, "user.name") == "root" and text(eng, B, 1, "user.uid") == "0"
    assert text(eng, B, 2, "evt.arg.ruid") == "<NONE>"
    assert text(eng, B, 2, "evt.arg.euid") == "alice"
    assert text(eng, B, 3, "user.name") == "alice"
    assert text(eng, B, 4, "group.name") == "root"
    assert text(eng, B, 5, "evt.arg.uid") == "<NA>"
    assert text(eng, B, 6, "user.name") == "alice"        # failed: unchanged


def test_capset_and_exec_capabilities():
    eng = engine()
    rows = RawRows()
    rows.add("capset", "<", 900, res=0, cap_inheritable=0, cap_permitted=1 << 21,
             cap_effective=1 << 21)
    B = run(eng, rows)
    assert text(eng, B, 0, "thread.cap_effective") == "CAP_SYS_ADMIN"


def test_containers_from_cgroups_and_metadata_event():
    cid = "9dbcbd0c435f" + "a" * 52
    s = standard_snapshot()
    s.procs[1234] = proc(1234, comm=b"nginx", cgroups=[(b"cpu", b"/docker/" + cid.encode())],
                         uid=0)
    eng = engine(s)
    rows = RawRows()
    rows.add("read", ">", 1234, fd=0, size=1)
    B = run(eng, rows)
    assert row(eng, B, 0, "container.id", "container.name", "user.name") == \
        {"container.id": "9dbcbd0c435f", "container.name": None, "user.name": "root"}
    rows = RawRows(start_num=2)
    rows.add("read", ">", 1234, fd=0, size=1)
    rows.add("container", ">", -1, json='{"container":{"id":"9dbcbd0c435f","name":"web",'
             '"image":"nginx:1.25","imagerepo":"nginx","imagetag":"1.25","privileged":true,'
             '"Mounts":[{"Source":"/var/run/docker.sock","Destination":"/run/d.sock"}]}}')
    rows.add("read", ">", 1234, fd=0, size=1)
    B = run(eng, rows)
    assert row(eng, B, 2, "container.name", "container.image", "container.image.tag",
               "container.privileged", "container.mount.dest[/var/run/docker.sock]") == \
        {"container.name": "web", "container.image": "nginx:1.25",
         "container.image.tag": "1.25", "container.privileged": "true",
         "container.mount.dest[/var/run/docker.sock]": "/run/d.sock"}
    assert row(eng, B, 1, "proc.name", "thread.tid", "user.name", "container.id") == \
        {"proc.name": "container:9dbcbd", "thread.tid": "-1", "user.name": "root",
         "container.id": "9dbcbd0c435f"}


def test_user_added_event_renames():
    eng = engine()
    rows = RawRows()
    rows.add("setuid", "<", 900, res=0, uid=2000)
    rows.add("useradded", ">", -1, uid=2000, gid=2000, name="bob", home="/home/bob",
             shell="/bin/sh", container_id="")
    rows.add("read", ">", 900, fd=0, size=1)
    B = run(eng, rows)
    assert text(eng, B, 0, "user.name") is None
    assert text(eng, B, 2, "user.name") == "bob"


# --- mechanics ---------------------------------------------------------------------------------

def test_enter_and_exit_in_different_batches():
    eng = engine()
    rows = RawRows()
    rows.add("openat", ">", 900, dirfd=-100, name="split.txt", flags=1, mode=0)
    run(eng, rows)
    eng.release(eng.end_batch())
    rows = RawRows(start_num=2)
    rows.add("openat", "<", 900, res=3)                    # old layout: fd only
    B = run(eng, rows)
    assert text(eng, B, 0, "fd.name") == "/home/alice/split.txt"


def test_tiny_arena_grows_and_reused_batches_are_rewritten():
    eng = engine()
    rows = RawRows()
    for k in range(200):
        rows.add("openat", "<", 900, res=10 + k, dirfd=-100, name="f%03d" % k, flags=1, mode=0)
    B0 = rows.batch()
    B = eng.process(B0)
    assert eng.stats["arena_growths"] >= 1
    assert text(eng, B, 199, "fd.name") == "/home/alice/f199"
    # The same buffers again, full of the previous batch's state: all rewritten.
    rows = RawRows(start_num=300)
    for k in range(200):
        rows.add("futex", ">", 12000 + k % 3, addr=0, op=0, val=0)
    B2 = eng.process(rows.batch())
    assert {text(eng, B2, i, "fd.name") for i in range(200)} == {None}
    assert {text(eng, B2, i, "proc.name") for i in range(200)} == {"<NA>"}


def test_tables_grow():
    eng = StateEngine(thread_capacity=4, fd_capacity=8, string_bytes=256)
    eng.seed(snapshot(proc(100, comm=b"srv", cwd=b"/x" * 50)))
    rows = RawRows()
    for k in range(300):
        rows.add("socket", "<", 100, res=100 + k, domain=2, type=1, proto=0)
    for k in range(40):
        clone_exit(rows, 100, 200000 + k, res=200000 + k, flags=CLONE_THREAD, comm="srv",
                   args=b"")
    rows.add("fstat", ">", 200039, fd=399)
    B = run(eng, rows)
    assert text(eng, B, 340, "fd.typechar") == "4"
    assert text(eng, B, 340, "thread.tid") == "200039"
    assert eng.stats["fds"] == 300 and eng.stats["threads"] == 41


def test_procs_arena_compaction_keeps_strings():
    eng = engine()
    for round_ in range(30):
        rows = RawRows(start_num=1 + 100 * round_)
        for k in range(20):
            child = 5000 + k
            clone_exit(rows, 900, child, res=child)
            rows.add("execve", "<", child, res=0, exe="x" * 200, args=b"y" * 300 + b"\0",
                     tid=child, pid=child, ptid=900, cwd="", comm="job%d" % k)
            rows.add("procexit", ">", child, status=0)
        run(eng, rows)
        eng.release(eng.end_batch())
    assert eng.stats["procs_compactions"] >= 1
    rows = RawRows(start_num=10000)
    rows.add("read", ">", 900, fd=0, size=1)
    B = run(eng, rows)
    assert row(eng, B, 0, "proc.name", "proc.exepath", "proc.pname", "proc.cmdline") == \
        {"proc.name": "bash", "proc.exepath": "/usr/bin/bash", "proc.pname": "sshd",
         "proc.cmdline": "bash -i"}


def test_late_snapshot_adds_without_replacing():
    eng = engine()
    late = Snapshot()
    late.procs[900] = proc(900, comm=b"other")
    late.procs[3000] = proc(3000, comm=b"late", cwd=b"/opt")
    late.users = [UserInfo(7, 7, b"seven")]
    eng.seed(late)
    rows = RawRows()
    rows.add("read", ">", 900, fd=0, size=1)
    rows.add("read", ">", 3000, fd=0, size=1)
    B = run(eng, rows)
    assert text(eng, B, 0, "proc.name") == "bash"
    assert row(eng, B, 1, "proc.name", "proc.cwd") == {"proc.name": "late", "proc.cwd": "/opt/"}


def test_stats_counters():
    eng = engine()
    rows = RawRows()
    rows.add("read", ">", 900, fd=0, size=1)
    rows.add("read", "<", 900, res=1)
    run(eng, rows)
    st = eng.stats
    for key in ("threads", "processes", "fds", "slots_in_use", "slots_reclaimed",
                "unknown_threads", "rows", "fd_lookups", "slow_rows"):
        assert key in st
    assert st["rows"] == 2 and st["fd_lookups"] == 1 and st["fd_lookup_misses"] == 0


def test_process_slots_live_in_shared_memory():
    """A process forked after the slots exist reads what the engine writes later
    (DESIGN point 2: workers read the sequencer's slots, they do not copy them)."""
    import os
    from sensor.capture.state import StateEngine
    eng = StateEngine()
    P = eng.P
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # the "worker"
        os.close(w)
        os.read(r, 1)                             # wait until the parent wrote
        os._exit(0 if int(P.pid[0]) == 4242 and int(P.n[0]) == 77 else 1)
    os.close(r)
    P.pid[0] = 4242
    P.n[0] = 77
    os.write(w, b"x")
    _, status = os.waitpid(pid, 0)
    os.close(w)
    assert os.WEXITSTATUS(status) == 0
