"""The .scap capture format, as data: block types, header layouts, and the
layouts of the metadata entries (processes, fds, interfaces, users).

A .scap file is a sequence of pcapng-like blocks, little endian:

    u32 block_type | u32 total_length | body ... padding to 4 | u32 total_length

total_length counts the whole block (header, body, padding and the trailing
copy).  The first block is a section header; metadata blocks follow; then event
blocks, possibly interleaved with more metadata.  Numbers and layouts are facts
from falcosecurity/libs (userspace/libscap/scap_savefile.h and the savefile
engine); the readers in scap_reader.py and scap_decode.py interpret them.
"""
from __future__ import annotations

import struct

# --- blocks -------------------------------------------------------------------------

BLOCK_HEADER = struct.Struct("<II")          # block_type, total_length
TRAILER = struct.Struct("<I")                # total_length again, at the block end
BLOCK_OVERHEAD = BLOCK_HEADER.size + TRAILER.size

SECTION_HEADER = 0x0A0D0D0A
SECTION_BODY = struct.Struct("<IHHQ")        # byte_order_magic, major, minor, section_length
SECTION_MAGIC = 0x1A2B3C4D
SECTION_MAJOR = 1                            # newer majors are refused (libs does the same)

MACHINE_INFO = frozenset({0x201, 0x8002ABCD})
# num_cpus, memory_size_bytes, max_pid, hostname[128], boot_ts_epoch, flags,
# reserved3, reserved4.  Older writers called boot_ts/flags reserved1/2 (zero).
MACHINE_BODY = struct.Struct("<IQQ128sQQQQ")

# Process lists: block type -> layout version (1..9).  "_INT" numbers were used
# before the first libscap release and are still accepted.
PROC_LIST = {0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3,
             0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9}
FD_LIST = {0x203: 1, 0x8001ABCD: 1, 0x218: 2}
IFACE_LIST = {0x205: 1, 0x8011ABCD: 1, 0x219: 2}
USER_LIST = {0x206: 1, 0x8012ABCD: 1, 0x220: 2}


class EventBlock:
    """How an event block type lays out its body:
    u16 cpu | [u32 flags] | event header | param lengths (u16, u32 if large) | params."""
    __slots__ = ("flags", "nparams", "large")

    def __init__(self, flags: bool, nparams: bool, large: bool):
        self.flags, self.nparams, self.large = flags, nparams, large


EVENT_BLOCKS = {
    0x204: EventBlock(False, False, False),          # V1: no nparams in the header
    0x8010ABCD: EventBlock(False, False, False),
    0x216: EventBlock(False, True, False),
    0x221: EventBlock(False, True, True),
    0x208: EventBlock(True, False, False),
    0x217: EventBlock(True, True, False),
    0x222: EventBlock(True, True, True),
}

# The event header: ts u64, tid u64, len u32 (the whole event, header included),
# type u16, and from V2 on nparams u32.
EVENT_HEADER_V1 = 22
EVENT_HEADER_V2 = 26

# Old (V1) captures wrote a length 3 bytes too long for these two meta events
# (PPME_NOTIFICATION_E, PPME_INFRASTRUCTURE_EVENT_E); libs corrects it on read.
V1_LEN_QUIRK_CODES = (280, 286)

# --- process-list entries ------------------------------------------------------------
# Fields in file order: (name, kind, first version that has it).  kinds:
# u64/i64/u32: numbers; str: u16 length + bytes (no NUL); bytes: the same,
# kept raw (NUL separated lists).  Version 9 entries start with a u32 length and
# may carry PROC_TAIL fields after these, each present only if the entry is
# long enough.
PROC_FIELDS = (
    ("tid", "i64", 1), ("pid", "i64", 1), ("ptid", "i64", 1),
    ("sid", "i64", 6), ("vpgid", "i64", 8),
    ("comm", "str", 1), ("exe", "str", 1), ("exepath", "str", 7),
    ("args", "bytes", 1), ("cwd", "str", 1),
    ("fdlimit", "u64", 1), ("flags", "u32", 1), ("uid", "u32", 1), ("gid", "u32", 1),
    ("vmsize_kb", "u32", 2), ("vmrss_kb", "u32", 2), ("vmswap_kb", "u32", 2),
    ("pfmajor", "u64", 2), ("pfminor", "u64", 2),
    ("env", "bytes", 3),
    ("vtid", "i64", 4), ("vpid", "i64", 4), ("cgroups", "bytes", 4),
    ("root", "str", 5),
)
# Written in the middle of the tail by libs >= 0.10 only: present when more than
# PROC_TAIL_PRE_0_10 bytes remain after PROC_FIELDS (libs detects it the same way).
PROC_TAIL_0_10 = (("pidns_init_start_ts", "u64"), ("tty", "u32"))
PROC_TAIL_PRE_0_10 = 29
PROC_TAIL = (
    ("loginuid", "u32"), ("exe_writable", "u8"),
    ("cap_inheritable", "u64"), ("cap_permitted", "u64"), ("cap_effective", "u64"),
    ("exe_upper_layer", "u8"), ("exe_ino", "u64"), ("exe_ino_ctime", "u64"),
    ("exe_ino_mtime", "u64"), ("exe_from_memfd", "u8"), ("exe_lower_layer", "u8"),
    ("pgid", "i64"),
)

# --- fd-list entries ------------------------------------------------------------------
# [u32 entry length (V2)] i64 fd | u64 ino | u8 type | type-specific fields.
FD_UNKNOWN, FD_FILE, FD_DIRECTORY = 0, 1, 2
FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK = 3, 4, 5, 6
FD_FIFO, FD_UNIX_SOCK, FD_EVENT, FD_UNSUPPORTED = 7, 8, 9, 10
FD_SIGNALFD, FD_EVENTPOLL, FD_INOTIFY, FD_TIMERFD, FD_NETLINK = 11, 12, 13, 14, 15
FD_FILE_V2, FD_BPF, FD_USERFAULTFD, FD_IOURING, FD_MEMFD, FD_PIDFD = 16, 17, 18, 19, 20, 21

# Falco's fd.typechar of each fd type.
FD_TYPECHAR = {
    FD_UNKNOWN: "o", FD_FILE: "f", FD_FILE_V2: "f", FD_DIRECTORY: "d",
    FD_IPV4_SOCK: "4", FD_IPV4_SERVSOCK: "4", FD_IPV6_SOCK: "6", FD_IPV6_SERVSOCK: "6",
    FD_FIFO: "p", FD_UNIX_SOCK: "u", FD_EVENT: "e", FD_UNSUPPORTED: "X",
    FD_SIGNALFD: "s", FD_EVENTPOLL: "l", FD_INOTIFY: "i", FD_TIMERFD: "t",
    FD_NETLINK: "n", FD_BPF: "b", FD_USERFAULTFD: "u", FD_IOURING: "r",
    FD_MEMFD: "m", FD_PIDFD: "P",
}
# Fd types whose entry ends with a u16-length name.
FD_NAMED = frozenset({FD_FILE, FD_DIRECTORY, FD_FIFO, FD_EVENT, FD_UNSUPPORTED, FD_SIGNALFD,
                      FD_EVENTPOLL, FD_INOTIFY, FD_TIMERFD, FD_NETLINK, FD_BPF,
                      FD_USERFAULTFD, FD_IOURING, FD_MEMFD, FD_PIDFD})
# Socket entries, after the type byte (addresses in network byte order).
FD_IPV4_TUPLE = struct.Struct("<4s4sHHB")    # sip, dip, sport, dport, l4proto
FD_IPV4_SERVER = struct.Struct("<4sHB")      # ip, port, l4proto
FD_IPV6_TUPLE = struct.Struct("<16s16sHHB")
FD_IPV6_SERVER = struct.Struct("<16sHB")
FD_UNIX = struct.Struct("<QQ")               # source, destination; then a name
# scap's l4 protocol numbers -> IP protocol numbers (FdInfo.l4proto).
L4PROTO = {2: 6, 3: 17, 4: 1, 5: 255}

# --- interface-list entries ------------------------------------------------------------
# [u32 entry length (V2)] u16 type | u16 name length | addresses | [u64 linkspeed] | name
IF_IPV4, IF_IPV6, IF_IPV4_NOLINKSPEED, IF_IPV6_NOLINKSPEED = 1, 2, 3, 4
IF_ADDRS = {
    IF_IPV4: (4, True), IF_IPV4_NOLINKSPEED: (4, False),
    IF_IPV6: (16, True), IF_IPV6_NOLINKSPEED: (16, False),
}  # type -> (address size, has linkspeed); each entry has addr, netmask, bcast

# --- user-list entries ------------------------------------------------------------------
# [u32 entry length (V2)] u8 kind | user: u32 uid, u32 gid, name, home, shell
#                                 | group: u32 gid, name       (strings: u16 length + bytes)
USER_KIND, GROUP_KIND = 0, 1
