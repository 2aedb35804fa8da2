"""Falco's own conformance cases, run against this loader.

Reads ../shared/conformance/falco/falco_tests.yaml and falco_tests_exceptions.yaml
(Falco's regression suites: each case under a `!mux` mapping) and runs every
case that needs no trace: the ones that validate rules files
(`validate_rules_file`) and check the errors, warnings, files that must be
ok on their own, event types per rule, and the exit status of validation;
and the trace cases, which run `sensor replay` in-process (the CLI, so flags,
exit status and messages are checked too) and compare the alerts with the
case's expectations the way Falco's harness does: `detect` (any alert),
`detect_level` (an alert at each level), `detect_counts` (alerts per rule),
`stdout_contains`/`stderr_contains` (regex searches), `exit_status`.
A case whose trace or expected-output file is not in ../shared, or which
needs a part of Falco this sensor does not have, is skipped with the reason.

    python tests/conformance.py          # one line per case, then the counts
"""
from __future__ import annotations

import contextlib
import io
import json
import re
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

# Falco's rules of the era of these cases, used when a case names no rules file.
DEFAULT_RULES = SHARED / "rulesets" / "falco-0.31.1" / "falco_rules.yaml"
# Case keys that need something this sensor does not have (reason given).
UNSUPPORTED = {
    "grpc": "Falco's gRPC output is not part of this sensor",
}


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
        if "trace_file" in spec:
            return run_trace_case(case, root)
        return Outcome(case, "skip", ["not a rules-validation or trace case"])
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
    return Outcome(case, "fail" if problems else "pass", problems)


# ---------------------------------------------------------------- trace cases

def _replay_argv(spec: dict, root: Path) -> tuple[list[str], list[str]]:
    """The `sensor replay` command line for a case, and the parts left unchecked."""
    # --workers 1: the cases run in this process and read the alerts from its
    # sys.stdout, which a forked output process would not write to.  No dedup:
    # Falco's expected counts are one alert per match.
    argv = ["replay", str(root / spec["trace_file"]), "--no-progress", "--workers", "1",
            "-o", "dedup.enabled=false"]
    rules = _as_list(spec.get("rules_file")) or [None]
    for r in rules:
        argv += ["-r", str(DEFAULT_RULES if r is None else root / r)]
    unchecked = []
    if spec.get("conf_file"):
        argv += ["-c", str(root / spec["conf_file"])]
    for key, opt in (("json_output", "json_output"), ("time_iso_8601", "time_format_iso_8601"),
                     ("json_include_output_property", "json_include_output_property"),
                     ("json_include_tags_property", "json_include_tags_property")):
        if key in spec:
            argv += ["-o", f"{opt}={str(bool(spec[key])).lower()}"]
    if spec.get("priority"):
        argv += ["-o", f"priority={spec['priority']}"]
    for flag, key in (("-D", "disabled_rules"), ("-t", "run_tags"), ("-T", "disable_tags")):
        for v in _as_list(spec.get(key)):
            argv += [flag, str(v)]
    for dest, expected in _output_files(spec):
        if not (root / expected).is_file():
            unchecked.append(f"output of {dest}: {expected} is not in ../shared (compared "
                             "with the alerts on stdout instead)")
    return argv, unchecked


def _output_files(spec: dict) -> list:
    """(file a sink writes, the file of its expected content) of a case."""
    return [(dest, expected) for entry in _as_list(spec.get("output_strictly_contains"))
            for dest, expected in entry.items()]


def _prepare_output_files(spec: dict) -> None:
    """As Falco's harness does: the sinks' directory exists, no file from before."""
    for dest, _ in _output_files(spec):
        if dest == "stdout":
            continue
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).unlink(missing_ok=True)


def _check_output_files(spec: dict, root: Path, stdout: str) -> list:
    """Each sink's file holds exactly the expected lines, or (without them in
    ../shared) exactly the alerts printed on stdout."""
    problems = []
    alerts = [ln for ln in stdout.splitlines() if ": " in ln and ln[:1].isdigit()]
    for dest, expected in _output_files(spec):
        try:
            got = alerts if dest == "stdout" else Path(dest).read_text().splitlines()
        except OSError as e:
            problems.append(f"output file {dest}: {e.strerror}")
            continue
        want_path = root / expected
        want = want_path.read_text().splitlines() if want_path.is_file() else alerts
        if got != want:
            problems.append(f"output file {dest}: {len(got)} lines, expected {len(want)} "
                            f"({(got or ['(empty)'])[0][:120]!r})")
    return problems


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    from sensor import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:          # argparse errors
            code = e.code if isinstance(e.code, int) else 2
    return code, out.getvalue(), err.getvalue()


_SUMMARY_RULE = re.compile(r"^   (.+): (\d+)$", re.M)
_PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice",
               "Informational", "Debug")


def _alerts(stdout: str) -> list[tuple[str, Optional[str]]]:
    """(priority, rule or None) of each alert line, text or JSON."""
    found = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            found.append((doc["priority"], doc["rule"]))
            continue
        m = re.match(r"^\S+: (\w+) ", line)
        if m and m.group(1) in _PRIORITIES:
            found.append((m.group(1), None))
    return found


def _check_detections(spec: dict, stdout: str, stderr: str) -> list[str]:
    from sensor.compile.rule import Priority
    # Falco counts rule detections ("Events detected"), not its own internal alerts
    alerts = _alerts("\n".join(x for x in stdout.splitlines() if "Falco internal:" not in x))
    by_rule = {m.group(1): int(m.group(2)) for m in _SUMMARY_RULE.finditer(stderr)}
    problems = []
    detect = spec.get("detect", False)
    if detect and not alerts:
        problems.append("detect: expected alerts, got none")
    if not detect and alerts:
        problems.append(f"detect: expected no alert, got {len(alerts)}")
    if detect:
        for level in _as_list(spec.get("detect_level")):
            want = Priority.parse(str(level))
            if not any(Priority.parse(p) == want for p, _ in alerts):
                problems.append(f"detect_level: no alert at {level} "
                                f"(got {sorted({p for p, _ in alerts})})")
    for entry in _as_list(spec.get("detect_counts")):
        for rule, count in entry.items():
            if by_rule.get(rule, 0) != count:
                problems.append(f"detect_counts: {rule}: expected {count}, "
                                f"got {by_rule.get(rule, 0)}")
    return problems


def _check_text(kind: str, patterns, text: str, present: bool) -> list[str]:
    problems = []
    for pat in _as_list(patterns):
        found = re.search(pat, text) is not None      # as Falco's harness: no re.M
        if found != present:
            problems.append(f"{kind}: {'no match' if present else 'unexpected match'} "
                            f"for {pat!r}")
    return problems


def run_trace_case(case: Case, root: Path = FALCO) -> Outcome:
    spec = case.spec
    for key, reason in UNSUPPORTED.items():
        if key in spec:
            return Outcome(case, "skip", [reason])
    trace = root / spec["trace_file"]
    if not trace.is_file():
        return Outcome(case, "skip", [f"trace {spec['trace_file']} is not in ../shared"])
    if not spec.get("rules_file") and not DEFAULT_RULES.is_file():
        return Outcome(case, "skip", [f"default rules {DEFAULT_RULES.name} not in ../shared"])
    argv, unchecked = _replay_argv(spec, root)
    _prepare_output_files(spec)
    code, stdout, stderr = _run_cli(argv)
    problems = _check_output_files(spec, root, stdout) if code == 0 else []
    expected_exit = spec.get("exit_status", 0)
    if code != expected_exit:
        problems.append(f"exit status {code}, expected {expected_exit}: {stderr[-300:]}")
    if code == 0:
        problems += _check_detections(spec, stdout, stderr)
    problems += _check_text("stdout_contains", spec.get("stdout_contains"), stdout, True)
    problems += _check_text("stdout_not_contains", spec.get("stdout_not_contains"), stdout,
                            False)
    problems += _check_text("stderr_contains", spec.get("stderr_contains"), stderr, True)
    problems += _check_text("stderr_not_contains", spec.get("stderr_not_contains"), stderr,
                            False)
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
