"""Falco's own conformance cases, run against this loader.

Reads ../shared/conformance/falco/falco_tests.yaml and falco_tests_exceptions.yaml
(Falco's regression suites: each case under a `!mux` mapping) and runs every
case that needs no trace: the ones that validate rules files
(`validate_rules_file`) and check the errors, warnings, files that must be
ok on their own, event types per rule, and the exit status of validation.
Cases that need a trace file are skipped with the reason.

    python tests/conformance.py          # one line per case, then the counts
"""
from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT / ".." / "shared"
FALCO = SHARED / "conformance" / "falco"
SUITES = ("falco_tests.yaml", "falco_tests_exceptions.yaml")

TRACE_REASON = "needs trace replay (issue 3)"


class _MuxLoader(yaml.SafeLoader):
    """Falco's test files tag their case table `!mux` (an avocado multiplexer)."""


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


@dataclass
class Case:
    suite: str
    name: str
    spec: dict

    @property
    def id(self) -> str:
        return f"{self.suite}:{self.name}"


@dataclass
class Outcome:
    case: Case
    status: str                      # pass | skip | fail
    reasons: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)   # parts of a passing case not run

    def line(self) -> str:
        text = f"{self.status.upper():4} {self.case.id}"
        if self.reasons:
            text += ": " + "; ".join(self.reasons)
        if self.unchecked:
            text += f" (not checked: {', '.join(self.unchecked)})"
        return text


def available() -> bool:
    return all((FALCO / s).is_file() for s in SUITES)


def load_cases(root: Path = FALCO) -> list[Case]:
    cases = []
    for suite in SUITES:
        with open(root / suite) as f:
            doc = yaml.load(f, Loader=_MuxLoader)
        for name, spec in doc["trace_files"].items():
            cases.append(Case(Path(suite).stem, name, spec or {}))
    return cases


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _matches(expected: dict, msg) -> bool:
    if msg.code != expected.get("code") or msg.item_type != expected.get("item_type"):
        return False
    if msg.item_name != (expected.get("item_name") or ""):
        return False
    if "message" in expected:
        return msg.message == expected["message"]
    return expected.get("message_contains", "") in msg.message


def _check_messages(kind: str, expected: list, actual: list) -> list[str]:
    problems = []
    for exp in expected:
        if not any(_matches(exp, m) for m in actual):
            got = "; ".join(f"{m.code} ({m.item_type} '{m.item_name}'): {m.message}"
                            for m in actual) or "none"
            problems.append(f"missing {kind} {exp} (got: {got})")
    return problems


def _load(files: list[Path], catalog):
    from sensor.compile.loader import Loader
    loader = Loader(catalog)
    for f in files:
        loader.add_path(str(f))
    return loader.finish()


def _exit_status(files: list[Path]) -> int:
    from sensor import cli
    argv = ["rules", "validate"] + [a for f in files for a in ("-r", str(f))]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(argv)


def _check_events(expected: list, result, catalog) -> list[str]:
    if result.ruleset is None:
        return ["rules_events: the rules did not load"]
    by_name = {r.name: r for r in result.ruleset.rules}
    problems = []
    for entry in expected:
        for rule, types in entry.items():
            r = by_name.get(rule)
            if r is None:
                problems.append(f"rules_events: no rule {rule}")
                continue
            got = ["all"] if r.evttypes is None else sorted(catalog.type_name(i)
                                                            for i in r.evttypes)
            if sorted(set(types)) != got:
                problems.append(f"rules_events: {rule}: expected {sorted(set(types))}, got {got}")
    return problems


def run_case(case: Case, catalog=None, root: Path = FALCO) -> Outcome:
    spec = case.spec
    files = [root / f for f in _as_list(spec.get("validate_rules_file"))]
    if not files:
        return Outcome(case, "skip", [TRACE_REASON if "trace_file" in spec
                                      else "not a rules-validation case"])
    if catalog is None:
        from sensor.compile.context import Catalog
        catalog = Catalog.default()
    result = _load(files, catalog)
    problems = []
    problems += _check_messages("error", _as_list(spec.get("validate_errors")), result.errors)
    problems += _check_messages("warning", _as_list(spec.get("validate_warnings")),
                                result.warnings)
    for ok_name in _as_list(spec.get("validate_ok")):
        prefix = files[:[f.name for f in files].index(ok_name) + 1]
        alone = _load(prefix, catalog)
        if not alone.ok:
            problems.append(f"validate_ok: {ok_name} has errors: {alone.errors[0]}")
    if spec.get("rules_events"):
        problems += _check_events(spec["rules_events"], result, catalog)
    expected_exit = spec.get("exit_status", 0)
    got_exit = _exit_status(files)
    if got_exit != expected_exit:
        problems.append(f"exit status {got_exit}, expected {expected_exit}")
    unchecked = []
    if "detect" in spec or "detect_counts" in spec:
        unchecked.append("detections: " + TRACE_REASON)
    return Outcome(case, "fail" if problems else "pass", problems, unchecked)


def run_all(catalog=None) -> list[Outcome]:
    return [run_case(c, catalog) for c in load_cases()]


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts = {"pass": 0, "skip": 0, "fail": 0}
    for o in outcomes:
        counts[o.status] += 1
    return counts


def main(argv: Optional[list[str]] = None) -> int:
    if not available():
        print(f"conformance cases not found under {FALCO}")
        return 2
    outcomes = run_all()
    for o in outcomes:
        print(o.line())
    counts = summary(outcomes)
    print(f"\n{counts['pass']} passed, {counts['skip']} skipped, {counts['fail']} failed")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
