"""What every forked child of the sensor does first: a title in ps/top, death
with its parent, and signals left to the capture process."""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def default_workers() -> int:
    """`--workers` when not given: one worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except OSError:
        return max(1, os.cpu_count() or 1)


def set_title(title: str) -> str:
    """The process's name in ps and top (`sensor: capture`, `sensor: worker 2/8 [...]`);
    returns the title it had."""
    try:
        import setproctitle
    except ImportError:          # the title is a convenience
        return ""
    old = setproctitle.getproctitle()
    setproctitle.setproctitle(title)
    return old


PR_SET_NO_NEW_PRIVS = 38


def drop_privileges(user: str) -> None:
    """Become `user` with no capabilities and no way back (a worker or the
    output process needs none: its memory and fds were set up before the fork)."""
    import pwd
    pw = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)            # a non-root uid: permitted and effective caps cleared
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def become_child(title: str, user: str = "", prepare=None) -> None:
    set_title(title)
    if prepare is not None:          # what needs the start's privileges (files to open)
        prepare()
    if user and os.geteuid() == 0:
        drop_privileges(user)
    # After the credentials change, which clears the parent-death signal.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:        # the parent died before prctl: follow it now
        os._exit(1)
    # Ctrl-C reaches the whole process group: the capture process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)      # meant for the output process


def fork_child(title: str, main, *args, user: str = "", prepare=None) -> int:
    """Fork a child running main(*args), which never returns into the parent's code;
    with `user` (and root), it runs as that user without capabilities, after
    prepare() has run with the parent's privileges."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        become_child(title, user, prepare)
        main(*args)
    except BaseException:        # a crash is reported, then the supervisor restarts us
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)
