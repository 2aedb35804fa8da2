"""Wake-ups between the sensor's forked processes: a Linux eventfd (DESIGN.md point 6).

An eventfd is a kernel u64 counter behind a file descriptor: `signal(n)` adds n, `wait()`
blocks until it is non-zero and takes the whole count (not a semaphore: one read consumes every
signal posted so far, so a burst of signals costs the waiter one wake-up).  The descriptor is
non-blocking; `wait` sleeps in poll(2), so a timeout is honoured and a signal that arrives between
the poll and the read (taken by another waiter) just means polling again.

Made before fork, the descriptor is inherited by the child, and the counter is the same kernel
object in both processes: either side may signal or wait.  Nothing about it is named.  Under
`spawn` (not used by the sensor) it would have to be passed with multiprocessing's DupFd.

Carry only "something changed" through it; what changed lives in shared memory (sequence
numbers, ring positions), so a coalesced or spurious wake-up is harmless.
"""
from __future__ import annotations

import os
import select
import time

_MAX_ADD = (1 << 64) - 2        # the kernel's ceiling for the counter


class EventFd:
    """A non-blocking, counting (non-semaphore) eventfd.  Safe to inherit across fork."""

    __slots__ = ("_fd", "_poll")

    def __init__(self):
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._poll = None

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("EventFd is closed")
        return self._fd

    def signal(self, n: int = 1) -> None:
        """Add n (>= 1) to the counter, waking a waiter.  Never blocks: if the counter is at
        its ceiling (nobody has waited in 2**64 signals) the waiter is already due to wake."""
        try:
            os.eventfd_write(self._fd, min(int(n), _MAX_ADD))
        except BlockingIOError:
            pass

    def wait(self, timeout_s: float | None) -> int:
        """Wait up to timeout_s seconds (None: forever; 0: just check) for the counter to be
        non-zero; take and return the whole count, 0 on timeout."""
        fd = self._fd
        try:
            return os.eventfd_read(fd)
        except BlockingIOError:
            pass
        if timeout_s is not None and timeout_s <= 0:
            return 0
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if deadline is None:
                ms = None
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0
                ms = max(1, int(left * 1000.0 + 0.999))     # round up: never spin at 0 ms
            if self._poll.poll(ms):
                try:
                    return os.eventfd_read(fd)
                except BlockingIOError:
                    continue             # another waiter took it; wait for the next one

    def close(self) -> None:
        """Close this process's descriptor (others, in other processes, stay open)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self._poll = None
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"EventFd(fd={self._fd})"
