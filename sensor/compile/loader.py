"""Front end: rules files, directories or texts -> RuleSet.

    ruleset = load_paths(["/etc/sensor/falco_rules.yaml", "/etc/sensor/rules.d"])
    ruleset = load_texts([("inline", "- rule: ...")])

Sources load in order, as Falco loads several `-r` files: later ones see the
lists, macros and rules of earlier ones and may append to or override them.
A directory stands for its regular files, sorted by name.  Each file goes
through the reader and the collector; the first file with an error stops
the loading (as in Falco); then the compiler builds the rules.

Errors raise RulesError carrying every error and warning; `Loader.finish()`
returns them instead, for tools that report rather than fail.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .collector import Collector
from .compiler import compile_ruleset
from .context import Catalog, LoadContext
from .errors import LOAD_ERR_FILE_READ, LoadMessage, RulesError, Where
from .reader import read
from .rule import RuleSet


@dataclass
class LoadResult:
    ruleset: Optional[RuleSet]           # None when there were errors
    errors: list[LoadMessage]
    warnings: list[LoadMessage]
    sources: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Loader:
    def __init__(self, catalog: Optional[Catalog] = None, ctx: Optional[LoadContext] = None):
        self.ctx = ctx or LoadContext(catalog=catalog)
        self.collector = Collector(self.ctx)
        self.sources: list[str] = []
        self._stopped = False

    def add_text(self, name: str, text: str) -> "Loader":
        self.sources.append(name)
        if self._stopped:
            return self
        for decl in read(name, text, self.ctx.diag):
            if not self.collector.add(decl):
                break
        self._stopped = self.ctx.diag.failed
        return self

    def add_path(self, path: str) -> "Loader":
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                full = os.path.join(path, entry)
                if os.path.isfile(full):
                    self.add_path(full)
            return self
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            self.sources.append(path)
            self.ctx.diag.report(LOAD_ERR_FILE_READ, Where("rules content", "", path),
                                 f"Could not read file: {e}")
            self._stopped = True
            return self
        return self.add_text(path, text)

    def finish(self) -> LoadResult:
        ruleset = None
        if not self.ctx.diag.failed:
            ruleset = compile_ruleset(self.collector, self.ctx)
            if self.ctx.diag.failed:
                ruleset = None
        diag = self.ctx.diag
        return LoadResult(ruleset, list(diag.errors), list(diag.warnings), list(self.sources))

    def compile(self) -> RuleSet:
        result = self.finish()
        if not result.ok:
            raise RulesError(result.errors, result.warnings)
        return result.ruleset


def load_paths(paths: Iterable[str], catalog: Optional[Catalog] = None) -> RuleSet:
    """Load rules files and directories in order; raises RulesError."""
    loader = Loader(catalog)
    for p in paths:
        loader.add_path(p)
    return loader.compile()


def load_texts(sources: Iterable[tuple[str, str]], catalog: Optional[Catalog] = None) -> RuleSet:
    """Load (name, YAML text) pairs in order; raises RulesError."""
    loader = Loader(catalog)
    for name, text in sources:
        loader.add_text(name, text)
    return loader.compile()
