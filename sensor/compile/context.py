"""The one small object the loading stages share: where to report, and what exists.

`Catalog` is the loader's view of the platform -- which fields and which
event types exist -- read from the field registry (sensor/events/fields.py)
and the event-type table (sensor/events/evttypes.py).  Tests may build one
from plain functions instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .errors import Diagnostics
from .parser import ParseError, parse_field_ref

# The level of Falco's rules language this loader implements, as Falco numbers
# its engine versions (rules files state `required_engine_version`).
ENGINE_VERSION = (0, 57, 0)

# Plugins whose fields are built in: the container plugin's container.* fields.
BUILTIN_PLUGINS = frozenset({"container"})

KNOWN_SOURCES = frozenset({"syscall"})

# Argument modes (fields.Arg values) that cannot go without an argument.
_ARG_REQUIRED = frozenset({"index", "key"})


class FieldProblem(Exception):
    """A field that cannot be used where it is: `unknown` when no such field exists."""

    def __init__(self, message: str, unknown: bool = False):
        super().__init__(message)
        self.message = message
        self.unknown = unknown


@dataclass
class Catalog:
    # lookup(name, arg) -> (Field, arg_text) | None   (the field registry's contract)
    lookup: Callable
    type_id: Callable[[str], Optional[int]]
    type_name: Callable[[int], str]
    all_type_ids: Callable[[], object]

    @classmethod
    def default(cls) -> "Catalog":
        from ..events import evttypes, fields
        return cls(fields.lookup, evttypes.type_id, evttypes.type_name, evttypes.all_type_ids)

    def check_field(self, name: str, arg: Optional[str], in_output: bool = False) -> None:
        """Raise FieldProblem unless the field exists, its argument fits, and it may
        be used in a condition (or an output)."""
        found = self.lookup(name, arg)
        if found is None:
            raise FieldProblem(f"filter_check called with nonexistent field {name}", unknown=True)
        field, arg_text = found
        if in_output and getattr(field, "filter_only", False):
            raise FieldProblem(f"{name} can be used in conditions only, not in outputs")
        if not in_output and getattr(field, "output_only", False):
            raise FieldProblem(f"{name} can be used in outputs only, not in conditions")
        mode = getattr(getattr(field, "arg", None), "value", None)
        if arg_text is None:
            if mode in _ARG_REQUIRED:
                raise FieldProblem(f"{name} needs an argument, e.g. {name}[X]")
            return
        resolve = getattr(field, "resolve_arg", None)
        if resolve is not None:
            try:
                resolve(arg_text)
            except ValueError as e:
                raise FieldProblem(str(e)) from None

    def field_known(self, text: str) -> bool:
        """Whether `text` (e.g. "proc.aname[2]") names a usable field: for exception fields."""
        try:
            ref = parse_field_ref(text)
            self.check_field(ref.name, ref.arg)
            return True
        except (ParseError, FieldProblem):
            return False


class LoadContext:
    """What every stage gets: the diagnostics to report into and the catalog."""

    def __init__(self, catalog: Optional[Catalog] = None, diag: Optional[Diagnostics] = None,
                 sources: frozenset = KNOWN_SOURCES, engine_version: tuple = ENGINE_VERSION):
        self.diag = diag or Diagnostics()
        self.sources = sources
        self.engine_version = engine_version
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:            # the real registry, loaded on first use
            self._catalog = Catalog.default()
        return self._catalog
