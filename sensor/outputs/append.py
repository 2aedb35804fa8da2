"""Falco's append_output: extra output text and fields for the rules an entry matches.

    append_output:
      - match: {source: syscall, tags: [network], rule: "Some rule"}   # all optional
        extra_output: "on CPU %evt.cpu"       # appended to the text, after a space
        extra_fields:                         # JSON output_fields only
          - evt.hostname                      # a field, by name
          - home: "${HOME}"                   # a name and a format (text and %fields)

Entries apply in order.  A match condition left out matches every rule; tags
match when the rule has all of them.  Errors name the entry and the key.
"""
from __future__ import annotations

from ..compile.output_format import OutputError, parse_output


class AppendOutputError(ValueError):
    pass


def apply_append_output(engine, entries) -> int:
    """Extend the engine's rules; returns how many (rule, entry) pairs applied."""
    if not entries:
        return 0
    if not isinstance(entries, list):
        raise AppendOutputError("append_output: expected a list of entries")
    check = engine.check_output_field
    applied = 0
    for n, entry in enumerate(entries):
        where = f"append_output[{n}]"
        match, extra_output, extra_fields = _entry(entry, where)
        fields = [(name, _parse(fmt, check, f"{where}.extra_fields.{name}"))
                  for name, fmt in extra_fields]
        for rule in engine.rules:
            if not _matches(rule, match):
                continue
            if extra_output:
                rule.output = _parse(f"{rule.output.text} {extra_output}", check,
                                     f"{where}.extra_output")
            rule.extra_fields = tuple(rule.extra_fields) + tuple(fields)
            applied += 1
    return applied


def _entry(entry, where: str):
    if not isinstance(entry, dict):
        raise AppendOutputError(f"{where}: expected a mapping")
    unknown = set(entry) - {"match", "extra_output", "extra_fields"}
    if unknown:
        raise AppendOutputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    match = entry.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"source", "tags", "rule"}:
        raise AppendOutputError(f"{where}.match: expected source, tags and/or rule")
    tags = match.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise AppendOutputError(f"{where}.match.tags: expected a list of tags")
    extra_output = entry.get("extra_output") or ""
    if not isinstance(extra_output, str):
        raise AppendOutputError(f"{where}.extra_output: expected a string")
    fields = []
    for item in entry.get("extra_fields") or []:
        if isinstance(item, str):
            fields.append((item, "%" + item))
        elif isinstance(item, dict) and len(item) == 1:
            (name, fmt), = item.items()
            fields.append((str(name), str(fmt)))
        else:
            raise AppendOutputError(f"{where}.extra_fields: each item is a field name or "
                                    "one `name: format` pair")
    return match, extra_output.strip(), fields


def _matches(rule, match: dict) -> bool:
    if "source" in match and rule.source != match["source"]:
        return False
    if "rule" in match and rule.name != match["rule"]:
        return False
    return set(match.get("tags") or ()) <= set(rule.tags)


def _parse(text: str, check, where: str):
    try:
        return parse_output(text, check)
    except OutputError as e:
        raise AppendOutputError(f"{where}: {e.message} (at offset {e.offset} of {text!r})") \
            from None
