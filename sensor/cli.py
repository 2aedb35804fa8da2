"""The `sensor` command.

    sensor rules validate -r FILE [-r FILE ...] [--json]   check rules files (exit 0 valid, 1 not)
    sensor rules list -r FILE [-r FILE ...] [--json]       the rules they define
    sensor fields [--json]                                 the fields conditions and outputs may use
    sensor replay TRACE.scap [-r RULES]... [options]       alerts of the rules on a trace
    sensor [run] [-r RULES]... [-M SECONDS] [options]     live capture (root): alerts of the rules

Falco's short forms work too: `sensor -V FILE` validates, `sensor -r FILE -L`
lists rules, `sensor --list` lists fields, `sensor -e TRACE -r FILE` replays.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

def _load(files: list[str]):
    from .compile.loader import Loader
    from .engine import bind_rules
    loader = Loader()
    for f in files:
        loader.add_path(f)
    result = loader.finish()
    if result.ok:       # the engine's own checks: what validates, loads
        result.errors.extend(bind_rules(result.ruleset.rules,
                                        source_line=loader.ctx.diag.source_line)[1])
    return result


def _print_messages(result, stream) -> None:
    for msg in result.errors + result.warnings:
        print(str(msg), file=stream)


def cmd_validate(files: list[str], as_json: bool) -> int:
    result = _load(files)
    if as_json:
        print(json.dumps({"files": files, "successful": result.ok,
                          "errors": [m.to_dict() for m in result.errors],
                          "warnings": [m.to_dict() for m in result.warnings]}, indent=2))
    else:
        _print_messages(result, sys.stdout)
        if not result.ok:
            print(f"Invalid: {len(result.errors)} error(s), {len(result.warnings)} warning(s)")
        else:
            extra = f", with {len(result.warnings)} warning(s)" if result.warnings else ""
            print(f"Ok: {len(result.ruleset.rules)} rule(s){extra}")
    return 0 if result.ok else 1


def _event_types(rule):
    if rule.evttypes is None:
        return "all"
    from .events.evttypes import type_name
    return sorted(type_name(i) for i in rule.evttypes)


def cmd_list(files: list[str], as_json: bool) -> int:
    result = _load(files)
    if not result.ok:
        _print_messages(result, sys.stderr)
        return 1
    rows = [{"name": r.name, "priority": r.priority.label(), "enabled": r.enabled,
             "tags": list(r.tags), "source": r.source, "event_types": _event_types(r),
             "desc": r.desc} for r in result.ruleset.rules]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        types = row["event_types"]
        types = types if types == "all" else ",".join(types)
        state = "" if row["enabled"] else "  (disabled)"
        print(f"{row['name']}  [{row['priority']}]{state}\n    event types: {types}")
    return 0


def cmd_fields(as_json: bool) -> int:
    from .events.fields import describe_fields
    rows = describe_fields()
    if as_json:
        print(json.dumps([{"name": n, "type": t, "arg": a, "desc": d} for n, t, a, d in rows],
                         indent=2))
        return 0
    for name, ftype, arg, desc in rows:
        head = f"{name} ({ftype})" + (f" {arg}" if arg else "")
        print(f"{head}\n    {desc}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sensor",
        description="Runtime-security sensor speaking Falco's rules language: live capture "
                    "with eBPF ('sensor run', the default: needs root), replay of .scap "
                    "traces ('sensor replay'), checking and listing rules files, listing "
                    "fields.")
    p.add_argument("-V", dest="validate_files", action="append", metavar="FILE",
                   help="validate a rules file (Falco's -V; repeatable)")
    p.add_argument("-r", dest="rules_files", action="append", metavar="FILE",
                   help="rules file or directory, loaded in order (repeatable); for live "
                        "capture the default is the rules/ directory")
    p.add_argument("-L", dest="list_rules", action="store_true",
                   help="list the rules of the -r files (Falco's -L)")
    p.add_argument("--list", dest="list_fields", action="store_true",
                   help="list the fields (Falco's --list)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-e", dest="trace", metavar="TRACE",
                   help="replay a .scap trace with the -r rules (Falco's -e)")
    _replay_options(p, rules=False)
    _live_options(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    rules = sub.add_parser("rules", help="check or list rules files")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    for name, text in (("validate", "load rules files and report errors and warnings with "
                                    "their positions; exit 0 if valid, 1 if not"),
                       ("list", "list the rules the files define, with their event types")):
        a = rules_sub.add_parser(name, help=text, description=text)
        a.add_argument("-r", dest="files", action="append", required=True, metavar="FILE",
                       help="rules file or directory, loaded in the order given (repeatable)")
        a.add_argument("--json", action="store_true", help="print JSON")

    fields = sub.add_parser("fields", help="list the fields conditions and outputs may use")
    fields.add_argument("--json", action="store_true", help="print JSON")

    text = ("capture live with eBPF (root) and send the alerts of the rules to the outputs "
            "(stdout by default; file, syslog, program, HTTP and NATS by configuration); "
            "prints a line containing 'ready' on stderr once capturing; SIGINT/SIGTERM or -M "
            "end it (exit 0), SIGHUP reloads rules and configuration, SIGUSR1 reopens the "
            "output files; exit 2 when live capture is impossible here")
    run = sub.add_parser("run", help="live capture (the default command)", description=text)
    _replay_options(run, rules=True)
    _live_options(run)
    run.add_argument("--json", action="store_true",
                     help="one JSON object per alert (same as -o json_output=true)")

    text = ("replay a .scap trace (sysdig/Falco format, gzip or not) through the rules and "
            "print the alerts; exit 0, or 1 if the trace is corrupt (after the alerts of "
            "the events before the fault)")
    rp = sub.add_parser("replay", help="replay a .scap trace through the rules",
                        description=text)
    rp.add_argument("trace_path", nargs="?", metavar="TRACE", help="the .scap file")
    rp.add_argument("filter", nargs="?", metavar="FILTER",
                    help="with --write: write only the events this condition matches")
    rp.add_argument("-e", dest="trace", metavar="TRACE", help="the .scap file (Falco's -e)")
    _replay_options(rp, rules=True)
    rp.add_argument("--json", action="store_true",
                    help="one JSON object per alert (same as -o json_output=true)")
    rp.add_argument("--workers", type=int, metavar="N",
                    help="evaluate the rules in N worker processes (default: one per CPU; "
                         "1: in this process); alerts come out in event order either way")
    rp.add_argument("--write", metavar="OUT.scap",
                    help="also write the events (those FILTER matches) to a new capture")
    rp.add_argument("--no-progress", action="store_true",
                    help="no progress bar, even on a terminal")
    return p


def _replay_options(p, rules: bool) -> None:
    if rules:
        p.add_argument("-r", dest="rules_files", action="append", metavar="RULES",
                       help="rules file or directory, loaded in order (repeatable); "
                            "default: rules_file of the configuration")
    p.add_argument("-c", dest="config", metavar="CONFIG", help="configuration file (YAML)")
    p.add_argument("-o", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="set a configuration key, e.g. -o priority=warning, "
                        "-o dedup.enabled=false, -o file_output.enabled=true "
                        "(repeatable; keys: docs/OUTPUTS.md, sensor/config.py)")
    p.add_argument("-D", dest="disable", action="append", default=[], metavar="SUBSTRING",
                   help="disable the rules whose names contain SUBSTRING (repeatable)")
    p.add_argument("-t", dest="tags", action="append", default=[], metavar="TAG",
                   help="evaluate only the rules with this tag (repeatable)")
    p.add_argument("-T", dest="notags", action="append", default=[], metavar="TAG",
                   help="disable the rules with this tag (repeatable)")


def _live_options(p) -> None:
    p.add_argument("-M", dest="duration", type=float, metavar="SECONDS",
                   help="stop capturing after SECONDS (Falco's -M)")
    p.add_argument("--workers", dest="live_workers", type=int, metavar="N",
                   help="evaluate the rules in N worker processes (default: one per CPU; "
                        "1: in the capture process)")
    p.add_argument("--write", metavar="OUT.scap",
                   help="also write the captured events to a .scap file")


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # The reader went away (`sensor fields | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args) -> int:
    if args.command == "rules":
        run = cmd_validate if args.rules_command == "validate" else cmd_list
        return run(args.files, args.json)
    if args.command == "fields" or (args.command is None and args.list_fields):
        return cmd_fields(args.json)
    if args.command is None and args.validate_files:
        return cmd_validate(args.validate_files, args.json)
    if args.command is None and args.list_rules:
        if not args.rules_files:
            print("sensor: -L needs at least one -r FILE", file=sys.stderr)
            return 2
        return cmd_list(args.rules_files, args.json)
    from .cli_capture import cmd_replay, cmd_run
    if args.command == "replay" or (args.command is None and args.trace):
        return cmd_replay(args)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
