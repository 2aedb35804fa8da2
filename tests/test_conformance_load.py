"""Falco's conformance cases (../shared/conformance/falco).

Each case of falco_tests.yaml and falco_tests_exceptions.yaml is one test:
cases that validate rules files check errors, warnings, files that must be ok,
event types per rule and exit status; trace cases replay their trace through
`sensor replay` and check the detections (tests/conformance.py).  Cases that
cannot run here skip with their reason.
"""
from __future__ import annotations

import pytest

import conformance

if conformance.available():
    CASES = conformance.load_cases()
else:
    CASES = []

pytestmark = pytest.mark.skipif(not conformance.available(),
                                reason=f"conformance cases not found under {conformance.FALCO}")


_OUTCOMES: dict = {}


def outcome_of(case):
    if case.id not in _OUTCOMES:
        _OUTCOMES[case.id] = conformance.run_case(case)
    return _OUTCOMES[case.id]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case):
    outcome = outcome_of(case)
    if outcome.status == "skip":
        pytest.skip("; ".join(outcome.reasons))
    assert outcome.status == "pass", "\n".join(outcome.reasons)


DETECTION_RULES = [c for c in CASES
                   if c.spec.get("rules_file") and not c.spec.get("validate_rules_file")]


@pytest.mark.parametrize("case", DETECTION_RULES, ids=lambda c: c.id)
def test_rules_of_trace_cases_load(case):
    """The rules every trace case uses load cleanly on their own."""
    from sensor.compile.loader import Loader
    loader = Loader()
    for f in conformance._as_list(case.spec["rules_file"]):
        loader.add_path(str(conformance.FALCO / f))
    result = loader.finish()
    assert result.ok, "\n".join(str(e) for e in result.errors)


def test_counts_are_reported():
    outcomes = [outcome_of(c) for c in CASES]
    counts = conformance.summary(outcomes)
    assert counts["fail"] == 0
    assert counts["pass"] >= 132
    assert all(o.reasons for o in outcomes if o.status == "skip")
