"""Flag and enum tables: how numeric event parameters print, and back.

Falco shows a flags parameter by names (evt.arg.flags = "O_RDONLY|O_CLOEXEC"),
and rules compare that text (`evt.arg.flags contains O_TRUNC`).  Each table
here lists (name, value) in the driver's order -- the order decides the text --
with the values as the driver encodes them (PPM_* constants, not the kernel's).

Three rendering kinds, as libsinsp renders them:

  bits   (PT_FLAGS*)  walk the entries in order; an entry whose bits are all
                      still set is printed and its bits cleared; stop after an
                      entry equal to the whole value.  A zero-valued entry
                      prints only for a zero value.
  mode   (PT_MODE)    the same walk, but it stops before the first entry equal
                      to the whole value and then prints that entry.
  enum   (PT_ENUMFLAGS*, signals, errno...)  every entry equal to the value.

Names are joined with `sep` ("|", or " " for capability sets).  A value no
entry matches resolves to "" and the caller decides the fallback (event
parameters fall back to the number: see evtargs.py).

API: `table(name) -> FlagTable`, `FlagTable.resolve(value) -> str`,
`FlagTable.format(value)` (resolve, else the decimal number),
`FlagTable.parse(text) -> int` (names joined by the separator, or a number).
"""
from __future__ import annotations

import errno as _errno

from . import ppm_table


_VARIANTS: dict = {}


class FlagTable:
    def __init__(self, name: str, kind: str, entries, sep: str = "|"):
        assert kind in ("bits", "mode", "enum")
        self.name = name
        self.kind = kind
        self.entries = tuple((str(n), int(v)) for n, v in entries)
        self.sep = sep
        self._by_name = {}
        for n, v in self.entries:
            self._by_name.setdefault(n, v)

    def __repr__(self):
        return f"FlagTable({self.name!r}, {self.kind}, {len(self.entries)} entries)"

    def with_kind(self, kind: str) -> "FlagTable":
        """The same entries rendered another way (a param's PT type decides the kind)."""
        if kind == self.kind:
            return self
        key = (self.name, kind)
        if key not in _VARIANTS:
            _VARIANTS[key] = FlagTable(self.name, kind, self.entries, self.sep)
        return _VARIANTS[key]

    def names(self) -> list[str]:
        return [n for n, _ in self.entries]

    def value_of(self, name: str) -> int | None:
        return self._by_name.get(name)

    def resolve(self, value: int) -> str:
        """The names for `value` as libsinsp prints them, "" if none applies."""
        value = int(value)
        if self.kind == "enum":
            return self.sep.join(n for n, v in self.entries if v == value)
        out, rest = [], value
        for n, v in self.entries:
            if self.kind == "mode" and v == value:
                out.append(n)
                break
            if (v == 0 and value == 0) or (v != 0 and rest & v == v and rest != 0):
                out.append(n)
                rest &= ~v
                if v == value:
                    break
        return self.sep.join(out)

    def format(self, value: int) -> str:
        return self.resolve(value) or str(int(value))

    def parse(self, text: str) -> int:
        """Inverse of format: "O_RDONLY|O_CLOEXEC" -> bits, "AF_INET" -> 2, "12" -> 12."""
        text = text.strip()
        try:
            return int(text, 0)
        except ValueError:
            pass
        parts = [p.strip() for p in text.split(self.sep) if p.strip()]
        if not parts:
            raise ValueError(f"empty value for {self.name}")
        values = []
        for p in parts:
            v = self._by_name.get(p)
            if v is None:
                raise ValueError(f"unknown name {p!r} for {self.name}")
            values.append(v)
        if self.kind == "enum":          # "AF_LOCAL|AF_UNIX": names of one value
            if len(set(values)) > 1:
                raise ValueError(f"{text!r} names several values of {self.name}")
            return values[0]
        value = 0
        for v in values:
            value |= v
        return value


def _bits(name, *entries, sep="|"):
    return FlagTable(name, "bits", entries, sep)


def _enum(name, *entries):
    return FlagTable(name, "enum", entries)


def _seq(prefix, names, start=0):
    """Entries for consecutive values: _seq("X_", "A B") -> (X_A, 0), (X_B, 1)."""
    return [(prefix + n, start + k) for k, n in enumerate(names.split()) if n != "-"]


def _bitseq(prefix, names, first_bit=0):
    """Entries for consecutive bits: _bitseq("X_", "A B") -> (X_A, 1), (X_B, 2)."""
    return [(prefix + n, 1 << (first_bit + k)) for k, n in enumerate(names.split())]


_SIGNAL_NAMES = ("HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT "
                 "CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS")
# Where Linux gives one code two names, the name libsinsp prints.
_ERRNO_PREFERRED = {35: "EDEADLK", 95: "EOPNOTSUPP"}


# --- the driver's tables (flags_table.c), in its order -----------------------

_O = dict(RDONLY=1, WRONLY=2, RDWR=3, CREAT=4, APPEND=8, DSYNC=16, EXCL=32, NONBLOCK=64,
          SYNC=128, TRUNC=256, DIRECT=512, DIRECTORY=1024, LARGEFILE=2048, CLOEXEC=4096,
          TMPFILE=8192, F_CREATED=16384, NONE=0)
_S = {n: 1 << k for k, n in enumerate(
    "IXOTH IWOTH IROTH IXGRP IWGRP IRGRP IXUSR IWUSR IRUSR ISVTX ISGID ISUID".split())}

_TABLES = [
    _enum("socket_families", *[("AF_" + n, v) for n, v in [
        ("NFC", 39), ("ALG", 38), ("CAIF", 37), ("IEEE802154", 36), ("PHONET", 35), ("ISDN", 34),
        ("RXRPC", 33), ("IUCV", 32), ("BLUETOOTH", 31), ("TIPC", 30), ("CAN", 29), ("LLC", 26),
        ("WANPIPE", 25), ("PPPOX", 24), ("IRDA", 23), ("SNA", 22), ("RDS", 21), ("ATMSVC", 20),
        ("ECONET", 19), ("ASH", 18), ("PACKET", 17), ("ROUTE", 16), ("NETLINK", 16), ("KEY", 15),
        ("SECURITY", 14), ("NETBEUI", 13), ("DECnet", 12), ("ROSE", 11), ("INET6", 10),
        ("X25", 9), ("ATMPVC", 8), ("BRIDGE", 7), ("NETROM", 6), ("APPLETALK", 5), ("IPX", 4),
        ("AX25", 3), ("INET", 2), ("LOCAL", 1), ("UNIX", 1), ("UNSPEC", 0)]]),
    _bits("file_flags", *[("O_" + n, _O[n]) for n in (
        "LARGEFILE DIRECTORY DIRECT TRUNC SYNC NONBLOCK EXCL DSYNC APPEND CREAT RDWR WRONLY "
        "RDONLY CLOEXEC NONE TMPFILE F_CREATED").split()]),
    _bits("flock_flags", ("LOCK_SH", 1), ("LOCK_EX", 2), ("LOCK_NB", 4), ("LOCK_UN", 8),
          ("LOCK_NONE", 0)),
    _bits("clone_flags", *[(n, 1 << b) for n, b in [
        ("CLONE_FILES", 0), ("CLONE_FS", 1), ("CLONE_IO", 2), ("CLONE_NEWIPC", 3),
        ("CLONE_NEWNET", 4), ("CLONE_NEWNS", 5), ("CLONE_NEWPID", 6), ("CLONE_NEWUTS", 7),
        ("CLONE_PARENT", 8), ("CLONE_PARENT_SETTID", 9), ("CLONE_PTRACE", 10),
        ("CLONE_SIGHAND", 11), ("CLONE_SYSVSEM", 12), ("CLONE_THREAD", 13),
        ("CLONE_UNTRACED", 14), ("CLONE_VM", 15), ("CLONE_INVERTED", 16), ("NAME_CHANGED", 17),
        ("CLOSED", 18), ("CLONE_NEWUSER", 20), ("CLONE_CHILD_CLEARTID", 23),
        ("CLONE_CHILD_SETTID", 24), ("CLONE_SETTLS", 25), ("CLONE_STOPPED", 26),
        ("CLONE_VFORK", 27), ("CLONE_NEWCGROUP", 28)]]),
    _enum("futex_operations", ("FUTEX_CLOCK_REALTIME", 256), ("FUTEX_PRIVATE_FLAG", 128),
          *reversed(_seq("FUTEX_", "WAIT WAKE FD REQUEUE CMP_REQUEUE WAKE_OP LOCK_PI UNLOCK_PI "
                         "TRYLOCK_PI WAIT_BITSET WAKE_BITSET WAIT_REQUEUE_PI CMP_REQUEUE_PI"))),
    _bits("poll_flags", *[("POLL" + n, 1 << k) for k, n in enumerate(
        "IN PRI OUT RDHUP ERR HUP NVAL RDNORM RDBAND WRNORM WRBAND".split())]),
    _bits("mount_flags", *[(n, 1 << b) for n, b in [
        ("RDONLY", 0), ("NOSUID", 1), ("NODEV", 2), ("NOEXEC", 3), ("SYNCHRONOUS", 4),
        ("REMOUNT", 5), ("MANDLOCK", 6), ("DIRSYNC", 7), ("NOATIME", 10), ("NODIRATIME", 11),
        ("BIND", 12), ("MOVE", 13), ("REC", 14), ("SILENT", 15), ("POSIXACL", 16),
        ("UNBINDABLE", 17), ("PRIVATE", 18), ("SLAVE", 19), ("SHARED", 20), ("RELATIME", 21),
        ("KERNMOUNT", 22), ("I_VERSION", 23), ("STRICTATIME", 24), ("LAZYTIME", 25),
        ("NOSEC", 28), ("BORN", 29), ("ACTIVE", 30), ("NOUSER", 31)]]),
    _bits("umount_flags", ("FORCE", 1), ("DETACH", 2), ("EXPIRE", 4), ("NOFOLLOW", 8)),
    _enum("lseek_whence", ("SEEK_END", 2), ("SEEK_CUR", 1), ("SEEK_SET", 0)),
    _enum("shutdown_how", ("SHUT_RDWR", 2), ("SHUT_WR", 1), ("SHUT_RD", 0)),
    _enum("rlimit_resources", ("RLIMIT_UNKNOWN", 255), *reversed(_seq("RLIMIT_", (
        "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE NICE "
        "RTPRIO RTTIME")))),
    _enum("fcntl_commands", *[("F_" + n, v) for n, v in [
        ("GETPIPE_SZ", 29), ("SETPIPE_SZ", 28), ("NOTIFY", 27), ("DUPFD_CLOEXEC", 26),
        ("CANCELLK", 25), ("GETLEASE", 24), ("SETLEASE", 23), ("GETOWN_EX", 22),
        ("SETOWN_EX", 21), ("GETSIG", 15), ("SETSIG", 13), ("GETOWN", 12), ("SETOWN", 10),
        ("SETLKW", 9), ("SETLK", 8), ("GETLK", 6), ("SETFL", 5), ("GETFL", 4), ("SETFD", 3),
        ("GETFD", 2), ("DUPFD", 1), ("OFD_GETLK", 30), ("OFD_SETLK", 31), ("OFD_SETLKW", 32)]],
          ("UNKNOWN", 0)),
    _enum("sockopt_levels", ("SOL_SOCKET", 1), ("SOL_TCP", 2), ("UNKNOWN", 0)),
    _enum("sockopt_options", *reversed(_seq("SO_", (
        "DEBUG REUSEADDR TYPE ERROR DONTROUTE BROADCAST SNDBUF RCVBUF KEEPALIVE OOBINLINE "
        "NO_CHECK PRIORITY LINGER BSDCOMPAT REUSEPORT PASSCRED PEERCRED RCVLOWAT SNDLOWAT "
        "RCVTIMEO SNDTIMEO SECURITY_AUTHENTICATION SECURITY_ENCRYPTION_TRANSPORT "
        "SECURITY_ENCRYPTION_NETWORK BINDTODEVICE ATTACH_FILTER DETACH_FILTER PEERNAME TIMESTAMP "
        "ACCEPTCONN PEERSEC SNDBUFFORCE RCVBUFFORCE PASSSEC TIMESTAMPNS MARK TIMESTAMPING "
        "PROTOCOL DOMAIN RXQ_OVFL WIFI_STATUS PEEK_OFF NOFCS LOCK_FILTER SELECT_ERR_QUEUE "
        "BUSY_POLL MAX_PACING_RATE BPF_EXTENSIONS INCOMING_CPU ATTACH_BPF PEERGROUPS MEMINFO "
        "COOKIE"), 1)), ("UNKNOWN", 0)),
    _enum("ptrace_requests", *reversed(_seq("PTRACE_", (
        "UNKNOWN TRACEME PEEKTEXT PEEKDATA PEEKUSR POKETEXT POKEDATA POKEUSR CONT KILL "
        "SINGLESTEP ATTACH DETACH SYSCALL SETOPTIONS GETEVENTMSG GETSIGINFO SETSIGINFO "
        "GETREGSET SETREGSET SEIZE INTERRUPT LISTEN PEEKSIGINFO GETSIGMASK SETSIGMASK GETREGS "
        "SETREGS GETFPREGS SETFPREGS GETFPXREGS SETFPXREGS OLDSETOPTIONS GET_THREAD_AREA "
        "SET_THREAD_AREA ARCH_PRCTL SYSEMU SYSEMU_SINGLESTEP SINGLEBLOCK")))),
    _bits("prot_flags", *[("PROT_" + n, 1 << k) for k, n in enumerate(
        "READ WRITE EXEC SEM GROWSDOWN GROWSUP SAO".split())], ("PROT_NONE", 0)),
    _bits("mmap_flags", *[("MAP_" + n, 1 << k) for k, n in enumerate((
        "SHARED PRIVATE FIXED ANONYMOUS 32BIT RENAME NORESERVE POPULATE NONBLOCK GROWSDOWN "
        "DENYWRITE EXECUTABLE INHERIT FILE LOCKED").split())]),
    _bits("splice_flags", *[("SPLICE_F_" + n, 1 << k) for k, n in enumerate(
        "MOVE NONBLOCK MORE GIFT".split())]),
    _bits("quotactl_dqi_flags", ("DQF_NONE", 1), ("V1_DQF_RSQUASH", 2)),
    _bits("quotactl_cmds", *[("Q_" + n, 1 << k) for k, n in enumerate((
        "QUOTAON QUOTAOFF GETFMT GETINFO SETINFO GETQUOTA SETQUOTA SYNC XQUOTAON XQUOTAOFF "
        "XGETQUOTA XSETQLIM XGETQSTAT XQUOTARM XQUOTASYNC").split())]),
    _bits("quotactl_types", ("USRQUOTA", 1), ("GRPQUOTA", 2)),
    _bits("quotactl_quota_fmts", ("QFMT_NOT_USED", 1), ("QFMT_VFS_OLD", 2), ("QFMT_VFS_V0", 4),
          ("QFMT_VFS_V1", 8)),
    _bits("semop_flags", ("IPC_NOWAIT", 1), ("SEM_UNDO", 2)),
    _bits("semget_flags", ("IPC_EXCL", 1 << 14), ("IPC_CREAT", 1 << 13)),
    _bits("semctl_commands", *[(n, 1 << k) for k, n in enumerate((
        "IPC_STAT IPC_SET IPC_RMID IPC_INFO SEM_INFO SEM_STAT GETALL GETNCNT GETPID GETVAL "
        "GETZCNT SETALL SETVAL").split())]),
    _bits("access_flags", ("F_OK", 0), ("R_OK", 4), ("W_OK", 2), ("X_OK", 1)),
    _bits("pf_flags", *[(n, 1 << k) for k, n in enumerate((
        "PROTECTION_VIOLATION PAGE_NOT_PRESENT WRITE_ACCESS READ_ACCESS USER_FAULT "
        "SUPERVISOR_FAULT RESERVED_PAGE INSTRUCTION_FETCH").split())]),
    _bits("unlinkat_flags", ("AT_REMOVEDIR", 0x200)),
    _bits("linkat_flags", ("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)),
    _bits("newfstatat_flags", ("AT_EMPTY_PATH", 0x1000), ("AT_NO_AUTOMOUNT", 0x800),
          ("AT_SYMLINK_NOFOLLOW", 0x100)),
    FlagTable("chmod_mode", "mode", [("S_" + n, _S[n]) for n in (
        "IXOTH IWOTH IROTH IXGRP IWGRP IRGRP IXUSR IWUSR IRUSR ISVTX ISGID ISUID").split()]),
    # The driver names 0x400 AT_SYMLINK_NOFOLLOW here; kept as it prints.
    _bits("fchownat_flags", ("AT_SYMLINK_NOFOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)),
    _bits("renameat2_flags", ("RENAME_NOREPLACE", 1), ("RENAME_EXCHANGE", 2),
          ("RENAME_WHITEOUT", 4)),
    _bits("openat2_flags", *[("RESOLVE_" + n, 1 << k) for k, n in enumerate(
        "BENEATH IN_ROOT NO_MAGICLINKS NO_SYMLINKS NO_XDEV CACHED".split())]),
    _bits("execve_flags", ("EXE_WRITABLE", 1), ("EXE_UPPER_LAYER", 2), ("EXE_FROM_MEMFD", 4)),
    _bits("execveat_flags", ("AT_EMPTY_PATH", 1), ("AT_SYMLINK_NOFOLLOW", 2)),
    _bits("io_uring_setup_flags", *[(n, 1 << k) for k, n in enumerate((
        "IORING_SETUP_IOPOLL IORING_SETUP_SQPOLL IORING_SQ_NEED_WAKEUP IORING_SETUP_SQ_AFF "
        "IORING_SETUP_CQSIZE IORING_SETUP_CLAMP IORING_SETUP_ATTACH_RW "
        "IORING_SETUP_R_DISABLED").split())]),
    _bits("io_uring_setup_feats", *[("IORING_FEAT_" + n, 1 << k) for k, n in enumerate((
        "SINGLE_MMAP NODROP SUBMIT_STABLE RW_CUR_POS CUR_PERSONALITY FAST_POLL POLL_32BITS "
        "SQPOLL_NONFIXED ENTER_EXT_ARG NATIVE_WORKERS RSRC_TAGS").split())]),
    _bits("io_uring_enter_flags", *[("IORING_ENTER_" + n, 1 << k) for k, n in enumerate(
        "GETEVENTS SQ_WAKEUP SQ_WAIT EXT_ARG".split())]),
    _enum("io_uring_register_opcodes", *_seq("IORING_", (
        "REGISTER_BUFFERS UNREGISTER_BUFFERS REGISTER_FILES UNREGISTER_FILES REGISTER_EVENTFD "
        "UNREGISTER_EVENTFD REGISTER_FILES_UPDATE REGISTER_EVENTFD_ASYNC REGISTER_PROBE "
        "REGISTER_PERSONALITY UNREGISTER_PERSONALITY REGISTER_RESTRICTIONS REGISTER_ENABLE_RINGS "
        "REGISTER_FILES2 REGISTER_FILES_UPDATE2 REGISTER_BUFFERS2 REGISTER_BUFFERS_UPDATE "
        "REGISTER_IOWQ_AFF UNREGISTER_IOWQ_AFF REGISTER_IOWQ_MAX_WORKERS REGISTER_RING_FDS "
        "UNREGISTER_RING_FDS"))),
    _bits("mlockall_flags", ("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4)),
    _bits("mlock2_flags", ("MLOCK_ONFAULT", 1)),
    _enum("fsconfig_cmds", *_seq("FSCONFIG_", (
        "SET_FLAG SET_STRING SET_BINARY SET_PATH SET_PATH_EMPTY SET_FD CMD_CREATE "
        "CMD_RECONFIGURE"))),
    _bits("epoll_create1_flags", ("EPOLL_CLOEXEC", 1)),
    _enum("prctl_options", *[("PR_" + n, v) for n, v in [
        ("GET_DUMPABLE", 3), ("SET_DUMPABLE", 4), ("GET_KEEPCAPS", 7), ("SET_KEEPCAPS", 8),
        ("SET_NAME", 15), ("GET_NAME", 16), ("GET_SECCOMP", 21), ("SET_SECCOMP", 22),
        ("CAPBSET_READ", 23), ("CAPBSET_DROP", 24), ("GET_SECUREBITS", 27),
        ("SET_SECUREBITS", 28), ("MCE_KILL", 33), ("MCE_KILL", 33), ("SET_MM", 35),
        ("SET_CHILD_SUBREAPER", 36), ("GET_CHILD_SUBREAPER", 37), ("SET_NO_NEW_PRIVS", 38),
        ("GET_NO_NEW_PRIVS", 39), ("GET_TID_ADDRESS", 40), ("SET_THP_DISABLE", 41),
        ("GET_THP_DISABLE", 42), ("CAP_AMBIENT", 47)]]),
    _bits("memfd_create_flags", ("MFD_CLOEXEC", 1), ("MFD_ALLOW_SEALING", 2), ("MFD_HUGETLB", 4)),
    _bits("pidfd_open_flags", ("PIDFD_NONBLOCK", 1)),
    FlagTable("mknod_mode", "mode", [("S_" + n, _S[n]) for n in (
        "IXOTH IWOTH IROTH IXGRP IWGRP IRGRP IXUSR IWUSR IRUSR ISVTX ISGID ISUID").split()] + [
        ("S_IFREG", 0o100000), ("S_IFCHR", 0o020000), ("S_IFBLK", 0o060000),
        ("S_IFIFO", 0o010000), ("S_IFSOCK", 0o140000)]),
    _enum("bpf_commands", *_seq("BPF_", (
        "MAP_CREATE MAP_LOOKUP_ELEM MAP_UPDATE_ELEM MAP_DELETE_ELEM MAP_GET_NEXT_KEY PROG_LOAD "
        "OBJ_PIN OBJ_GET PROG_ATTACH PROG_DETACH PROG_TEST_RUN PROG_GET_NEXT_ID MAP_GET_NEXT_ID "
        "PROG_GET_FD_BY_ID MAP_GET_FD_BY_ID OBJ_GET_INFO_BY_FD PROG_QUERY RAW_TRACEPOINT_OPEN "
        "BTF_LOAD BTF_GET_FD_BY_ID TASK_FD_QUERY MAP_LOOKUP_AND_DELETE_ELEM MAP_FREEZE "
        "BTF_GET_NEXT_ID MAP_LOOKUP_BATCH MAP_LOOKUP_AND_DELETE_BATCH MAP_UPDATE_BATCH "
        "MAP_DELETE_BATCH LINK_CREATE LINK_UPDATE LINK_GET_FD_BY_ID LINK_GET_NEXT_ID "
        "ENABLE_STATS ITER_CREATE LINK_DETACH PROG_BIND_MAP"))),
    _bits("delete_module_flags", ("O_NONBLOCK", 2), ("O_TRUNC", 1)),
    _bits("finit_module_flags", ("MODULE_INIT_IGNORE_MODVERSIONS", 1),
          ("MODULE_INIT_IGNORE_VERMAGIC", 2), ("MODULE_INIT_COMPRESSED_FILE", 4)),

    # --- libsinsp's own renderings ------------------------------------------
    # thread.cap_*: capability names of the set bits, space separated.
    _bits("capabilities", *_bitseq("CAP_", (
        "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
        "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
        "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
        "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
        "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
        "CHECKPOINT_RESTORE")), sep=" "),
    _enum("signals", *_seq("SIG", _SIGNAL_NAMES, 1)),
    # PT_SIGSET: bit k is signal k + 1.
    _bits("sigset", *_bitseq("SIG", _SIGNAL_NAMES), sep=" "),
    # PT_ERRNO: a negative return value prints as the errno name.
    _enum("errno", *[(_ERRNO_PREFERRED.get(code, name), -code)
                     for code, name in sorted(_errno.errorcode.items())]),
    # PT_SYSCALLID (the ID of a generic event): the system call's name.
    _enum("syscall_names", *[(n, k) for k, n in enumerate(ppm_table.SYSCALL_NAMES) if n != "-"]),
]
TABLES: dict[str, FlagTable] = {t.name: t for t in _TABLES}


def table(name: str) -> FlagTable:
    """The table called `name` (KeyError if unknown)."""
    return TABLES[name]
