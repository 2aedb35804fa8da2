"""The capture commands of `sensor`: `replay` (a .scap trace) and `run` (live).

Both load the configuration and the rules the same way (Falco's -c, -o, -r,
-D, -t, -T), print alerts on stdout in Falco's text or JSON format, and a
summary on stderr with Falco's log prefix.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "rules"
_LEVELS = {"emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4, "notice": 5,
           "info": 6, "debug": 7}


class _Setup:
    """Configuration, engine and output of one command, or the exit code of
    the failure that stopped it (`code`)."""

    def __init__(self, args, command: str, default_rules=(), counters=None):
        from .compile.errors import RulesError
        from .config import Config, ConfigError
        from .engine import Engine
        from .outputs.append import AppendOutputError, apply_append_output
        from .outputs.dispatch import Outputs
        from .replay import SelectionError, select_rules

        self.code = None
        self.engine = None
        try:
            self.cfg = Config.load(args.config, tuple(args.options))
            if getattr(args, "json", False):
                self.cfg.set_option("json_output=true")
        except ConfigError as e:
            print(f"sensor: {e}", file=sys.stderr)
            self.code = 2
            return
        files = args.rules_files or _as_list(self.cfg.get("rules_file")) or list(default_rules)
        if not files:
            print(f"sensor {command}: no rules: give -r RULES (or rules_file in the "
                  "configuration)", file=sys.stderr)
            self.code = 2
            return
        try:
            self.engine = Engine(rule_matching=str(self.cfg.get("rule_matching")))
            for f in files:
                self.engine.load_rules_file(f)
            select_rules(self.engine, args.disable, args.tags, args.notags,
                         self.cfg.get("priority"))
            apply_append_output(self.engine, self.cfg.get("append_output"))
        except RulesError as e:
            for msg in e.errors + e.warnings:
                print(str(msg), file=sys.stderr)
            self.code = 1
            return
        except (SelectionError, AppendOutputError, ValueError, OSError) as e:
            print(f"Error: {e}", file=sys.stderr)
            self.code = 1
            return
        self.iso = bool(self.cfg.get("time_format_iso_8601"))
        self.level = _LEVELS.get(str(self.cfg.get("log_level", "info")).lower(), 6)
        from .drops_monitor import DropsConfig, DropsConfigError
        try:
            self.drops = DropsConfig.from_config(self.cfg)
        except DropsConfigError as e:
            print(f"Error: {e}", file=sys.stderr)
            self.code = 1
            return
        for msg in self.engine.warnings:
            self.log(str(msg))
        try:
            # Sinks checked and files opened now, with the start's privileges.
            self.emit = Outputs(self.cfg, counters)
            self.emit.prepare()
        except (ValueError, OSError) as e:
            print(f"Error: {e}", file=sys.stderr)
            self.code = 1
            return

    def log(self, text: str) -> None:
        from .outputs.formats import log_prefix
        print(f"{log_prefix(self.iso)}: {text}", file=sys.stderr, flush=True)

    def log_at(self, level: str, text: str) -> None:
        """A message at a syslog level, shown if the configured log_level allows."""
        if _LEVELS[level] <= self.level:
            self.log(text)

    def drops_monitor(self, alert, drops_so_far=lambda: 0):
        from .drops_monitor import DropsMonitor
        return DropsMonitor(self.drops, self.log_at, alert, drops_so_far)


def cmd_replay(args) -> int:
    from .capture.scap_reader import ScapError
    from .replay import Progress, filter_engine, replay

    trace = getattr(args, "trace", None) or getattr(args, "trace_path", None)
    if not trace:
        print("sensor replay: which trace? give TRACE.scap (or -e TRACE)", file=sys.stderr)
        return 2
    setup = _Setup(args, "replay")
    if setup.code is not None:
        return setup.code
    write_filter = None
    if getattr(args, "filter", None):
        if not getattr(args, "write", None):
            print("sensor replay: a FILTER needs --write OUT.scap", file=sys.stderr)
            return 2
        from .compile.errors import RulesError
        try:
            write_filter = filter_engine(args.filter)
        except RulesError as e:
            for msg in e.errors:
                print(str(msg), file=sys.stderr)
            return 1
    workers = _workers(getattr(args, "workers", None))
    progress = None if getattr(args, "no_progress", False) else Progress()
    try:
        result = replay(trace, setup.engine, setup.emit, write_path=getattr(args, "write", None),
                        write_filter=write_filter, progress=progress,
                        workers=workers,
                        drops=setup.drops_monitor, user=str(setup.cfg.get("pipeline.user") or ""))
    except (ScapError, OSError) as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 1
    setup.log(_summary(result, "read", setup.emit))
    if result.monitor is not None:
        print(result.monitor.summary(), file=sys.stderr)
    if result.error is not None:
        print(f"sensor: {result.error}", file=sys.stderr)
        return 1
    return 1 if result.stopped else 0


def cmd_run(args) -> int:
    """Live capture until SIGINT/SIGTERM or -M seconds; exit 0, 2 when capture
    is impossible here (not root, no BTF, probes refused)."""
    from .capture.bpf_loader import BpfError, require_live_capture
    try:
        require_live_capture()
    except BpfError as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 2
    from .run import run_live
    setup = _Setup(args, "run", default_rules=[str(DEFAULT_RULES)])
    if setup.code is not None:
        return setup.code
    stopping = []
    deadline = None

    def on_signal(signum, frame):
        stopping.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    hups, usr1 = [], []
    old[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda signum, frame: hups.append(1))
    old[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda signum, frame: usr1.append(1))
    latest = [setup]                    # the setup in use (SIGHUP replaces it)

    def reopen() -> bool:
        """On SIGUSR1: the file outputs open their files again (log rotation)."""
        if not usr1:
            return False
        usr1.clear()
        setup.log("SIGUSR1: reopening the outputs")
        return True

    def reload():
        """On SIGHUP: configuration and rules loaded again and validated; on any
        error the old ones stay, and the log says why."""
        if not hups:
            return None
        hups.clear()
        setup.log("SIGHUP: reloading the configuration and the rules")
        new = _Setup(args, "run", default_rules=[str(DEFAULT_RULES)],
                     counters=latest[0].emit.counters)
        if new.code is not None:
            setup.log("SIGHUP: the new configuration or rules are invalid (above); "
                      "keeping the old ones")
            return None
        latest[0] = new
        return new.engine, new.emit

    def on_ready(syscalls):
        nonlocal deadline
        if args.duration is not None:
            deadline = time.monotonic() + args.duration
        setup.log(f"Capture ready: {len(syscalls)} syscalls attached: {', '.join(syscalls)}")

    def stop() -> bool:
        return bool(stopping) or (deadline is not None and time.monotonic() >= deadline)

    workers = _workers(args.live_workers)
    from .capture.container_engines import settings_from_config
    try:
        containers = settings_from_config(setup.cfg.get("container_engines"))
    except ValueError as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 1
    from .stats import Stats
    try:
        stats = Stats(setup.cfg, setup.log)
    except (ValueError, OSError) as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 2
    try:
        result = run_live(setup.engine, setup.emit, stop=stop, on_ready=on_ready,
                          write_path=getattr(args, "write", None),
                          ring_bytes=int(setup.cfg.get("capture.ring_bytes")),
                          workers=workers, drops=setup.drops_monitor,
                          reload=reload, log=setup.log,
                          user=str(setup.cfg.get("pipeline.user") or ""), stats=stats,
                          reopen=reopen, containers=containers)
    except BpfError as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"sensor: {e}", file=sys.stderr)
        return 1
    finally:
        stats.close()
        for s, h in old.items():
            signal.signal(s, h)
    setup.log(_summary(result, "captured", latest[0].emit))
    if result.monitor is not None:
        print(result.monitor.summary(), file=sys.stderr)
    return 1 if result.stopped else 0


def _workers(given) -> int:
    from .workers.procs import default_workers
    return default_workers() if given is None else max(1, given)


def _summary(result, verb: str, outputs) -> str:
    rate = result.events / result.seconds if result.seconds > 0 else 0.0
    lines = [f"Events {verb}: {result.events}, alerts: {result.alerts} "
             f"({result.seconds:.2f} s, {rate:,.0f} events/s)"]
    if result.written:
        lines.append(f"Events written: {result.written}")
    drops = getattr(result, "kernel_drops", None)
    if drops is not None:
        total = sum(drops.values())
        lines.append(f"Kernel drops: {total}" + (" (" + ", ".join(
            f"{name}: {n}" for name, n in sorted(drops.items())) + ")" if total else ""))
    meta = getattr(result, "containers", None)
    if meta is not None and meta.table.rows:
        lines.append(meta.summary())
    if getattr(result, "bad_records", 0):
        lines.append(f"Malformed records dropped: {result.bad_records}")
    pipe = getattr(result, "pipeline", None)
    if pipe is not None:
        lines.append(f"Pipeline: {pipe.posted} batches, dropped {pipe.dropped_batches} "
                     f"({pipe.dropped_events} events) with no free slot, lost "
                     f"{pipe.lost_batches} in workers that died; restarts: "
                     f"{pipe.worker_restarts} workers, {pipe.output_restarts} output; "
                     f"alerts dropped (output behind): {pipe.alerts_dropped}")
    lines.extend(outputs.summary())
    for rule, n in sorted(result.by_rule.items()):
        lines.append(f"   {rule}: {n}")
    return "\n".join(lines)


def _as_list(v) -> list:
    if not v:
        return []
    return [v] if isinstance(v, str) else list(v)
