"""The `sensor` command.

    sensor rules validate -r FILE [-r FILE ...] [--json]   check rules files (exit 0 valid, 1 not)
    sensor rules list -r FILE [-r FILE ...] [--json]       the rules they define
    sensor fields [--json]                                 the fields conditions and outputs may use
    sensor run | sensor replay                             not in this build yet (exit 2)

Falco's short forms work too: `sensor -V FILE` validates, `sensor -r FILE -L`
lists rules, `sensor --list` lists fields.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

NOT_YET_LIVE = ("sensor: live capture is not available in this build yet; "
                "use 'sensor rules validate' or 'sensor rules list'")
NOT_YET_REPLAY = ("sensor: trace replay is not available in this build yet; "
                  "use 'sensor rules validate' or 'sensor rules list'")


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
        description="Runtime-security sensor speaking Falco's rules language. This build "
                    "checks and lists rules files and lists fields; live capture "
                    "('sensor run') and trace replay ('sensor replay') are not available yet.")
    p.add_argument("-V", dest="validate_files", action="append", metavar="FILE",
                   help="validate a rules file (Falco's -V; repeatable)")
    p.add_argument("-r", dest="rules_files", action="append", metavar="FILE",
                   help="rules file or directory, for -L (repeatable)")
    p.add_argument("-L", dest="list_rules", action="store_true",
                   help="list the rules of the -r files (Falco's -L)")
    p.add_argument("--list", dest="list_fields", action="store_true",
                   help="list the fields (Falco's --list)")
    p.add_argument("--json", action="store_true", help="print JSON")
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

    sub.add_parser("run", help="live capture (not available in this build yet)")
    sub.add_parser("replay", help="replay a trace file (not available in this build yet)")
    return p


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
    print(NOT_YET_REPLAY if args.command == "replay" else NOT_YET_LIVE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
