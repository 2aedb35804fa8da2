"""Binary event parameters (sockaddr, socktuple, fdlist): their Falco text,
decoding for the state engine, encoding from text, and how evt.arg / evt.args
and the batch builder use them."""
from __future__ import annotations

import socket
import struct

import pytest

from sensor.events import params as PR
from sensor.events import evttypes as ET
from sensor.events.builder import Builder
from sensor.events.evtargs import evt_arg_text, evt_args_text

V4_MAPPED = 0xFFFF << 32


def v4_tuple(sip, sport, dip, dport):
    return (bytes([2]) + socket.inet_aton(sip) + struct.pack("<H", sport)
            + socket.inet_aton(dip) + struct.pack("<H", dport))


def v6_tuple(sip, sport, dip, dport):
    return (bytes([10]) + socket.inet_pton(socket.AF_INET6, sip) + struct.pack("<H", sport)
            + socket.inet_pton(socket.AF_INET6, dip) + struct.pack("<H", dport))


# --- rendering ----------------------------------------------------------------------

def test_ipv4_tuple_text():
    raw = v4_tuple("127.0.0.1", 34567, "127.0.0.1", 80)
    assert PR.render("socktuple", raw) == "127.0.0.1:34567->127.0.0.1:80"


def test_ipv6_tuple_text_and_mapped_ipv4():
    assert PR.render("socktuple", v6_tuple("::1", 38255, "2001:4860:4860::8888", 53)) \
        == "::1:38255->2001:4860:4860::8888:53"
    # both ends IPv4-mapped: printed as an IPv4 tuple, as sysdig does
    assert PR.render("socktuple", v6_tuple("::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2)) \
        == "10.0.0.1:1->10.0.0.2:2"
    # only one end mapped: inet_ntop's text for it
    assert PR.render("socktuple", v6_tuple("::ffff:10.0.0.1", 1, "::1", 2)) \
        == "::ffff:10.0.0.1:1->::1:2"


def test_unix_tuple_text():
    raw = bytes([1]) + struct.pack("<QQ", 0, 0xFFFF8EDCFDA06800) + b"/var/run/nscd/socket\0"
    assert PR.render("socktuple", raw) == "0->ffff8edcfda06800 /var/run/nscd/socket"
    # non-printable bytes of the path are dropped (libs' sanitize_string)
    raw = bytes([1]) + struct.pack("<QQ", 0x9E4AB1C08FB2C1E5, 0) + b"/x\x01y.sock\0junk"
    assert PR.render("socktuple", raw) == "9e4ab1c08fb2c1e5->0 /xy.sock"


def test_sockaddr_text():
    assert PR.render("sockaddr", bytes([2]) + socket.inet_aton("1.2.3.4")
                     + struct.pack("<H", 443)) == "1.2.3.4:443"
    assert PR.render("sockaddr", bytes([10]) + socket.inet_pton(socket.AF_INET6, "2001:db8::3")
                     + struct.pack("<H", 1234)) == "2001:db8::3:1234"
    assert PR.render("sockaddr", b"\x01/run/docker.sock\0") == "/run/docker.sock"
    assert PR.render("sockaddr", b"\x11abc") == "family 17"


def test_empty_and_malformed():
    for ptype in ("sockaddr", "socktuple", "fdlist"):
        assert PR.render(ptype, b"") == "NULL"
    assert PR.render("socktuple", b"\x02\x01\x02") == "INVALID IPv4"
    assert PR.render("sockaddr", b"\x0a\x00") == "INVALID IPv6"
    assert PR.decode_tuple(b"\x02\x01") is None
    assert PR.decode_tuple(b"") is None
    with pytest.raises(ValueError):
        PR.render("charbuf", b"x")


def test_fdlist_text():
    raw = struct.pack("<H", 3) + struct.pack("<qh", 4, 1) + struct.pack("<qh", 7, 0) \
        + struct.pack("<qh", 9, -32768)
    assert PR.render("fdlist", raw) == "4:?1 7:?0 9:?ffff8000"
    types = {4: "e", 7: "i"}
    assert PR.render("fdlist", raw, types.get) == "4:e1 7:i0 9:?ffff8000"
    assert PR.render("fdlist", struct.pack("<H", 0)) == ""
    # a count larger than the bytes: entries that are there
    assert PR.decode_fdlist(struct.pack("<H", 5) + struct.pack("<qh", 1, 4)) == [(1, 4)]


def test_printable_bytes():
    assert PR.printable(b"GET / HTTP/1.1\r\n\x00\xff\"\\") == 'GET / HTTP/1.1...."\\'
    assert PR.printable(b"") == ""


# --- decoding ---------------------------------------------------------------------------

def test_decode_tuple_fields():
    d = PR.decode_tuple(v4_tuple("10.0.0.5", 41000, "1.2.3.4", 443))
    assert d == {"family": 2, "cip": V4_MAPPED | 0x0A000005, "cport": 41000,
                 "sip": V4_MAPPED | 0x01020304, "sport": 443}
    d = PR.decode_tuple(v6_tuple("2001:db8::1", 5, "::1", 6))
    assert d["family"] == 10 and d["sip"] == 1 and d["cport"] == 5 and d["sport"] == 6
    assert d["cip"] == int.from_bytes(socket.inet_pton(socket.AF_INET6, "2001:db8::1"), "big")
    d = PR.decode_tuple(bytes([1]) + struct.pack("<QQ", 1, 2) + b"/s\0")
    assert d == {"family": 1, "source": 1, "dest": 2, "path": b"/s"}


def test_decode_sockaddr_fields():
    assert PR.decode_sockaddr(PR.encode_sockaddr("1.2.3.4:80")) == \
        {"family": 2, "ip": V4_MAPPED | 0x01020304, "port": 80}
    assert PR.decode_sockaddr(PR.encode_sockaddr("/tmp/x")) == {"family": 1, "path": b"/tmp/x"}


# --- encoding ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "10.0.0.5:41000->1.2.3.4:443",
    "::1:38255->2001:4860:4860::8888:53",
    "0->ffff8edcfda06800 /var/run/nscd/socket",
])
def test_tuple_text_round_trip(text):
    assert PR.render("socktuple", PR.encode_tuple(text)) == text


def test_encode_accepts_bracketed_ipv6_and_mixed_families():
    assert PR.render("socktuple", PR.encode_tuple("[2001:db8::1]:5->[::2]:6")) \
        == "2001:db8::1:5->::2:6"
    assert PR.render("socktuple", PR.encode_tuple("[::1]:5->1.2.3.4:6")) \
        == "::1:5->::ffff:1.2.3.4:6"
    assert PR.render("sockaddr", PR.encode_sockaddr("[::1]:22")) == "::1:22"
    assert PR.render("fdlist", PR.encode_fdlist("4:e1 7:?0 3:5")) == "4:?1 7:?0 3:?5"
    with pytest.raises(ValueError):
        PR.encode_tuple("1.2.3.4:80")
    with pytest.raises(ValueError):
        PR.encode_sockaddr("1.2.3:80")


# --- the builder and evt.arg text ------------------------------------------------------------

def test_builder_stores_tuples_binary_and_text_reads_back():
    b = Builder()
    p = b.add_proc(pid=10, comm="curl")
    b.add_event("connect", slot=p, res=0, params={"tuple": "10.0.0.5:41000->1.2.3.4:443",
                                                  "fd": 6, "addr": "1.2.3.4:443"})
    b.add_event("read", slot=p, res=4, params={"data": b"ab\0\x7fc", "fd": 0, "size": 9})
    b.add_event("poll", dir=">", slot=p, params={"fds": "4:e1 7:i0", "timeout": 5})
    B, P, C = b.build()
    tid = ET.type_id("connect")
    k = ET.param_index(tid, ET.EXIT, "tuple")
    off, ln = int(B.arg_off[k, 0]), int(B.arg_len[k, 0])
    assert bytes(B.arena[off:off + ln]) == v4_tuple("10.0.0.5", 41000, "1.2.3.4", 443)
    tuple_id, addr_id = ET.param_name_id("tuple"), ET.param_name_id("addr")
    assert evt_arg_text(B, P, C, 0, tuple_id, b"") == "10.0.0.5:41000->1.2.3.4:443"
    assert evt_arg_text(B, P, C, 0, addr_id, b"") == "1.2.3.4:443"
    assert evt_arg_text(B, P, C, 1, ET.param_name_id("data"), b"") == "ab..c"
    assert evt_arg_text(B, P, C, 2, ET.param_name_id("fds"), b"") == "4:?1 7:?0"
    assert evt_args_text(B, P, C, 0, 0, b"") == \
        "res=0 tuple=10.0.0.5:41000->1.2.3.4:443 fd=6 addr=1.2.3.4:443"
