"""Event parameters the driver stores as binary structures: socket addresses
(sockaddr), connection tuples (socktuple) and poll fd lists (fdlist).

Batches keep them binary, as the driver wrote them (CONTRACTS.md, "Capture and
replay"); this module gives their text as Falco/sysdig print it, decodes tuples
for the state engine, and encodes text back to binary for hand-built batches.

Driver encodings (family codes are the driver's PPM_AF_*, equal to Linux's):
  sockaddr   u8 family | AF_INET: 4 address bytes (network order), u16 port
                       | AF_INET6: 16 address bytes, u16 port | AF_UNIX: path, NUL
  socktuple  u8 family | AF_INET: sip[4] u16 sport dip[4] u16 dport
                       | AF_INET6: sip[16] u16 sport dip[16] u16 dport
                       | AF_UNIX: u64 source, u64 dest (kernel pointers), path, NUL
  fdlist     u16 count | count x (i64 fd, i16 poll flags)
Ports are in host (little endian) order.  The tuple's source is the client
and its destination the server, for connect and accept alike.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import struct
from typing import Callable, Optional

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
BINARY_TYPES = frozenset({"sockaddr", "socktuple", "fdlist"})
_V4_MAPPED = 0xFFFF << 32
_V4_MAPPED_PREFIX = b"\0" * 10 + b"\xff\xff"


# --- text, as sysdig prints it ---------------------------------------------------------

def printable(raw: bytes) -> str:
    """A byte buffer as Falco prints it: printable ASCII kept, every other byte '.'."""
    return raw.translate(_DOTS).decode("ascii")


_DOTS = bytes(c if 0x20 <= c < 0x7F else 0x2E for c in range(256))


def _sanitized(raw: bytes) -> str:
    """A C string up to its NUL, with non-printable bytes removed (libs' sanitize_string)."""
    return bytes(c for c in raw.split(b"\0", 1)[0] if 0x20 <= c < 0x7F).decode("ascii")


def _ip6_text(b16: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b16)


def render(ptype: str, raw: bytes,
           fd_typechar: Optional[Callable[[int], Optional[str]]] = None) -> str:
    """The text of a sockaddr, socktuple or fdlist parameter.  An empty
    parameter prints NULL.  fd_typechar(fd) gives an fd's type character for
    fdlist entries (sysdig asks the thread's fd table; '?' when unknown)."""
    if not raw:
        return "NULL"
    if ptype == "sockaddr":
        return _render_sockaddr(raw)
    if ptype == "socktuple":
        return _render_tuple(raw)
    if ptype == "fdlist":
        return _render_fdlist(raw, fd_typechar)
    raise ValueError(f"not a binary parameter type: {ptype}")


def _render_sockaddr(raw: bytes) -> str:
    fam = raw[0]
    if fam == AF_UNIX:
        return _sanitized(raw[1:])
    if fam == AF_INET:
        if len(raw) != 7:
            return "INVALID IPv4"
        (port,) = struct.unpack_from("<H", raw, 5)
        return f"{socket.inet_ntoa(raw[1:5])}:{port}"
    if fam == AF_INET6:
        if len(raw) != 19:
            return "INVALID IPv6"
        (port,) = struct.unpack_from("<H", raw, 17)
        return f"{_ip6_text(raw[1:17])}:{port}"
    return f"family {fam}"


def _render_tuple(raw: bytes) -> str:
    fam = raw[0]
    if fam == AF_INET:
        if len(raw) != 13:
            return "INVALID IPv4"
        sport, = struct.unpack_from("<H", raw, 5)
        dport, = struct.unpack_from("<H", raw, 11)
        return (f"{socket.inet_ntoa(raw[1:5])}:{sport}->"
                f"{socket.inet_ntoa(raw[7:11])}:{dport}")
    if fam == AF_INET6:
        if len(raw) != 37:
            return "INVALID IPv6"
        sip, dip = raw[1:17], raw[19:35]
        sport, = struct.unpack_from("<H", raw, 17)
        dport, = struct.unpack_from("<H", raw, 35)
        if sip.startswith(_V4_MAPPED_PREFIX) and dip.startswith(_V4_MAPPED_PREFIX):
            # both ends IPv4-mapped: sysdig prints them as an IPv4 tuple
            return (f"{socket.inet_ntoa(sip[12:])}:{sport}->"
                    f"{socket.inet_ntoa(dip[12:])}:{dport}")
        return f"{_ip6_text(sip)}:{sport}->{_ip6_text(dip)}:{dport}"
    if fam == AF_UNIX:
        if len(raw) < 17:
            return "INVALID UNIX"
        src, dst = struct.unpack_from("<QQ", raw, 1)
        return f"{src:x}->{dst:x} {_sanitized(raw[17:])}"
    return f"family {fam}"


def _render_fdlist(raw: bytes, fd_typechar) -> str:
    entries = []
    for fd, flags in decode_fdlist(raw):
        tch = (fd_typechar(fd) if fd_typechar else None) or "?"
        entries.append(f"{fd & (2**64 - 1)}:{tch}{flags & 0xFFFFFFFF:x}")
    return " ".join(entries)


# --- decoding, for the state engine --------------------------------------------------------

def decode_sockaddr(raw: bytes) -> Optional[dict]:
    """{family, ip (128-bit int, IPv4 mapped), port} or {family, path}; None if
    empty or malformed."""
    if not raw:
        return None
    fam = raw[0]
    if fam == AF_INET and len(raw) == 7:
        return {"family": fam, "ip": _V4_MAPPED | int.from_bytes(raw[1:5], "big"),
                "port": struct.unpack_from("<H", raw, 5)[0]}
    if fam == AF_INET6 and len(raw) == 19:
        return {"family": fam, "ip": int.from_bytes(raw[1:17], "big"),
                "port": struct.unpack_from("<H", raw, 17)[0]}
    if fam == AF_UNIX:
        return {"family": fam, "path": raw[1:].split(b"\0", 1)[0]}
    return None


def decode_tuple(raw: bytes) -> Optional[dict]:
    """A socktuple as {family, cip, cport, sip, sport} (addresses 128-bit ints,
    IPv4 mapped into IPv6; c = the tuple's source, s = its destination), or for
    unix sockets {family, source, dest, path}.  None if empty or malformed."""
    if not raw:
        return None
    fam = raw[0]
    if fam == AF_INET and len(raw) == 13:
        return {"family": fam,
                "cip": _V4_MAPPED | int.from_bytes(raw[1:5], "big"),
                "cport": struct.unpack_from("<H", raw, 5)[0],
                "sip": _V4_MAPPED | int.from_bytes(raw[7:11], "big"),
                "sport": struct.unpack_from("<H", raw, 11)[0]}
    if fam == AF_INET6 and len(raw) == 37:
        return {"family": fam,
                "cip": int.from_bytes(raw[1:17], "big"),
                "cport": struct.unpack_from("<H", raw, 17)[0],
                "sip": int.from_bytes(raw[19:35], "big"),
                "sport": struct.unpack_from("<H", raw, 35)[0]}
    if fam == AF_UNIX and len(raw) >= 17:
        src, dst = struct.unpack_from("<QQ", raw, 1)
        return {"family": fam, "source": src, "dest": dst,
                "path": raw[17:].split(b"\0", 1)[0]}
    return None


def decode_fdlist(raw: bytes) -> list:
    """[(fd, poll flags)], flags as the driver's signed 16-bit value; entries
    cut short by the parameter's length are dropped."""
    if len(raw) < 2:
        return []
    (count,) = struct.unpack_from("<H", raw, 0)
    count = min(count, (len(raw) - 2) // 10)
    return [struct.unpack_from("<qh", raw, 2 + 10 * k) for k in range(count)]


# --- encoding text, for hand-built batches ------------------------------------------------------

_ENDPOINT = re.compile(r"^\[?(?P<ip>[^\[\]]*?)\]?:(?P<port>\d+)$")


def _endpoint(text: str) -> tuple[int, bytes, int]:
    """'1.2.3.4:80', '::1:80' or '[::1]:80' -> (family, address bytes, port)."""
    m = _ENDPOINT.match(text.strip())
    if not m:
        raise ValueError(f"not an address:port: {text!r}")
    ip = ipaddress.ip_address(m["ip"])
    return (AF_INET if ip.version == 4 else AF_INET6), ip.packed, int(m["port"])


def encode_sockaddr(text: str) -> bytes:
    """'1.2.3.4:80', '[2001:db8::1]:443' or a unix socket path -> driver bytes."""
    if ":" not in text:
        return bytes([AF_UNIX]) + text.encode() + b"\0"
    fam, addr, port = _endpoint(text)
    return bytes([fam]) + addr + struct.pack("<H", port)


def encode_tuple(text: str) -> bytes:
    """'1.2.3.4:80->5.6.7.8:443' (IPv6 alike), or a unix tuple as sysdig prints
    it: 'ffff9e4a->ffff9e4b /run/x.sock' (hex kernel pointers, then the path)."""
    left, sep, right = text.partition("->")
    if not sep:
        raise ValueError(f"not a tuple (no '->'): {text!r}")
    if ":" not in left:
        dst, _, path = right.strip().partition(" ")
        return (bytes([AF_UNIX]) + struct.pack("<QQ", int(left, 16), int(dst, 16))
                + path.encode() + b"\0")
    sfam, sip, sport = _endpoint(left)
    dfam, dip, dport = _endpoint(right)
    if sfam != dfam:                       # mixed: map the IPv4 end into IPv6
        sip = sip if sfam == AF_INET6 else _V4_MAPPED_PREFIX + sip
        dip = dip if dfam == AF_INET6 else _V4_MAPPED_PREFIX + dip
        sfam = AF_INET6
    return bytes([sfam]) + sip + struct.pack("<H", sport) + dip + struct.pack("<H", dport)


def encode_fdlist(text: str) -> bytes:
    """'3:1 4:e5' -> driver bytes.  Entries are fd:flags (hex) as sysdig prints
    them; with two or more characters after the colon the first is the fd's type
    character (sysdig always prints one, '?' when unknown) and is dropped."""
    entries = []
    for item in text.split():
        fd, _, flags = item.partition(":")
        if len(flags) >= 2:
            flags = flags[1:]
        value = int(flags or "0", 16) & 0xFFFF
        entries.append(struct.pack("<qh", int(fd), value - 0x10000 if value >= 0x8000 else value))
    return struct.pack("<H", len(entries)) + b"".join(entries)


def encode(ptype: str, text: str) -> bytes:
    """Text of a sockaddr/socktuple/fdlist parameter -> the driver's encoding."""
    return {"sockaddr": encode_sockaddr, "socktuple": encode_tuple,
            "fdlist": encode_fdlist}[ptype](text)
