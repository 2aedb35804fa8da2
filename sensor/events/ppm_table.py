"""The driver's event layouts, as data: what a .scap file (or the driver ABI we
mirror) calls each event code, and the ordered parameters of each.

This is a transcription of facts from falcosecurity/libs (driver/event_table.c,
driver/ppm_events_public.h), written in our own compact notation.  The
event-type table (evttypes.py) derives our types and layouts from it; the scap
reader uses `EVENTS` to decode old and new captures.

One row per code pair (enter code = 2k, exit code = 2k + 1):

    (enter_code, name, category, marks, enter_params, exit_params)

  category   the driver's EC_* category in lower case (io_read, file, net...)
  marks      "" or letters: o = old version (kept for replay only),
             t = tracepoint, m = meta event, p = plugin event (default: syscall),
             x = the exit code is unused
  params     space separated `name:type[/table][%fmt]`: type is the driver's
             PT_* type in lower case, table a flag table of flags.py,
             fmt x (hex) or o (octal) for numbers (default decimal).
"""
from __future__ import annotations

EVENTS = [
    (0, "syscall", "other", "", "ID:syscallid nativeID:uint16", "ID:syscallid"),
    (2, "open", "file", "",
     "name:fspath flags:flags32/file_flags mode:uint32%o",
     "fd:fd name:fspath flags:flags32/file_flags mode:uint32%o dev:uint32%x ino:uint64"),
    (4, "close", "io_other", "", "fd:fd", "res:errno fd:fd"),
    (6, "read", "io_read", "", "fd:fd size:uint32", "res:errno data:bytebuf"),
    (8, "write", "io_write", "", "fd:fd size:uint32", "res:errno data:bytebuf"),
    (10, "brk", "memory", "o", "size:uint32", "res:uint64%x"),
    (12, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64"),
    (14, "clone", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (16, "procexit", "process", "otx", "", ""),
    (18, "socket", "net", "",
     "domain:enumflags32/socket_families type:uint32 proto:uint32",
     "fd:fd domain:enumflags32/socket_families type:uint32 proto:uint32"),
    (20, "bind", "net", "", "fd:fd", "res:errno addr:sockaddr fd:fd"),
    (22, "connect", "net", "", "fd:fd addr:sockaddr", "res:errno tuple:socktuple fd:fd addr:sockaddr"),
    (24, "listen", "net", "", "fd:fd backlog:int32", "res:errno fd:fd backlog:int32"),
    (26, "accept", "net", "o", "", "fd:fd tuple:socktuple queuepct:uint8"),
    (28, "send", "io_write", "", "fd:fd size:uint32", "res:errno data:bytebuf"),
    (30, "sendto", "io_write", "", "fd:fd size:uint32 tuple:socktuple",
     "res:errno data:bytebuf fd:fd size:uint32 tuple:socktuple"),
    (32, "recv", "io_read", "", "fd:fd size:uint32", "res:errno data:bytebuf"),
    (34, "recvfrom", "io_read", "", "fd:fd size:uint32", "res:errno data:bytebuf tuple:socktuple"),
    (36, "shutdown", "net", "", "fd:fd how:enumflags8/shutdown_how", "res:errno"),
    (38, "getsockname", "net", "", "", ""),
    (40, "getpeername", "net", "", "", ""),
    (42, "socketpair", "ipc", "",
     "domain:enumflags32/socket_families type:uint32 proto:uint32",
     "res:errno fd1:fd fd2:fd source:uint64%x peer:uint64%x"),
    (44, "setsockopt", "net", "", "",
     "res:errno fd:fd level:enumflags8/sockopt_levels optname:enumflags8/sockopt_options "
     "val:dyn optlen:uint32"),
    (46, "getsockopt", "net", "", "",
     "res:errno fd:fd level:enumflags8/sockopt_levels optname:enumflags8/sockopt_options "
     "val:dyn optlen:uint32"),
    (48, "sendmsg", "io_write", "", "fd:fd size:uint32 tuple:socktuple",
     "res:errno data:bytebuf fd:fd size:uint32 tuple:socktuple"),
    (50, "sendmmsg", "io_write", "", "", ""),
    (52, "recvmsg", "io_read", "", "fd:fd",
     "res:errno size:uint32 data:bytebuf tuple:socktuple msgcontrol:bytebuf"),
    (54, "recvmmsg", "io_read", "", "", ""),
    (56, "accept", "net", "o", "flags:int32%x", "fd:fd tuple:socktuple queuepct:uint8"),
    (58, "creat", "file", "", "name:fspath mode:uint32%o",
     "fd:fd name:fspath mode:uint32%o dev:uint32%x ino:uint64"),
    (60, "pipe", "ipc", "", "", "res:errno fd1:fd fd2:fd ino:uint64"),
    (62, "eventfd", "ipc", "", "initval:uint64 flags:flags32", "res:fd"),
    (64, "futex", "ipc", "",
     "addr:uint64%x op:enumflags16/futex_operations val:uint64", "res:errno"),
    (66, "stat", "file", "", "", "res:errno path:fspath"),
    (68, "lstat", "file", "", "", "res:errno path:fspath"),
    (70, "fstat", "file", "", "fd:fd", "res:errno"),
    (72, "stat64", "file", "", "", "res:errno path:fspath"),
    (74, "lstat64", "file", "", "", "res:errno path:fspath"),
    (76, "fstat64", "file", "", "fd:fd", "res:errno"),
    (78, "epoll_wait", "wait", "", "maxevents:errno", "res:errno"),
    (80, "poll", "wait", "", "fds:fdlist timeout:int64", "res:errno fds:fdlist"),
    (82, "select", "wait", "", "", "res:errno"),
    (84, "select", "wait", "o", "", "res:errno"),
    (86, "lseek", "file", "", "fd:fd offset:uint64 whence:enumflags8/lseek_whence", "res:errno"),
    (88, "llseek", "file", "", "fd:fd offset:uint64 whence:enumflags8/lseek_whence", "res:errno"),
    (90, "ioctl", "io_other", "o", "fd:fd request:uint64%x", "res:errno"),
    (92, "getcwd", "file", "", "", "res:errno path:charbuf"),
    (94, "chdir", "file", "", "", "res:errno path:charbuf"),
    (96, "fchdir", "file", "", "fd:fd", "res:errno fd:fd"),
    (98, "mkdir", "file", "o", "path:fspath mode:uint32%x", "res:errno"),
    (100, "rmdir", "file", "o", "path:fspath", "res:errno"),
    (102, "openat", "file", "o",
     "dirfd:fd name:charbuf flags:flags32/file_flags mode:uint32%o", "fd:fd"),
    (104, "link", "file", "o", "oldpath:fspath newpath:fspath", "res:errno"),
    (106, "linkat", "file", "o",
     "olddir:fd oldpath:charbuf newdir:fd newpath:charbuf", "res:errno"),
    (108, "unlink", "file", "o", "path:fspath", "res:errno"),
    (110, "unlinkat", "file", "o", "dirfd:fd name:charbuf", "res:errno"),
    (112, "pread", "io_read", "", "fd:fd size:uint32 pos:uint64", "res:errno data:bytebuf"),
    (114, "pwrite", "io_write", "", "fd:fd size:uint32 pos:uint64", "res:errno data:bytebuf"),
    (116, "readv", "io_read", "", "fd:fd", "res:errno size:uint32 data:bytebuf"),
    (118, "writev", "io_write", "", "fd:fd size:uint32", "res:errno data:bytebuf"),
    (120, "preadv", "io_read", "", "fd:fd pos:uint64", "res:errno size:uint32 data:bytebuf"),
    (122, "pwritev", "io_write", "", "fd:fd size:uint32 pos:uint64", "res:errno data:bytebuf"),
    (124, "dup", "io_other", "o", "fd:fd", "res:fd"),
    (126, "signalfd", "signal", "", "fd:fd mask:uint32%x flags:flags8", "res:fd"),
    (128, "kill", "signal", "", "pid:pid sig:sigtype", "res:errno pid:pid sig:sigtype"),
    (130, "tkill", "signal", "", "tid:pid sig:sigtype", "res:errno"),
    (132, "tgkill", "signal", "", "pid:pid tid:pid sig:sigtype", "res:errno"),
    (134, "nanosleep", "sleep", "", "interval:reltime", "res:errno"),
    (136, "timerfd_create", "time", "", "clockid:uint8 flags:flags8", "res:fd"),
    (138, "inotify_init", "ipc", "", "flags:flags8", "res:fd"),
    (140, "getrlimit", "process", "", "resource:enumflags8/rlimit_resources",
     "res:errno cur:int64 max:int64"),
    (142, "setrlimit", "process", "", "resource:enumflags8/rlimit_resources",
     "res:errno cur:int64 max:int64 resource:enumflags8/rlimit_resources"),
    (144, "prlimit", "process", "", "pid:pid resource:enumflags8/rlimit_resources",
     "res:errno newcur:int64 newmax:int64 oldcur:int64 oldmax:int64 pid:int64 "
     "resource:enumflags8/rlimit_resources"),
    (146, "switch", "scheduler", "otx", "next:pid", ""),
    (148, "drop", "internal", "m", "ratio:uint32", "ratio:uint32"),
    (150, "fcntl", "io_other", "", "fd:fd cmd:enumflags8/fcntl_commands",
     "res:fd fd:fd cmd:enumflags8/fcntl_commands"),
    (152, "switch", "scheduler", "tx",
     "next:pid pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32", ""),
    (154, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32"),
    (156, "clone", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (158, "brk", "memory", "", "addr:uint64%x",
     "res:uint64%x vm_size:uint32 vm_rss:uint32 vm_swap:uint32"),
    (160, "mmap", "memory", "",
     "addr:uint64%x length:uint64 prot:flags32/prot_flags flags:flags32/mmap_flags fd:fd "
     "offset:uint64",
     "res:errno%x vm_size:uint32 vm_rss:uint32 vm_swap:uint32"),
    (162, "mmap2", "memory", "",
     "addr:uint64%x length:uint64 prot:flags32/prot_flags flags:flags32/mmap_flags fd:fd "
     "pgoffset:uint64",
     "res:errno%x vm_size:uint32 vm_rss:uint32 vm_swap:uint32"),
    (164, "munmap", "memory", "", "addr:uint64%x length:uint64",
     "res:errno vm_size:uint32 vm_rss:uint32 vm_swap:uint32"),
    (166, "splice", "io_other", "",
     "fd_in:fd fd_out:fd size:uint64 flags:flags32/splice_flags", "res:errno"),
    (168, "ptrace", "process", "", "request:enumflags16/ptrace_requests pid:pid",
     "res:errno addr:dyn%x data:dyn%x request:enumflags16/ptrace_requests pid:pid"),
    (170, "ioctl", "io_other", "", "fd:fd request:uint64%x argument:uint64%x", "res:errno"),
    (172, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 env:bytebuf"),
    (174, "rename", "file", "", "", "res:errno oldpath:fspath newpath:fspath"),
    (176, "renameat", "file", "", "",
     "res:errno olddirfd:fd oldpath:fsrelpath newdirfd:fd newpath:fsrelpath"),
    (178, "symlink", "file", "", "", "res:errno target:charbuf linkpath:fspath"),
    (180, "symlinkat", "file", "", "", "res:errno target:charbuf linkdirfd:fd linkpath:fsrelpath"),
    (182, "fork", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (184, "vfork", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (186, "procexit", "process", "tx",
     "status:errno ret:errno sig:sigtype core:uint8 reaper_tid:pid", ""),
    (188, "sendfile", "io_write", "", "out_fd:fd in_fd:fd offset:uint64 size:uint64",
     "res:errno offset:uint64"),
    (190, "quotactl", "user", "",
     "cmd:flags16/quotactl_cmds type:flags8/quotactl_types id:uint32 "
     "quota_fmt:flags8/quotactl_quota_fmts",
     "res:errno special:charbuf quotafilepath:charbuf dqb_bhardlimit:uint64 "
     "dqb_bsoftlimit:uint64 dqb_curspace:uint64 dqb_ihardlimit:uint64 dqb_isoftlimit:uint64 "
     "dqb_btime:reltime dqb_itime:reltime dqi_bgrace:reltime dqi_igrace:reltime "
     "dqi_flags:flags8/quotactl_dqi_flags quota_fmt_out:flags8/quotactl_quota_fmts"),
    (192, "setresuid", "user", "", "ruid:uid euid:uid suid:uid",
     "res:errno ruid:uid euid:uid suid:uid"),
    (194, "setresgid", "user", "", "rgid:gid egid:gid sgid:gid",
     "res:errno rgid:gid egid:gid sgid:gid"),
    (196, "scapevent", "internal", "mx", "event_type:uint32 event_data:uint64", ""),
    (198, "setuid", "user", "", "uid:uid", "res:errno uid:uid"),
    (200, "setgid", "user", "", "gid:gid", "res:errno gid:gid"),
    (202, "getuid", "user", "", "", "uid:uid"),
    (204, "geteuid", "user", "", "", "euid:uid"),
    (206, "getgid", "user", "", "", "gid:gid"),
    (208, "getegid", "user", "", "", "egid:gid"),
    (210, "getresuid", "user", "", "", "res:errno ruid:uid euid:uid suid:uid"),
    (212, "getresgid", "user", "", "", "res:errno rgid:gid egid:gid sgid:gid"),
    (214, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf env:bytebuf"),
    (216, "clone", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (218, "fork", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (220, "vfork", "process", "o", "",
     "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf flags:flags32/clone_flags uid:uint32 gid:uint32"),
    (222, "clone", "process", "", "", "@CLONE20"),
    (224, "fork", "process", "", "", "@CLONE20"),
    (226, "vfork", "process", "", "", "@CLONE20"),
    (228, "container", "internal", "omx",
     "id:charbuf type:uint32 name:charbuf image:charbuf", ""),
    (230, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf cgroups:bytebuf env:bytebuf"),
    (232, "signaldeliver", "signal", "tx", "spid:pid dpid:pid sig:sigtype", ""),
    (234, "procinfo", "internal", "mx", "cpu_usr:uint64 cpu_sys:uint64", ""),
    (236, "getdents", "file", "", "fd:fd", "res:errno"),
    (238, "getdents64", "file", "", "fd:fd", "res:errno"),
    (240, "setns", "process", "", "fd:fd nstype:flags32/clone_flags",
     "res:errno fd:fd nstype:flags32/clone_flags"),
    (242, "flock", "file", "", "fd:fd operation:flags32/flock_flags", "res:errno"),
    (244, "cpu_hotplug", "system", "mx", "cpu:uint32 action:uint32", ""),
    (246, "accept", "net", "", "",
     "fd:fd tuple:socktuple queuepct:uint8 queuelen:uint32 queuemax:uint32"),
    (248, "accept", "net", "o", "flags:int32%x",
     "fd:fd tuple:socktuple queuepct:uint8 queuelen:uint32 queuemax:uint32"),
    (250, "semop", "process", "", "semid:int32",
     "res:errno nsops:uint32 sem_num_0:uint16 sem_op_0:int16 sem_flg_0:flags16/semop_flags "
     "sem_num_1:uint16 sem_op_1:int16 sem_flg_1:flags16/semop_flags"),
    (252, "semctl", "process", "",
     "semid:int32 semnum:int32 cmd:flags16/semctl_commands%x val:int32", "res:errno"),
    (254, "ppoll", "wait", "", "fds:fdlist timeout:reltime sigmask:sigset", "res:errno fds:fdlist"),
    (256, "mount", "file", "", "flags:flags32/mount_flags",
     "res:errno dev:charbuf dir:fspath type:charbuf flags:flags32/mount_flags"),
    (258, "umount", "file", "o", "flags:flags32/umount_flags", "res:errno name:fspath"),
    (260, "k8s", "internal", "mx", "json:charbuf", ""),
    (262, "semget", "process", "", "key:int32%x nsems:int32 semflg:flags32/semget_flags",
     "res:errno"),
    (264, "access", "file", "", "mode:flags32/access_flags", "res:errno name:fspath"),
    (266, "chroot", "process", "", "", "res:errno path:fspath"),
    (268, "tracer", "other", "m",
     "id:int64 tags:charbufarray args:charbuf_pair_array",
     "id:int64 tags:charbufarray args:charbuf_pair_array"),
    (270, "mesos", "internal", "mx", "json:charbuf", ""),
    (272, "container", "process", "omx", "json:charbuf", ""),
    (274, "setsid", "process", "", "", "res:pid"),
    (276, "mkdir", "file", "", "mode:uint32%x", "res:errno path:fspath mode:uint32%x"),
    (278, "rmdir", "file", "", "", "res:errno path:fspath"),
    (280, "notification", "other", "mx", "id:charbuf desc:charbuf", ""),
    (282, "execve", "process", "o", "",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf cgroups:bytebuf env:bytebuf tty:int32"),
    (284, "unshare", "process", "", "flags:flags32/clone_flags",
     "res:errno flags:flags32/clone_flags"),
    (286, "infra", "internal", "mx",
     "source:charbuf name:charbuf description:charbuf scope:charbuf", ""),
    (288, "execve", "process", "o", "filename:fspath",
     "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
     "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
     "comm:charbuf cgroups:bytebuf env:bytebuf tty:int32"),
    (290, "page_fault", "other", "tx", "addr:uint64%x ip:uint64%x error:flags32/pf_flags", ""),
    (292, "execve", "process", "", "filename:fspath", "@EXECVE19"),
    (294, "setpgid", "process", "", "pid:pid pgid:pid", "res:pid"),
    (296, "bpf", "other", "o", "cmd:int64", "res_or_fd:dyn"),
    (298, "seccomp", "other", "", "op:uint64 flags:uint64%x", "res:errno"),
    (300, "unlink", "file", "", "", "res:errno path:fspath"),
    (302, "unlinkat", "file", "", "",
     "res:errno dirfd:fd name:fsrelpath flags:flags32/unlinkat_flags"),
    (304, "mkdirat", "file", "", "", "res:errno dirfd:fd path:fsrelpath mode:uint32%x"),
    (306, "openat", "file", "",
     "dirfd:fd name:fsrelpath flags:flags32/file_flags mode:uint32%o",
     "fd:fd dirfd:fd name:fsrelpath flags:flags32/file_flags mode:uint32%o dev:uint32%x "
     "ino:uint64"),
    (308, "link", "file", "", "", "res:errno oldpath:fspath newpath:fspath"),
    (310, "linkat", "file", "", "",
     "res:errno olddir:fd oldpath:fsrelpath newdir:fd newpath:fsrelpath "
     "flags:flags32/linkat_flags"),
    (312, "fchmodat", "file", "", "",
     "res:errno dirfd:fd filename:fsrelpath mode:mode/chmod_mode%o"),
    (314, "chmod", "file", "", "", "res:errno filename:fspath mode:mode/chmod_mode%o"),
    (316, "fchmod", "file", "", "", "res:errno fd:fd mode:mode/chmod_mode%o"),
    (318, "renameat2", "file", "", "",
     "res:errno olddirfd:fd oldpath:fsrelpath newdirfd:fd newpath:fsrelpath "
     "flags:flags32/renameat2_flags"),
    (320, "userfaultfd", "file", "", "", "res:errno flags:flags32/file_flags"),
    (322, "pluginevent", "other", "px", "plugin_id:uint32 event_data:bytebuf", ""),
    (324, "container", "process", "mx", "json:charbuf", ""),
    (326, "openat2", "file", "",
     "dirfd:fd name:fsrelpath flags:flags32/file_flags mode:uint32%o "
     "resolve:flags32/openat2_flags",
     "fd:fd dirfd:fd name:fsrelpath flags:flags32/file_flags mode:uint32%o "
     "resolve:flags32/openat2_flags"),
    (328, "mprotect", "memory", "", "addr:uint64%x length:uint64 prot:flags32/prot_flags",
     "res:errno"),
    (330, "execveat", "process", "",
     "dirfd:fd pathname:fsrelpath flags:flags32/execveat_flags", "@EXECVE19"),
    (332, "copy_file_range", "file", "", "fdin:fd offin:uint64 len:uint64",
     "res:errno fdout:fd offout:uint64"),
    (334, "clone3", "process", "", "", "@CLONE20"),
    (336, "open_by_handle_at", "file", "", "",
     "fd:fd mountfd:fd flags:flags32/file_flags path:fspath"),
    (338, "io_uring_setup", "io_other", "", "",
     "res:errno entries:uint32 sq_entries:uint32 cq_entries:uint32 "
     "flags:flags32/io_uring_setup_flags sq_thread_cpu:uint32 sq_thread_idle:uint32 "
     "features:flags32/io_uring_setup_feats"),
    (340, "io_uring_enter", "io_other", "", "",
     "res:errno fd:fd to_submit:uint32 min_complete:uint32 "
     "flags:flags32/io_uring_enter_flags sig:sigset"),
    (342, "io_uring_register", "io_other", "", "",
     "res:errno fd:fd opcode:enumflags16/io_uring_register_opcodes arg:uint64%x "
     "nr_args:uint32"),
    (344, "mlock", "memory", "", "", "res:errno addr:uint64%x len:uint64"),
    (346, "munlock", "memory", "", "", "res:errno addr:uint64%x len:uint64"),
    (348, "mlockall", "memory", "", "", "res:errno flags:flags32/mlockall_flags"),
    (350, "munlockall", "memory", "", "", "res:errno"),
    (352, "capset", "process", "", "",
     "res:errno cap_inheritable:uint64%x cap_permitted:uint64%x cap_effective:uint64%x"),
    (354, "useradded", "process", "mx",
     "uid:uint32 gid:uint32 name:charbuf home:charbuf shell:charbuf container_id:charbuf", ""),
    (356, "userdeleted", "process", "mx",
     "uid:uint32 gid:uint32 name:charbuf home:charbuf shell:charbuf container_id:charbuf", ""),
    (358, "groupadded", "process", "mx", "gid:uint32 name:charbuf container_id:charbuf", ""),
    (360, "groupdeleted", "process", "mx", "gid:uint32 name:charbuf container_id:charbuf", ""),
    (362, "dup2", "io_other", "", "fd:fd", "res:fd oldfd:fd newfd:fd"),
    (364, "dup3", "io_other", "", "fd:fd", "res:fd oldfd:fd newfd:fd flags:flags32/file_flags"),
    (366, "dup", "io_other", "", "fd:fd", "res:fd oldfd:fd"),
    # The driver's table declares cmd as plain integers; newer libs print it
    # through bpf_commands, which the rules rely on (evt.arg.cmd=BPF_PROG_LOAD).
    (368, "bpf", "other", "", "cmd:enumflags32/bpf_commands",
     "fd:fd cmd:enumflags32/bpf_commands"),
    (370, "mlock2", "memory", "", "",
     "res:errno addr:uint64%x len:uint64 flags:flags32/mlock2_flags"),
    (372, "fsconfig", "system", "", "",
     "res:errno fd:fd cmd:enumflags32/fsconfig_cmds key:charbuf value_bytebuf:bytebuf "
     "value_charbuf:charbuf aux:int32"),
    (374, "epoll_create", "wait", "", "size:int32", "res:errno"),
    (376, "epoll_create1", "wait", "", "flags:flags32/epoll_create1_flags", "res:errno"),
    (378, "chown", "file", "", "", "res:errno path:fspath uid:uint32 gid:uint32"),
    (380, "lchown", "file", "", "", "res:errno path:fspath uid:uint32 gid:uint32"),
    (382, "fchown", "file", "", "", "res:errno fd:fd uid:uint32 gid:uint32"),
    (384, "fchownat", "file", "", "",
     "res:errno dirfd:fd pathname:fsrelpath uid:uint32 gid:uint32 flags:flags32/fchownat_flags"),
    (386, "umount", "file", "", "", "res:errno name:fspath"),
    (388, "accept4", "net", "", "flags:int32%x",
     "fd:fd tuple:socktuple queuepct:uint8 queuelen:uint32 queuemax:uint32"),
    (390, "umount2", "file", "", "flags:flags32/umount_flags", "res:errno name:fspath"),
    (392, "pipe2", "ipc", "", "", "res:errno fd1:fd fd2:fd ino:uint64 flags:flags32/file_flags"),
    (394, "inotify_init1", "ipc", "", "", "res:fd flags:flags16/file_flags"),
    (396, "eventfd2", "ipc", "", "initval:uint64", "res:fd flags:flags16/file_flags"),
    (398, "signalfd4", "signal", "", "fd:fd mask:uint32%x", "res:fd flags:flags16"),
    (400, "prctl", "process", "", "",
     "res:errno option:enumflags32/prctl_options arg2_str:charbuf arg2_int:int64"),
    (402, "asyncevent", "other", "mx", "plugin_id:uint32 name:charbuf data:bytebuf", ""),
    (404, "memfd_create", "memory", "", "", "fd:fd name:charbuf flags:flags32/memfd_create_flags"),
    (406, "pidfd_getfd", "process", "", "", "fd:fd pid_fd:fd target_fd:fd flags:flags32%x"),
    (408, "pidfd_open", "process", "", "", "fd:fd pid:pid flags:flags32/pidfd_open_flags"),
    (410, "init_module", "other", "", "", "res:errno img:bytebuf length:uint64 uargs:charbuf"),
    (412, "finit_module", "other", "", "",
     "res:errno fd:fd uargs:charbuf flags:flags32/finit_module_flags"),
    (414, "mknod", "other", "", "", "res:errno path:fspath mode:mode/mknod_mode%o dev:uint32"),
    (416, "mknodat", "other", "", "",
     "res:errno dirfd:fd path:fsrelpath mode:mode/mknod_mode%o dev:uint32"),
    (418, "newfstatat", "file", "", "",
     "res:errno dirfd:fd path:fsrelpath flags:flags32/newfstatat_flags"),
    (420, "process_vm_readv", "ipc", "", "", "res:int64 pid:pid data:bytebuf"),
    (422, "process_vm_writev", "ipc", "", "", "res:int64 pid:pid data:bytebuf"),
    (424, "delete_module", "other", "", "",
     "res:errno name:charbuf flags:flags32/delete_module_flags"),
]

# Layouts shared by several events (the process-creation exits).
SHARED = {
    "CLONE20": (
        "res:pid exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:int64 "
        "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
        "comm:charbuf cgroups:bytebuf flags:flags32/clone_flags uid:uint32 gid:uint32 "
        "vtid:pid vpid:pid pidns_init_start_ts:uint64"),
    "EXECVE19": (
        "res:errno exe:charbuf args:bytebuf tid:pid pid:pid ptid:pid cwd:charbuf fdlimit:uint64 "
        "pgft_maj:uint64 pgft_min:uint64 vm_size:uint32 vm_rss:uint32 vm_swap:uint32 "
        "comm:charbuf cgroups:bytebuf env:bytebuf tty:uint32 pgid:pid loginuid:uid "
        "flags:flags32/execve_flags cap_inheritable:uint64%x cap_permitted:uint64%x "
        "cap_effective:uint64%x exe_ino:uint64 exe_ino_ctime:abstime exe_ino_mtime:abstime "
        "uid:uid trusted_exepath:fspath"),
}

# The driver's system-call codes (PPM_SC_*), in code order; "-" marks an unused
# code.  A generic "syscall" event carries one of these in its ID parameter, and
# Falco reports its evt.type as this name.
SYSCALL_NAMES = """
unknown restart_syscall exit read write open close creat link unlink chdir time mknod chmod
stat lseek getpid mount ptrace alarm fstat pause utime access sync kill rename mkdir rmdir dup
pipe times brk acct ioctl fcntl setpgid umask chroot ustat dup2 getppid getpgrp setsid
sethostname setrlimit getrusage gettimeofday settimeofday symlink lstat readlink uselib swapon
reboot mmap munmap truncate ftruncate fchmod getpriority setpriority statfs fstatfs syslog
setitimer getitimer uname vhangup wait4 swapoff sysinfo fsync setdomainname adjtimex mprotect
init_module delete_module quotactl getpgid fchdir sysfs personality getdents select flock msync
readv writev getsid fdatasync mlock munlock mlockall munlockall sched_setparam sched_getparam
sched_setscheduler sched_getscheduler sched_yield sched_get_priority_max sched_get_priority_min
sched_rr_get_interval nanosleep mremap poll prctl rt_sigaction rt_sigprocmask rt_sigpending
rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend getcwd capget capset sendfile getrlimit lchown
getuid getgid geteuid getegid setreuid setregid getgroups setgroups fchown setresuid getresuid
setresgid getresgid chown setuid setgid setfsuid setfsgid pivot_root mincore madvise gettid
setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr
removexattr lremovexattr fremovexattr tkill futex sched_setaffinity sched_getaffinity
set_thread_area get_thread_area io_setup io_destroy io_getevents io_submit io_cancel exit_group
epoll_create epoll_ctl epoll_wait remap_file_pages set_tid_address timer_create timer_settime
timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres
clock_nanosleep tgkill utimes mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify
mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set ioprio_get inotify_init
inotify_add_watch inotify_rm_watch openat mkdirat mknodat fchownat futimesat unlinkat renameat
linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list
get_robust_list splice tee vmsplice getcpu epoll_pwait utimensat signalfd timerfd_create eventfd
timerfd_settime timerfd_gettime signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1
preadv pwritev rt_tgsigqueueinfo perf_event_open fanotify_init prlimit64 clock_adjtime syncfs
setns getdents64 socket bind connect listen accept getsockname getpeername socketpair sendto
recvfrom shutdown setsockopt getsockopt sendmsg sendmmsg recvmsg recvmmsg accept4 semop semget
semctl msgsnd msgrcv msgget msgctl shmdt shmget shmctl statfs64 fstatfs64 fstatat64 sendfile64
ugetrlimit bdflush sigprocmask ipc socketcall stat64 lstat64 fstat64 fcntl64 mmap2 _newselect
sgetmask ssetmask sigpending olduname umount signal nice stime _llseek waitpid pread64 pwrite64
arch_prctl shmat rt_sigreturn fallocate newfstatat process_vm_readv process_vm_writev fork vfork
setuid32 getuid32 setgid32 geteuid32 getgid32 setresuid32 setresgid32 getresuid32 getresgid32
finit_module bpf seccomp sigaltstack getrandom fadvise64 renameat2 userfaultfd openat2 umount2
execve execveat copy_file_range clone clone3 open_by_handle_at io_uring_setup io_uring_enter
io_uring_register mlock2 getegid32 fsconfig fspick fsmount fsopen open_tree move_mount
mount_setattr memfd_create memfd_secret ioperm kexec_file_load pidfd_getfd pidfd_open
pidfd_send_signal pkey_alloc pkey_mprotect pkey_free landlock_create_ruleset quotactl_fd
landlock_restrict_self landlock_add_rule epoll_pwait2 migrate_pages move_pages preadv2 pwritev2
kcmp sched_setattr mbind epoll_ctl_old lookup_dcookie modify_ldt statx set_mempolicy
io_pgetevents set_mempolicy_home_node semtimedop get_kernel_syms readahead futex_waitv getpmsg
name_to_handle_at process_mrelease nfsservctl epoll_wait_old rseq create_module - sched_getattr
faccessat2 _sysctl query_module get_mempolicy sync_file_range process_madvise membarrier iopl
close_range fanotify_mark recv send sched_process_exit sched_switch page_fault_user
page_fault_kernel signal_deliver timerfd s390_pci_mmio_read sigaction s390_pci_mmio_write
readdir s390_sthyi sigsuspend idle s390_runtime_instr sigreturn s390_guarded_storage cachestat
fchmodat2 map_shadow_stack riscv_flush_icache riscv_hwprobe futex_wake futex_requeue futex_wait
oldstat switch_endian multiplexer oldlstat spu_create sync_file_range2 oldfstat spu_run
swapcontext pciconfig_write rtas pciconfig_read sys_debug_setcontext vm86 oldolduname
subpage_prot pciconfig_iobase listmount statmount lsm_get_self_attr lsm_set_self_attr
lsm_list_modules mseal
""".split()
