"""Falco's syscall event drop monitoring (`syscall_event_drops` in falco.yaml).

Once per second of event time the monitor compares the drops counted since
the last check with the events seen; past `threshold` (a ratio in [0, 1]) it
takes the configured actions, at most as often as a token bucket allows
(`rate` tokens per second, `max_burst` at most):

    ignore   nothing
    log      a debug log line: "Falco internal: syscall event drop. N system calls ..."
    alert    an alert with that text, rule "Falco internal: syscall event drop"
    exit     critical log lines, then the sensor stops with exit status 1

`simulate_drops: true` adds one drop at every check (threshold 0), as Falco
does for its tests.  At the end, `summary()` gives Falco's two counters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from .compile.rule import Priority
from .outputs.alert import Alert

ONE_SECOND = 1_000_000_000
RULE = "Falco internal: syscall event drop"
ACTIONS = ("ignore", "log", "alert", "exit")


class DropsConfigError(ValueError):
    pass


@dataclass
class DropsConfig:
    threshold: float = 0.1
    actions: tuple = ("log", "alert")
    rate: float = 0.03333
    max_burst: float = 1.0
    simulate: bool = False

    @classmethod
    def from_config(cls, cfg) -> "DropsConfig":
        node = cfg.get("syscall_event_drops") or {}
        c = cls()
        try:
            c.threshold = float(node.get("threshold", c.threshold))
        except (TypeError, ValueError):
            c.threshold = -1.0
        if not 0.0 <= c.threshold <= 1.0:
            raise DropsConfigError("syscall event drops threshold must be a double in the "
                                   "range [0, 1]")
        actions = node.get("actions", list(c.actions)) or ["ignore"]
        for a in actions:
            if a not in ACTIONS:
                raise DropsConfigError(f"unknown syscall event drop action \"{a}\" "
                                       f"(one of {', '.join(ACTIONS)})")
        if "ignore" in actions and len(actions) > 1:
            other = next(a for a in actions if a != "ignore")
            raise DropsConfigError(f"syscall event drop action \"{other}\" does not make "
                                   "sense with the \"ignore\" action")
        c.actions = tuple(actions)
        c.rate = float(node.get("rate", c.rate))
        c.max_burst = float(node.get("max_burst", c.max_burst))
        c.simulate = bool(node.get("simulate_drops", False))
        if c.simulate:
            c.threshold = 0.0
        return c


@njit(cache=True)
def _checkpoints(ts, n, next_check, out):
    """Rows at which a check falls (Falco: the first event past the next
    check time, which then moves one second past that event); returns
    (count, next_check)."""
    k = 0
    for i in range(n):
        t = np.int64(ts[i])
        if next_check == 0:
            next_check = t + ONE_SECOND
        elif next_check < t:
            out[k] = i
            k += 1
            next_check = t + ONE_SECOND
    return k, next_check


class DropsMonitor:
    def __init__(self, config: DropsConfig, log: Callable[[str, str], None],
                 alert: Callable[[Alert], None], drops_so_far: Callable[[], int] = lambda: 0):
        self.config = config
        self.log, self.alert, self.drops_so_far = log, alert, drops_so_far
        self.next_check = 0
        self.events = 0
        self.last_events = 0
        self.last_drops = 0
        self.detected = 0
        self.actions_taken = 0
        self.tokens = config.max_burst
        self.last_claim = None
        self.exit_requested = False

    def batch(self, B) -> None:
        """Run the checks that fall in this batch's events (in event order)."""
        n = int(B.n[0])
        rows = np.empty(n, np.int64)
        k, self.next_check = _checkpoints(B.ts, n, np.int64(self.next_check), rows)
        for i in rows[:k]:
            self._check(int(B.ts[i]), self.events + int(i) + 1)
            if self.exit_requested:
                break
        self.events += n

    def _check(self, now: int, events: int) -> None:
        drops = self.drops_so_far()
        d_drops, d_events = drops - self.last_drops, events - self.last_events
        self.last_drops, self.last_events = drops, events
        if self.config.simulate:
            self.log("info", "Simulating syscall event drop")
            d_drops += 1
        if d_drops <= 0 or d_drops / max(d_events, 1) <= self.config.threshold:
            return
        self.detected += 1
        if not self._claim(now):
            self.log("debug", "Syscall event drop but token bucket depleted, skipping actions")
            return
        self.actions_taken += 1
        msg = f"{RULE}. {d_drops} system calls dropped in last second."
        for action in self.config.actions:
            if action == "log":
                self.log("debug", msg)
            elif action == "alert":
                self.alert(Alert(ts=now, rule=RULE, priority=Priority.DEBUG, source="syscall",
                                 tags=(), output=msg,
                                 output_fields={"n_evts": str(d_events),
                                                "n_drops": str(d_drops),
                                                "ebpf_enabled": "1"}))
            elif action == "exit":
                self.log("critical", msg)
                self.log("critical", "Exiting.")
                self.exit_requested = True

    def _claim(self, now: int) -> bool:
        """Falco's token bucket: `rate` tokens a second up to `max_burst`, one per action."""
        if self.last_claim is not None:
            gained = self.config.rate * max(now - self.last_claim, 0) / ONE_SECOND
            self.tokens = min(self.config.max_burst, self.tokens + gained)
        self.last_claim = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def summary(self) -> str:
        return ("Syscall event drop monitoring:\n"
                f"   - event drop detected: {self.detected} occurrences\n"
                f"   - num times actions taken: {self.actions_taken}")
