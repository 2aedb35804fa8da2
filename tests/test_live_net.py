"""The network probes on this kernel (root): real sockets, the events they
make, the parameters checked against what the sockets report (getsockname,
getpeername) and against the driver's binary layouts (sensor/events/params.py).
"""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import tempfile
import threading

import pytest

from live_harness import capture, needs_live
from sensor.events import params as P

pytestmark = needs_live

NET = ["socket", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg"]
SYS_ACCEPT, SYS_ACCEPT4 = 43, 288           # x86_64
LOCAL = "127.0.0.1"

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.sendto.restype = ctypes.c_ssize_t
libc.sendto.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                        ctypes.c_void_p, ctypes.c_uint]


def run(action, syscalls=NET):
    """The test thread's events while action runs, and what action returned."""
    out = {}
    events = capture(syscalls, lambda: out.setdefault("r", action()))
    me = threading.get_native_id()
    return [e for e in events if e.tid == me], out.get("r")


def only(events, name, **where):
    """The one event of that name whose args match `where`."""
    found = [e for e in events if e.name == name
             and all(e.args.get(k) == v for k, v in where.items())]
    assert len(found) == 1, (name, where, events)
    return found[0]


def empty(e, param) -> bool:
    return not e.args.get(param)


def tuple_text(client, server) -> str:
    return f"{client[0]}:{client[1]}->{server[0]}:{server[1]}"


# --- TCP over IPv4 ---------------------------------------------------------------------


def test_tcp_connect_accept4_queue():
    """Two clients connect; the first accept4 sees the second still queued."""
    def act():
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind((LOCAL, 0))
        srv.listen(7)
        c1 = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 6)
        c1.connect(srv.getsockname())
        c2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c2.connect(srv.getsockname())
        fd = libc.syscall(SYS_ACCEPT4, srv.fileno(), None, None,
                          socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        assert fd >= 0
        peer = socket.socket(fileno=fd)
        r = dict(srv=srv.fileno(), c1=c1.fileno(), fd=fd, sname=srv.getsockname(),
                 c1name=c1.getsockname(), accepted=peer.getpeername())
        for s in (peer, c1, c2, srv):
            s.close()
        return r

    evs, r = run(act)
    sock = only(evs, "socket", fd=r["c1"])
    assert sock.text("domain") == "AF_INET"
    assert sock.args["type"] & 0xF == socket.SOCK_STREAM
    assert sock.args["proto"] == 6

    conn = only(evs, "connect", fd=r["c1"])
    assert conn.res == 0
    assert conn.text("tuple") == tuple_text(r["c1name"], r["sname"])
    assert conn.text("addr") == f"{LOCAL}:{r['sname'][1]}"
    t = P.decode_tuple(conn.args["tuple"])
    assert t["family"] == P.AF_INET and t["cport"] == r["c1name"][1]

    acc = only(evs, "accept4")
    assert acc.res == r["fd"] == acc.args["fd"]
    # the new socket's peer is the client, written first
    assert acc.text("tuple") == tuple_text(r["accepted"], r["sname"])
    assert acc.text("tuple") == conn.text("tuple")      # c1 is accepted first
    assert acc.args["flags"] == socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
    assert (acc.args["queuelen"], acc.args["queuemax"]) == (1, 7)
    assert acc.args["queuepct"] == 100 // 7


def test_plain_accept_and_failed_accept():
    def act():
        srv = socket.socket()
        srv.bind((LOCAL, 0))
        srv.listen(3)
        srv.setblocking(False)
        bad = libc.syscall(SYS_ACCEPT, srv.fileno(), None, None)     # nothing queued
        c = socket.socket()
        c.connect(srv.getsockname())
        fd = libc.syscall(SYS_ACCEPT, srv.fileno(), None, None)
        r = dict(bad=bad, fd=fd, cname=c.getsockname(), sname=srv.getsockname())
        os.close(fd)
        c.close()
        srv.close()
        return r

    evs, r = run(act)
    assert r["bad"] == -1
    failed, ok = [e for e in evs if e.name == "accept"]
    assert failed.res == -errno.EAGAIN and empty(failed, "tuple")
    assert (failed.args["queuepct"], failed.args["queuelen"], failed.args["queuemax"]) == (0, 0, 0)
    assert ok.res == r["fd"]
    assert ok.text("tuple") == tuple_text(r["cname"], r["sname"])
    assert (ok.args["queuelen"], ok.args["queuemax"]) == (0, 3)


def test_connect_refused():
    def act():
        # a bound socket that does not listen: its port refuses connections
        hold = socket.socket()
        hold.bind((LOCAL, 0))
        c = socket.socket()
        code = c.connect_ex(hold.getsockname())
        r = dict(fd=c.fileno(), port=hold.getsockname()[1], code=code)
        c.close()
        hold.close()
        return r

    evs, r = run(act)
    assert r["code"] == errno.ECONNREFUSED
    e = only(evs, "connect", fd=r["fd"])
    assert e.res == -errno.ECONNREFUSED
    assert empty(e, "tuple")                 # no tuple without a connection, as the driver
    assert e.text("addr") == f"{LOCAL}:{r['port']}"
    assert e.args["addr"] == P.encode_sockaddr(f"{LOCAL}:{r['port']}")


def test_bind_listen():
    def act():
        a = socket.socket()
        a.bind((LOCAL, 0))
        a.listen(12)
        c = socket.socket()
        try:
            c.bind(a.getsockname())
            bind_err = 0
        except OSError as ex:
            bind_err = ex.errno
        r = dict(a=a.fileno(), c=c.fileno(), port=a.getsockname()[1], bind_err=bind_err)
        for s in (a, c):
            s.close()
        return r

    evs, r = run(act, ["bind", "listen"])
    ok = only(evs, "bind", fd=r["a"])
    assert ok.res == 0 and ok.text("addr") == f"{LOCAL}:0"
    lst = only(evs, "listen", fd=r["a"])
    assert lst.res == 0 and lst.args["backlog"] == 12
    assert r["bind_err"] == errno.EADDRINUSE
    bad = only(evs, "bind", fd=r["c"])
    assert bad.res == -errno.EADDRINUSE
    assert bad.text("addr") == f"{LOCAL}:{r['port']}"


# --- IPv6 ---------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_connect_accept():
    def act():
        srv = socket.socket(socket.AF_INET6)
        srv.bind(("::1", 0))
        srv.listen(4)
        c = socket.socket(socket.AF_INET6)
        c.connect(srv.getsockname()[:2])
        a, _ = srv.accept()
        r = dict(fd=c.fileno(), cname=c.getsockname()[:2], sname=srv.getsockname()[:2])
        for s in (a, c, srv):
            s.close()
        return r

    evs, r = run(act)
    assert only(evs, "socket", fd=r["fd"]).text("domain") == "AF_INET6"
    conn = only(evs, "connect", fd=r["fd"])
    assert conn.res == 0
    assert conn.text("tuple") == tuple_text(r["cname"], r["sname"])
    assert conn.text("addr") == f"::1:{r['sname'][1]}"
    assert len(conn.args["tuple"]) == 37 and conn.args["tuple"][0] == P.AF_INET6
    acc = only(evs, "accept4")
    assert acc.text("tuple") == conn.text("tuple")


# --- unix sockets -----------------------------------------------------------------------


def test_unix_stream_connect_accept():
    def act():
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "srv.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            srv.listen(2)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            a, _ = srv.accept()
            r = dict(path=path, srv=srv.fileno(), fd=c.fileno())
            for s in (a, c, srv):
                s.close()
            return r

    evs, r = run(act)
    path = r["path"]
    sock = only(evs, "socket", fd=r["fd"])
    assert sock.args["domain"] == socket.AF_UNIX
    assert only(evs, "bind", fd=r["srv"]).text("addr") == path
    conn = only(evs, "connect", fd=r["fd"])
    assert conn.res == 0 and conn.text("addr") == path
    ct = P.decode_tuple(conn.args["tuple"])
    assert ct["family"] == P.AF_UNIX and ct["path"] == path.encode()
    assert ct["source"] and ct["dest"] and ct["source"] != ct["dest"]
    assert conn.text("tuple") == f"{ct['source']:x}->{ct['dest']:x} {path}"
    # accept's tuple names the same two kernel sockets, in the same order
    # (the server end first), and the server's path
    at = P.decode_tuple(only(evs, "accept4").args["tuple"])
    assert (at["source"], at["dest"], at["path"]) == (ct["source"], ct["dest"], path.encode())


def test_unix_abstract_and_dgram():
    name = f"sensor-test-{os.getpid()}"

    def act():
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        srv.bind("\0" + name)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.sendto(b"to abstract", "\0" + name)
        c.connect("\0" + name)
        c.send(b"connected")
        r = dict(fd=c.fileno())
        c.close()
        srv.close()
        return r

    evs, r = run(act)
    sock = only(evs, "socket", fd=r["fd"])
    assert sock.args["type"] & 0xF == socket.SOCK_DGRAM and sock.args["proto"] == 0
    # abstract names lose their leading NUL, as the driver writes them
    sent, sent2 = [e for e in evs if e.name == "sendto" and e.args["fd"] == r["fd"]]
    assert sent.args["data"] == b"to abstract"
    assert P.decode_tuple(sent.args["tuple"])["path"] == name.encode()
    assert only(evs, "connect", fd=r["fd"]).text("addr") == name
    assert P.decode_tuple(sent2.args["tuple"])["path"] == name.encode()


# --- sending -------------------------------------------------------------------------------


def test_udp_sendto_sendmsg():
    def act():
        rcv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rcv.bind((LOCAL, 0))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        big = bytes(range(200))
        u.sendto(big, rcv.getsockname())
        u.sendmsg([b"head-", b"x" * 100, b"tail"], [], 0, rcv.getsockname())
        r = dict(fd=u.fileno(), uname=u.getsockname(), rname=rcv.getsockname(), big=big)
        u.close()
        rcv.close()
        return r

    evs, r = run(act)
    # an unconnected socket: the destination is the caller's address
    want = tuple_text(r["uname"], r["rname"])
    st = only(evs, "sendto", fd=r["fd"])
    assert st.res == 200 and st.args["size"] == 200
    assert st.args["data"] == r["big"][:80]
    assert st.text("tuple") == want
    sm = only(evs, "sendmsg", fd=r["fd"])
    assert sm.res == sm.args["size"] == 5 + 100 + 4
    assert sm.args["data"] == (b"head-" + b"x" * 100)[:80]
    assert sm.text("tuple") == want


def test_tcp_send_and_sendmsg_connected():
    def act():
        srv = socket.socket()
        srv.bind((LOCAL, 0))
        srv.listen(1)
        c = socket.socket()
        c.connect(srv.getsockname())
        a, _ = srv.accept()
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        c.sendmsg([b"ab", b"", b"cd"])
        r = dict(fd=c.fileno(), cname=c.getsockname(), sname=srv.getsockname())
        for s in (a, c, srv):
            s.close()
        return r

    evs, r = run(act, ["sendto", "sendmsg"])
    want = tuple_text(r["cname"], r["sname"])
    st = only(evs, "sendto", fd=r["fd"])
    assert st.args["data"] == b"GET / HTTP/1.0\r\n\r\n" and st.text("tuple") == want
    sm = only(evs, "sendmsg", fd=r["fd"])
    assert sm.res == 4 and sm.args["data"] == b"abcd" and sm.text("tuple") == want


def test_failed_sendto_and_socket():
    def act():
        fd = os.open("/dev/null", os.O_WRONLY)
        n = libc.sendto(fd, b"not a socket", 12, 0, None, 0)       # ENOTSOCK
        err = ctypes.get_errno()
        os.close(fd)
        try:
            socket.socket(9999, socket.SOCK_STREAM)
        except OSError:
            pass
        return dict(fd=fd, n=n, err=err)

    evs, r = run(act, ["sendto", "socket"])
    assert (r["n"], r["err"]) == (-1, errno.ENOTSOCK)
    e = only(evs, "sendto", fd=r["fd"])
    assert e.res == -errno.ENOTSOCK
    assert e.args["data"] == b"not a socket" and e.args["size"] == 12
    assert empty(e, "tuple")
    bad = only(evs, "socket", type=socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    assert bad.res == -errno.EAFNOSUPPORT and bad.args["domain"] == 0
