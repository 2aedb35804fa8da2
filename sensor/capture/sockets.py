"""Socket addresses for the state engine, compilable by numba: reading the
driver's sockaddr/socktuple parameters (layouts in sensor/events/params.py)
and writing the fd names Falco shows for sockets.

Addresses are handled as 128-bit values split in two u64 words (hi, lo), IPv4
mapped into IPv6 (::ffff:a.b.c.d), the form Batch.fd_cip_*/fd_sip_* use.

Names (facts from libsinsp's sockinfo_to_str and the socktuple text):
  IPv4 tcp/udp     "1.2.3.4:5->6.7.8.9:80"
  IPv4 icmp/raw    "1.2.3.4->6.7.8.9"
  IPv4 unknown     "<unknown>"
  IPv6 tcp/udp     "::1:5->::1:80" (inet_ntop text, no brackets); both ends
                   IPv4-mapped print as IPv4
  server socket    "0.0.0.0:80" (bind)
  unix tuple       "ffff9a1c->ffff9a1d /run/x.sock" (kernel pointers in hex)
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
L4_UNKNOWN, L4_ICMP, L4_TCP, L4_UDP, L4_RAW = 0, 1, 6, 17, 255
V4_MAPPED_HI = np.uint64(0)
V4_MAPPED_LO_PREFIX = np.uint64(0xFFFF) << np.uint64(32)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8).copy()
_UNKNOWN = np.frombuffer(b"<unknown>", np.uint8).copy()


# --- reading the driver's bytes -------------------------------------------------------

@register_jitable
def u16_le(buf, off):
    return np.int64(buf[off]) | (np.int64(buf[off + 1]) << 8)


@register_jitable
def u64_le(buf, off):
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(buf[off + k]) << np.uint64(8 * k)
    return v


@register_jitable
def be_word(buf, off, n):
    """n bytes at off as a big-endian unsigned value (n <= 8)."""
    v = np.uint64(0)
    for k in range(n):
        v = (v << np.uint64(8)) | np.uint64(buf[off + k])
    return v


@register_jitable
def ip4(buf, off):
    """(hi, lo) of the IPv4 address at off, mapped into IPv6."""
    return np.uint64(0), V4_MAPPED_LO_PREFIX | be_word(buf, off, 4)


@register_jitable
def ip6(buf, off):
    return be_word(buf, off, 8), be_word(buf, off + 8, 8)


@register_jitable
def is_v4(hi, lo):
    """IPv4-mapped, or all zero (libsinsp counts the unspecified address as IPv4)."""
    if hi != 0:
        return False
    top = lo >> np.uint64(32)
    return top == 0xFFFF or lo == 0


@register_jitable
def tuple_parse(buf, off, ln):
    """A socktuple: (family, cip_hi, cip_lo, cport, sip_hi, sip_lo, sport,
    unix_source, unix_dest, path_off); family 0 if malformed."""
    z = np.uint64(0)
    if ln < 1:
        return 0, z, z, 0, z, z, 0, z, z, 0
    fam = np.int64(buf[off])
    if fam == AF_INET and ln >= 13:
        chi, clo = ip4(buf, off + 1)
        shi, slo = ip4(buf, off + 7)
        return fam, chi, clo, u16_le(buf, off + 5), shi, slo, u16_le(buf, off + 11), z, z, 0
    if fam == AF_INET6 and ln >= 37:
        chi, clo = ip6(buf, off + 1)
        shi, slo = ip6(buf, off + 19)
        return fam, chi, clo, u16_le(buf, off + 17), shi, slo, u16_le(buf, off + 35), z, z, 0
    if fam == AF_UNIX and ln >= 17:
        return fam, z, z, 0, z, z, 0, u64_le(buf, off + 1), u64_le(buf, off + 9), off + 17
    return 0, z, z, 0, z, z, 0, z, z, 0


@register_jitable
def addr_parse(buf, off, ln):
    """A sockaddr: (family, ip_hi, ip_lo, port, path_off); family 0 if malformed."""
    z = np.uint64(0)
    if ln < 1:
        return 0, z, z, 0, 0
    fam = np.int64(buf[off])
    if fam == AF_INET and ln >= 7:
        hi, lo = ip4(buf, off + 1)
        return fam, hi, lo, u16_le(buf, off + 5), 0
    if fam == AF_INET6 and ln >= 19:
        hi, lo = ip6(buf, off + 1)
        return fam, hi, lo, u16_le(buf, off + 17), 0
    if fam == AF_UNIX:
        return fam, z, z, 0, off + 1
    return 0, z, z, 0, 0


@register_jitable
def cstr_len(buf, off, end):
    """Length of the NUL-terminated string at off, not past end."""
    k = off
    while k < end and buf[k] != 0:
        k += 1
    return k - off


# --- writing names ----------------------------------------------------------------------

@register_jitable
def put_dec(dst, pos, v):
    """Decimal digits of v >= 0 at pos; returns the new position."""
    if v == 0:
        dst[pos] = 48
        return pos + 1
    n = 0
    t = v
    while t > 0:
        n += 1
        t //= 10
    t = v
    for k in range(n - 1, -1, -1):
        dst[pos + k] = 48 + t % 10
        t //= 10
    return pos + n


@register_jitable
def put_hex(dst, pos, v):
    """Lower-case hex digits of the u64 v (no leading zeros); returns the new position."""
    if v == 0:
        dst[pos] = 48
        return pos + 1
    n = 0
    t = v
    while t != 0:
        n += 1
        t = t >> np.uint64(4)
    t = v
    for k in range(n - 1, -1, -1):
        dst[pos + k] = _HEX[np.int64(t & np.uint64(15))]
        t = t >> np.uint64(4)
    return pos + n


@register_jitable
def put_bytes(dst, pos, src):
    for k in range(src.size):
        dst[pos + k] = src[k]
    return pos + src.size


@register_jitable
def put_ip4(dst, pos, lo):
    for k in range(4):
        pos = put_dec(dst, pos, np.int64((lo >> np.uint64(8 * (3 - k))) & np.uint64(255)))
        if k < 3:
            dst[pos] = 46
            pos += 1
    return pos


@register_jitable
def _group(hi, lo, g):
    w = hi if g < 4 else lo
    return np.int64((w >> np.uint64(16 * (3 - g % 4))) & np.uint64(0xFFFF))


@register_jitable
def put_ip6(dst, pos, hi, lo):
    """inet_ntop's text: the first longest run (>= 2) of zero groups as '::';
    ::a.b.c.d and ::ffff:a.b.c.d for IPv4-compatible and -mapped addresses."""
    best, best_len, run, run_len = -1, 0, -1, 0
    for g in range(8):
        if _group(hi, lo, g) == 0:
            if run < 0:
                run = g
                run_len = 0
            run_len += 1
            if run_len > best_len:
                best, best_len = run, run_len
        else:
            run = -1
    if best_len < 2:
        best = -1
    if best == 0 and (best_len == 6 or (best_len == 5 and _group(hi, lo, 5) == 0xFFFF)):
        dst[pos] = 58                            # "::a.b.c.d" / "::ffff:a.b.c.d"
        dst[pos + 1] = 58
        pos += 2
        if best_len == 5:
            for c in (102, 102, 102, 102, 58):
                dst[pos] = c
                pos += 1
        return put_ip4(dst, pos, lo)
    g = 0
    while g < 8:
        if g == best:
            dst[pos] = 58
            dst[pos + 1] = 58
            pos += 2
            g += best_len
            continue
        if g > 0 and g != best + best_len:
            dst[pos] = 58
            pos += 1
        pos = put_hex(dst, pos, np.uint64(_group(hi, lo, g)))
        g += 1
    return pos


@register_jitable
def put_endpoint(dst, pos, v4, hi, lo, port, with_port):
    """One end of a connection: the address (dotted when v4) and ':port'."""
    if v4:
        pos = put_ip4(dst, pos, lo)
    else:
        pos = put_ip6(dst, pos, hi, lo)
    if with_port:
        dst[pos] = 58                      # ':'
        pos = put_dec(dst, pos + 1, port)
    return pos


@register_jitable
def put_arrow(dst, pos):
    dst[pos] = 45                          # '-'
    dst[pos + 1] = 62                      # '>'
    return pos + 2


@register_jitable
def put_conn_name(dst, pos, l4, chi, clo, cport, shi, slo, sport):
    """The name of a connected IP socket, client end first (sockinfo_to_str)."""
    if l4 == L4_TCP or l4 == L4_UDP:
        with_port = True
    elif l4 == L4_ICMP or l4 == L4_RAW:
        with_port = False
    else:
        return put_bytes(dst, pos, _UNKNOWN)
    both_v4 = is_v4(chi, clo) and is_v4(shi, slo)
    pos = put_endpoint(dst, pos, both_v4, chi, clo, cport, with_port)
    pos = put_arrow(dst, pos)
    return put_endpoint(dst, pos, both_v4, shi, slo, sport, with_port)


@register_jitable
def put_tuple_text(dst, pos, fam, chi, clo, cport, shi, slo, sport):
    """The text of an IP socktuple parameter (accept's fd name)."""
    both_v4 = fam == AF_INET or (is_v4(chi, clo) and is_v4(shi, slo))
    pos = put_endpoint(dst, pos, both_v4, chi, clo, cport, True)
    pos = put_arrow(dst, pos)
    return put_endpoint(dst, pos, both_v4, shi, slo, sport, True)


@register_jitable
def put_printable(dst, pos, buf, off, ln):
    """A C string with non-printable bytes dropped (libsinsp's sanitize_string)."""
    for k in range(ln):
        c = buf[off + k]
        if 0x20 <= c < 0x7F:
            dst[pos] = c
            pos += 1
    return pos


@register_jitable
def put_unix_tuple(dst, pos, source, dest, buf, path_off, path_len):
    """'source->dest path' with the kernel pointers in hex."""
    pos = put_hex(dst, pos, source)
    dst[pos] = 45
    dst[pos + 1] = 62
    pos = put_hex(dst, pos + 2, dest)
    dst[pos] = 32
    return put_printable(dst, pos + 1, buf, path_off, path_len)


NAME_MAX_BYTES = 128        # longest IP name above, with room to spare


def l4_of(domain: int, sock_type: int, proto: int) -> int:
    """The l4 protocol libsinsp records for socket(domain, type, proto)."""
    raw = (sock_type & 0xFF) == 3                 # SOCK_RAW
    if proto == 6:
        return L4_RAW if raw else L4_TCP
    if proto == 17:
        return L4_RAW if raw else L4_UDP
    if proto == 0:
        base = sock_type & 0xFF
        return L4_TCP if base == 1 else L4_UDP if base == 2 else L4_UNKNOWN
    if proto == 1:
        return L4_RAW if raw else L4_ICMP
    if proto == 255:
        return L4_RAW
    return L4_UNKNOWN


l4_of_jit = register_jitable(l4_of)
