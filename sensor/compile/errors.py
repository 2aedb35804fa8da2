"""Load-time errors and warnings, with Falco's codes and a position in the source.

Every problem found while loading rules -- broken YAML, a missing key, a
condition that does not parse, an unknown field -- becomes one `LoadMessage`:
a stable code (Falco's, so scripts written against `falco -V` keep working),
the item it is about, a message, and the file/line/column of the offending
text with that source line as a snippet.  Codes starting with LOAD_ERR_ are
errors; all others are warnings.

`Diagnostics` is what the loader stages pass around to report into: it also
keeps the text of every loaded file, so a message can quote its source line.
`RulesError` is raised at the end when there was at least one error; it
carries every error and every warning and survives pickling (it crosses
process boundaries with the workers).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# Errors: the rules cannot be used.
LOAD_ERR_FILE_READ = "LOAD_ERR_FILE_READ"
LOAD_ERR_YAML_PARSE = "LOAD_ERR_YAML_PARSE"
LOAD_ERR_YAML_VALIDATE = "LOAD_ERR_YAML_VALIDATE"
LOAD_ERR_COMPILE_CONDITION = "LOAD_ERR_COMPILE_CONDITION"
LOAD_ERR_COMPILE_OUTPUT = "LOAD_ERR_COMPILE_OUTPUT"
LOAD_ERR_VALIDATE = "LOAD_ERR_VALIDATE"
LOAD_ERR_EXTENSION = "LOAD_ERR_EXTENSION"

# Warnings: the rules load, but something deserves a look.
LOAD_UNKNOWN_SOURCE = "LOAD_UNKNOWN_SOURCE"
LOAD_UNSAFE_NA_CHECK = "LOAD_UNSAFE_NA_CHECK"
LOAD_NO_EVTTYPE = "LOAD_NO_EVTTYPE"
LOAD_UNKNOWN_FIELD = "LOAD_UNKNOWN_FIELD"     # Falco >= 0.36 spells it LOAD_UNKNOWN_FILTER
LOAD_UNUSED_MACRO = "LOAD_UNUSED_MACRO"
LOAD_UNUSED_LIST = "LOAD_UNUSED_LIST"
LOAD_UNKNOWN_ITEM = "LOAD_UNKNOWN_ITEM"
LOAD_DEPRECATED_ITEM = "LOAD_DEPRECATED_ITEM"
LOAD_WARNING_EXTENSION = "LOAD_WARNING_EXTENSION"
LOAD_APPEND_NO_VALUES = "LOAD_APPEND_NO_VALUES"
LOAD_EXCEPTION_NAME_NOT_UNIQUE = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
LOAD_INVALID_MACRO_NAME = "LOAD_INVALID_MACRO_NAME"
LOAD_INVALID_LIST_NAME = "LOAD_INVALID_LIST_NAME"
LOAD_COMPILE_CONDITION = "LOAD_COMPILE_CONDITION"


@dataclass(frozen=True)
class Where:
    """The item a message is about and where its text is: 1-based line and column (0: unknown)."""
    item_type: str = ""
    item_name: str = ""
    file: str = ""
    line: int = 0
    column: int = 0

    def at(self, file: str, line: int, column: int) -> "Where":
        return Where(self.item_type, self.item_name, file, line, column)


@dataclass(frozen=True)
class LoadMessage:
    code: str
    item_type: str
    item_name: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    snippet: str = ""             # the source line at `line` (Falco's "context")
    notes: tuple[str, ...] = ()   # extra lines, e.g. which macro the text came from

    @property
    def is_error(self) -> bool:
        return self.code.startswith("LOAD_ERR_")

    def location(self) -> str:
        if not self.file:
            return "<rules>"
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        item = f" ({self.item_type} '{self.item_name}')" if self.item_type else ""
        lines = [f"{self.location()}: {self.code}{item}: {self.message}"]
        lines += [f"    {note}" for note in self.notes]
        if self.snippet:
            text = self.snippet.expandtabs(1)
            lines.append("    " + text)
            if self.column > 0:
                lines.append("    " + " " * (self.column - 1) + "^")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self) | {"notes": list(self.notes)}


class Diagnostics:
    """Collects messages from every loading stage; knows file texts for snippets."""

    def __init__(self) -> None:
        self.errors: list[LoadMessage] = []
        self.warnings: list[LoadMessage] = []
        self.sources: dict[str, str] = {}

    def add_source(self, name: str, text: str) -> None:
        self.sources[name] = text

    def source_line(self, file: str, line: int) -> str:
        text = self.sources.get(file)
        if text is None or line <= 0:
            return ""
        lines = text.splitlines()
        return lines[line - 1] if line <= len(lines) else ""

    def report(self, code: str, where: Where, message: str, notes: tuple[str, ...] = ()) -> LoadMessage:
        msg = LoadMessage(code, where.item_type, where.item_name, message, where.file,
                          where.line, where.column, self.source_line(where.file, where.line), notes)
        (self.errors if msg.is_error else self.warnings).append(msg)
        return msg

    @property
    def failed(self) -> bool:
        return bool(self.errors)


class RulesError(Exception):
    """Loading failed: `.errors` (at least one) and the `.warnings` met on the way."""

    def __init__(self, errors, warnings=()):
        self.errors = list(errors)
        self.warnings = list(warnings)
        super().__init__(self._summary())

    def _summary(self) -> str:
        n = len(self.errors)
        head = f"{n} error{'s' if n != 1 else ''} loading rules"
        return "\n".join([head] + [str(e) for e in self.errors])

    def __reduce__(self):
        return (RulesError, (self.errors, self.warnings))
