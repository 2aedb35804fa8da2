"""The rules loader: YAML items, lists, macros, appends/overrides, exceptions, positions."""
from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor.compile.context import Catalog
from sensor.compile.errors import RulesError
from sensor.compile.evttype import event_types
from sensor.compile.loader import Loader, load_texts
from sensor.compile.parser import parse_condition
from sensor.compile.printer import format_expr
from sensor.compile.rule import Priority
from sensor.events import evttypes

SHARED = Path(__file__).parents[1] / ".." / "shared"
RULESETS = SHARED / "rulesets"

# A small field table: enough for these tests, independent of the real registry.
_FIELDS = {"evt.type", "evt.dir", "evt.res", "evt.rawres", "evt.args", "evt.is_open_write",
           "proc.name", "proc.pname", "proc.cmdline", "proc.exepath", "proc.pid", "proc.ppid",
           "proc.aname", "proc.env", "fd.name", "fd.num", "fd.typechar", "fd.directory",
           "user.name", "container.id", "container.name"}


def _fake_lookup(name, arg=None):
    if name in _FIELDS:
        return name, arg
    if arg is None and name.startswith("evt.arg."):
        return "evt.arg", name[len("evt.arg."):]
    return None


FAKE = Catalog(_fake_lookup, evttypes.type_id, evttypes.type_name, evttypes.all_type_ids)


def load(*texts: str, catalog=FAKE):
    loader = Loader(catalog)
    for i, text in enumerate(texts):
        loader.add_text(f"file{i}.yaml", textwrap.dedent(text))
    return loader.finish()


def ok(*texts: str):
    result = load(*texts)
    assert result.ok, "\n".join(str(e) for e in result.errors)
    return result.ruleset


def rule(ruleset, name):
    return next(r for r in ruleset.rules if r.name == name)


def cond(ruleset, name):
    return format_expr(rule(ruleset, name).condition)


def codes(messages):
    return [m.code for m in messages]


RULE = ("\n"
        "        - rule: {name}\n"
        "          desc: d\n"
        "          condition: {condition}\n"
        "          output: out\n"
        "          priority: WARNING\n")


def a_rule(condition, name="r"):
    return RULE.format(name=name, condition=condition)


# ---------------------------------------------------------------- lists


def test_lists_nest_at_any_depth():
    rs = ok("""
        - list: a
          items: [x]
        - list: b
          items: [a, y]
        - list: c
          items: [b, z]
        """ + a_rule("evt.type=open and proc.name in (c, w)"))
    assert cond(rs, "r") == "evt.type = open and proc.name in (x, y, z, w)"


def test_a_list_sees_only_lists_defined_before_it():
    rs = ok("""
        - list: b
          items: [a, y]
        - list: a
          items: [x]
        """ + a_rule("evt.type=open and proc.name in (b)"))
    assert cond(rs, "r") == "evt.type = open and proc.name in (a, y)"


def test_list_loop_leaves_the_name_as_a_value_like_falco():
    result = load("""
        - list: list_a
          items: [open]
        - list: list_b
          items: [list_a]
        - list: list_a
          items: [list_b]
        """ + a_rule("evt.type in (list_a)", "sample rule"))
    assert [(e.code, e.item_name, e.message) for e in result.errors] == \
        [("LOAD_ERR_COMPILE_CONDITION", "sample rule", "unknown event type list_a")]


def test_list_name_as_a_single_value():
    rs = ok("""
        - list: cat_binaries
          items: [cat]
        """ + a_rule("evt.type=open and (proc.name=cat_binaries or proc.name='cat_binaries')"))
    assert cond(rs, "r") == 'evt.type = open and (proc.name = cat or proc.name = "cat_binaries")'
    result = load("""
        - list: two
          items: [a, b]
        """ + a_rule("evt.type=open and proc.name=two"))
    assert result.errors[0].message == "list 'two' has 2 items but is used as a single value of '='"


def test_list_items_keep_falco_quoting_and_stay_values():
    rs = ok("""
        - list: nets
          items: ['"10.0.0.0/8"', "cat /dev/null", '"); import os', "it's"]
        """ + a_rule("evt.type=open and proc.cmdline in (nets)"))
    assert cond(rs, "r") == ('evt.type = open and proc.cmdline in '
                             '("10.0.0.0/8", "cat /dev/null", "\\"); import os", "it\'s")')


def test_list_append_and_redefinition():
    rs = ok("""
        - list: l
          items: [a]
        - list: l
          append: true
          items: [b]
        - list: m
          items: [x]
        - list: m
          items: [y]
        - list: n
          items: [p]
        - list: n
          override:
            items: append
          items: [q]
        """ + a_rule("evt.type=open and proc.name in (l, m, n)"))
    assert cond(rs, "r") == "evt.type = open and proc.name in (a, b, y, p, q)"


# ---------------------------------------------------------------- macros


def test_macro_loop_is_an_error_on_the_macro():
    result = load("""
        - macro: macro_a
          condition: evt.type=open
        - macro: macro_b
          condition: macro_a
        - macro: macro_a
          condition: macro_b
        """)
    loop = [e for e in result.errors if "reference loop in macro" in e.message]
    assert loop and loop[0].item_type == "macro" and loop[0].item_name == "macro_a"
    assert loop[0].code == "LOAD_ERR_VALIDATE"


def test_undefined_macro_points_at_the_reference():
    result = load("""
        - rule: r
          desc: d
          condition: >
            evt.type = open and
              nope_macro
          output: out
          priority: INFO
        """)
    err = result.errors[0]
    assert (err.code, err.message) == ("LOAD_ERR_VALIDATE", "Undefined macro 'nope_macro' used in filter.")
    assert (err.file, err.line, err.column) == ("file0.yaml", 6, 7)
    assert err.snippet == "      nope_macro"
    assert str(err).splitlines()[-1] == "          ^"


def test_macros_see_earlier_macros_rules_see_all():
    result = load("""
        - macro: first
          condition: second
        - macro: second
          condition: proc.name = x
        """)
    assert result.errors[0].message == "Undefined macro 'second' used in filter."
    assert result.errors[0].item_name == "first"
    rs = ok(a_rule("evt.type=open and later"), """
        - macro: later
          condition: proc.name = y
        """)
    assert cond(rs, "r") == "evt.type = open and proc.name = y"


def test_nested_macros_expand_and_keep_their_source():
    rs = ok("""
        - macro: inner
          condition: proc.name = x
        - macro: outer
          condition: evt.type = open and inner
        """ + a_rule("outer and not fd.name = y"))
    r = rule(rs, "r")
    assert format_expr(r.condition) == "evt.type = open and proc.name = x and not fd.name = y"
    inner = r.condition.children[0].children[1]
    assert (inner.src.item_type, inner.src.item_name) == ("macro", "inner")
    assert inner.src.locate(inner.pos) == ("file0.yaml", 3, 14)


def test_macro_append_and_override():
    rs = ok("""
        - macro: m
          condition: proc.name = a
        - macro: m
          append: true
          condition: or proc.name = b
        - macro: n
          condition: proc.name = c
        - macro: n
          override:
            condition: replace
          condition: proc.name = d
        """ + a_rule("evt.type=open and m and n"))
    assert cond(rs, "r") == "evt.type = open and (proc.name = a or proc.name = b) and proc.name = d"


def test_unused_macros_and_lists_warn():
    result = load("""
        - list: spare
          items: [a]
        - macro: idle
          condition: proc.name = a
        """)
    assert result.ok
    assert [(w.code, w.item_name) for w in result.warnings] == \
        [("LOAD_UNUSED_MACRO", "idle"), ("LOAD_UNUSED_LIST", "spare")]


# ---------------------------------------------------------------- rules


def test_rule_fields():
    rs = ok("""
        - rule: r
          desc: a rule
          condition: evt.type in (open, openat) and proc.name = cat
          output: "cat opened %fd.name (%proc.aname[2])"
          priority: informational
          tags: [b, a, b]
          enabled: false
        """)
    r = rs.rules[0]
    assert (r.id, r.name, r.desc, r.priority, r.tags, r.enabled, r.source) == \
        (0, "r", "a rule", Priority.INFORMATIONAL, ("a", "b"), False, "syscall")
    assert r.evttypes == frozenset({evttypes.type_id("open"), evttypes.type_id("openat")})
    assert r.output.parts[0] == "cat opened " and r.output.fields[1].arg == "2"
    assert (r.src.file, r.src.line, r.src.column) == ("file0.yaml", 2, 3)
    assert r.condition_text == "evt.type in (open, openat) and proc.name = cat"


def test_redefining_a_rule_keeps_its_place():
    rs = ok(a_rule("evt.type=open", "one"), a_rule("evt.type=open", "two"),
            a_rule("evt.type=execve", "one"))
    assert [(r.id, r.name) for r in rs.rules] == [(0, "one"), (1, "two")]
    assert cond(rs, "one") == "evt.type = execve"


def test_legacy_rule_append_joins_condition_text_across_files():
    rs = ok("""
        - rule: my_rule
          desc: d
          condition: (evt.type=open and fd.name=not-a-real-file)
          output: out
          priority: WARNING
        """, """
        - rule: my_rule
          append: true
          condition: or (evt.type=open and fd.name=/dev/null)
        """)
    r = rule(rs, "my_rule")
    assert format_expr(r.condition) == \
        "evt.type = open and fd.name = not-a-real-file or evt.type = open and fd.name = /dev/null"
    second = r.condition.children[1].children[1]
    assert second.src.locate(second.pos) == ("file1.yaml", 4, 36)


def test_append_precedence_is_textual_like_falco():
    rs = ok(a_rule("evt.type=open and fd.name=/dev/null", "r"), """
        - rule: r
          append: true
          condition: and fd.name=other
        """)
    assert cond(rs, "r") == "evt.type = open and fd.name = /dev/null and fd.name = other"


def test_override_append_and_replace():
    rs = ok("""
        - rule: r
          desc: d
          condition: evt.type=open
          output: out
          priority: WARNING
          tags: [a]
        - rule: r
          condition: and proc.name=cat
          output: "%proc.name"
          tags: [b]
          priority: ERROR
          enabled: false
          override:
            condition: append
            output: append
            tags: append
            priority: replace
            enabled: replace
        """)
    r = rs.rules[0]
    assert format_expr(r.condition) == "evt.type = open and proc.name = cat"
    assert r.output.text == "out %proc.name"
    assert (r.tags, r.priority, r.enabled) == (("a", "b"), Priority.ERROR, False)


@pytest.mark.parametrize("override,message", [
    ("condition: append", "An append override for 'condition' was specified but 'condition' "
                          "is not defined"),
    ("priority: append", "Key 'priority' cannot be appended to, use 'replace' instead"),
    ("condition: merge", "Invalid override operation for key 'condition': 'merge'. Allowed "
                         "values are: append replace"),
])
def test_override_mistakes(override, message):
    result = load(a_rule("evt.type=open"), f"""
        - rule: r
          desc: x
          override:
            {override}
        """)
    assert result.errors[0].code == "LOAD_ERR_YAML_VALIDATE"
    assert result.errors[0].message == message


def test_override_key_without_entry():
    result = load(a_rule("evt.type=open"), """
        - rule: r
          desc: x
          condition: proc.name=a
          override:
            desc: replace
        """)
    assert result.errors[0].message == ("Unexpected key 'condition': no corresponding entry "
                                        "under 'override' is defined.")
    assert (result.errors[0].line, result.errors[0].column) == (4, 14)


def test_enabled_only_item_toggles_a_rule():
    result = load(a_rule("evt.type=open", "r"), """
        - rule: r
          enabled: false
        """)
    assert result.ok and result.ruleset.rules[0].enabled is False
    assert "LOAD_DEPRECATED_ITEM" in codes(result.warnings)
    missing = load("""
        - rule: ghost
          enabled: false
        """)
    assert missing.errors[0].message == ("Rule has 'enabled' key but no rule by that name "
                                         "already exists")


def test_dangling_appends():
    assert load("- rule: x\n  condition: a\n  append: true\n").errors[0].message == \
        "Rule has 'append' key but no rule by that name already exists"
    assert load("- macro: x\n  condition: a\n  append: true\n").errors[0].message == \
        "Macro has 'append' key but no macro by that name already exists"
    assert load("- list: x\n  items: [a]\n  append: true\n").errors[0].message == \
        "List has 'append' key but no list by that name already exists"


def test_missing_keys_and_bad_values():
    cases = {
        "- rule: r\n  desc: d\n  condition: evt.type=open\n  priority: INFO\n":
            ("rule", "r", "Item has no mapping for key 'output'"),
        "- rule:\n  desc: d\n": ("rule", "", "Mapping for key 'rule' is empty"),
        "- list: l\n  items: a\n": ("list", "l", "Value is not a sequence"),
        "- list: l\n  items: [[a]]\n": ("list", "l", "sequence value is not scalar"),
        "- macro: m\n": ("macro", "m", "Item has no mapping for key 'condition'"),
        a_rule("evt.type=open").replace("WARNING", "LOUD"): ("rule", "r", "Invalid priority"),
        a_rule("evt.type=open") + "          enabled: maybe\n": ("rule", "r", "Can't decode YAML scalar value"),
        "- 3\n": ("rules content item", "", "Unexpected element type. Each element should be a "
                                            "yaml associative array."),
    }
    for text, (item_type, name, message) in cases.items():
        err = load(text).errors[0]
        assert (err.code, err.item_type, err.item_name, err.message) == \
            ("LOAD_ERR_YAML_VALIDATE", item_type, name, message), text


def test_yaml_parse_error_has_position():
    err = load("this : is : not : yaml\n").errors[0]
    assert err.code == "LOAD_ERR_YAML_PARSE"
    assert err.message == "yaml-cpp: error at line 1, column 11: illegal map value"
    assert (err.line, err.column) == (1, 11)
    other = load("- rule: [unclosed\n").errors[0]
    assert other.code == "LOAD_ERR_YAML_PARSE" and other.line == 2


def test_unknown_item_warns():
    result = load("- widget: x\n")
    assert result.ok and codes(result.warnings) == ["LOAD_UNKNOWN_ITEM"]


def test_yaml_scalars_keep_their_text():
    rs = ok("""
        - list: words
          items: [yes, no, 22, 0x1F, ~x]
        """ + a_rule("evt.type=open and proc.name in (words)"))
    assert cond(rs, "r") == "evt.type = open and proc.name in (yes, no, 22, 0x1F, ~x)"


# ---------------------------------------------------------------- exceptions


def test_exceptions_become_and_not():
    rs = ok("""
        - list: shells
          items: [bash, sh]
        - rule: r
          desc: d
          condition: evt.type=open and proc.name=cat
          output: out
          priority: WARNING
          exceptions:
            - name: single
              fields: proc.pname
              values: [sshd, "cron job"]
            - name: pairs
              fields: [proc.pname, fd.name]
              comps: [in, startswith]
              values:
                - [shells, /tmp]
                - [[a, b], /var]
                - ["(x, y)", /etc]
            - name: empty
              fields: [proc.name]
        - rule: r
          append: true
          exceptions:
            - name: single
              values: [init]
        """)
    assert cond(rs, "r") == (
        'evt.type = open and proc.name = cat and not proc.pname in (sshd, "cron job", init) '
        "and not (proc.pname in (bash, sh) and fd.name startswith /tmp "
        "or proc.pname in (a, b) and fd.name startswith /var "
        "or proc.pname in (x, y) and fd.name startswith /etc)")


def test_exception_mistakes_are_reported_on_the_exception():
    base = textwrap.dedent("""
        - rule: r
          desc: d
          condition: evt.type=open
          output: out
          priority: WARNING
          exceptions:
            - name: ex1
        """)
    cases = {
        "      fields: [proc.name, fd.name]\n      values: [[a]]\n":
            "Fields and values lists must have equal length",
        "      fields: [proc.name, fd.name]\n      comps: [=]\n":
            "Fields and comps lists must have equal length",
        "      fields: [proc.name]\n      comps: [near]\n": "'near' is not a supported comparison operator",
        "      fields: [no.such]\n": "'no.such' is not a supported filter field",
        "      fields: proc.name\n      comps: =\n":
            "When fields is a single value, comps must be one of (in, pmatch, intersects)",
    }
    for extra, message in cases.items():
        result = load(base + extra)
        err = result.errors[0]
        assert (err.item_type, err.item_name, err.message) == ("exception", "ex1", message), extra


# ---------------------------------------------------------------- requirements, sources


def test_required_engine_version():
    assert load("- required_engine_version: 9\n").ok
    assert load("- required_engine_version: 0.57.0\n").ok
    err = load("- required_engine_version: 9999999\n").errors[0]
    assert (err.code, err.item_type) == ("LOAD_ERR_VALIDATE", "required_engine_version")
    assert err.message == "Rules require engine version 9999999, but engine version is 0.57.0"
    assert load("- required_engine_version: 1.0.0\n").errors
    assert load("- required_engine_version: soon\n").errors[0].message == \
        "Can't decode YAML scalar value"
    assert load("- required_engine_version: 3\n- required_engine_version: 0.41.0\n") \
        .ruleset.required_engine_version == "0.41.0"


def test_required_plugin_versions():
    assert load("- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n").ok
    err = load("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n").errors[0]
    assert err.message == "Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)"
    assert load("""
        - required_plugin_versions:
          - name: k8saudit-eks
            version: 0.1.0
            alternatives:
              - name: container
                version: 0.2.0
        """).ok


def test_rules_of_other_sources_are_skipped_with_a_warning():
    result = load("""
        - macro: kevt
          condition: ka.verb=create
        - rule: k8s
          desc: d
          condition: kevt
          output: "%ka.user.name"
          priority: INFO
          source: k8s_audit
        """)
    assert result.ok and result.ruleset.rules == []
    assert [(w.code, w.message) for w in result.warnings] == [
        ("LOAD_UNKNOWN_SOURCE", "Unknown source k8s_audit, skipping"),
        ("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro")]


def test_unknown_fields_error_or_skip():
    err = load(a_rule("evt.type=open and proc.nobody=cat")).errors[0]
    assert (err.code, err.message) == ("LOAD_ERR_COMPILE_CONDITION",
                                       "filter_check called with nonexistent field proc.nobody")
    assert (err.line, err.column) == (4, 32)
    skipped = load(a_rule("evt.type=open and proc.nobody=cat") + "          skip-if-unknown-filter: true\n")
    assert skipped.ok and skipped.ruleset.rules == []
    assert codes(skipped.warnings) == ["LOAD_UNKNOWN_FIELD"]


def test_output_fields_are_checked():
    err = load(a_rule("evt.type=open").replace("output: out", 'output: "seen %not_a_real_field"')).errors[0]
    assert (err.code, err.message) == ("LOAD_ERR_COMPILE_OUTPUT",
                                       "invalid formatting token not_a_real_field")
    assert (err.line, err.column) == (5, 17)
    rs = ok(a_rule("evt.type=open").replace("output: out", "output: '*%toupper(user.name) at %evt.args'"))
    out = rs.rules[0].output
    assert [type(p).__name__ for p in out.parts] == ["FieldRef", "str", "FieldRef"]
    assert out.fields[0].transformers == ("toupper",)


def test_warn_evttypes_and_no_evttype_warning():
    result = load(a_rule("proc.name=foo", "noisy"),
                  a_rule("proc.name=foo", "quiet") + "          warn_evttypes: false\n")
    assert [(w.code, w.item_name) for w in result.warnings] == [("LOAD_NO_EVTTYPE", "noisy")]
    assert result.warnings[0].message == ("Rule matches too many evt.type values. This has a "
                                          "significant performance penalty.")


def test_unsafe_na_comparison_warns():
    result = load(a_rule("evt.type=open and container.name != '<NA>'"))
    assert codes(result.warnings) == ["LOAD_UNSAFE_NA_CHECK"]


# ---------------------------------------------------------------- event types


@pytest.mark.parametrize("condition,expected", [
    ("evt.type in (open, execve) and proc.name = x", {"open", "execve"}),
    ("evt.type = open or evt.type = connect", {"open", "connect"}),
    ("evt.type = open or proc.name = x", None),                 # the or can match any type
    ("(evt.type = open or evt.type = execve) and evt.type in (execve, connect)", {"execve"}),
    ("evt.type = open and evt.type = execve", set()),
    ("evt.type = open and not proc.name = x", {"open"}),
    ("not proc.name = x and evt.type = open", None),             # Falco's legacy widening
    ("proc.name != x and evt.type = open", None),
    ("not evt.type = open", None),
    ("evt.type = open and proc.name = val(proc.pname)", {"open"}),
])
def test_event_type_sets(condition, expected):
    got = event_types(parse_condition(condition), evttypes.type_id, evttypes.all_type_ids)
    names = None if got is None else {evttypes.type_name(i) for i in got}
    assert names == expected


def test_unknown_event_type_is_an_error_with_position():
    err = load(a_rule("evt.type in (open, nosuchcall)")).errors[0]
    assert (err.code, err.message) == ("LOAD_ERR_COMPILE_CONDITION", "unknown event type nosuchcall")
    assert (err.line, err.column) == (4, 33)


# ---------------------------------------------------------------- files, errors


def test_later_files_see_earlier_ones(tmp_path):
    (tmp_path / "10-lists.yaml").write_text("- list: bins\n  items: [cat]\n")
    (tmp_path / "20-rules.yaml").write_text(a_rule("evt.type=open and proc.name in (bins)"))
    (tmp_path / "README").write_text("- list: late\n  items: [x]\n")
    loader = Loader(FAKE).add_path(str(tmp_path))
    result = loader.finish()
    assert result.ok
    assert [Path(s).name for s in result.sources] == ["10-lists.yaml", "20-rules.yaml", "README"]
    assert cond(result.ruleset, "r") == "evt.type = open and proc.name in (cat)"


def test_the_first_failing_file_stops_loading():
    result = load("- list: l\n  items: [a]\n  append: true\n", "- widget: 1\n")
    assert codes(result.errors) == ["LOAD_ERR_VALIDATE"]
    assert codes(result.warnings) == ["LOAD_DEPRECATED_ITEM"]     # 'append: true'; b.yaml unread
    assert result.ruleset is None


def test_missing_file_is_a_read_error(tmp_path):
    result = Loader(FAKE).add_path(str(tmp_path / "nope.yaml")).finish()
    assert codes(result.errors) == ["LOAD_ERR_FILE_READ"]


def test_load_texts_raises_a_picklable_rules_error():
    with pytest.raises(RulesError) as info:
        load_texts([("a.yaml", "- macro: m\n  condition: (\n"), ("b.yaml", "")], catalog=FAKE)
    err = info.value
    assert len(err.errors) == 1 and len(err.warnings) == 1
    copy = pickle.loads(pickle.dumps(err))
    assert copy.errors == err.errors and copy.warnings == err.warnings
    assert str(copy) == str(err)
    assert "a.yaml:2:15: LOAD_ERR_COMPILE_CONDITION (macro 'm'): " in str(err)


def test_message_text_has_position_snippet_and_caret():
    err = load(a_rule("evt.type=execve foo")).errors[0]
    assert str(err) == ("file0.yaml:4:30: LOAD_ERR_COMPILE_CONDITION (rule 'r'): unexpected token "
                        "after 'execve', expecting 'or', 'and'\n"
                        "      condition: evt.type=execve foo\n"
                        "    " + " " * 29 + "^")


def test_condition_errors_map_through_block_scalars():
    result = load("""
        - rule: r
          desc: d
          condition: >
            evt.type = open
            and proc.name = "a\\tb"
            and (fd.name = x
          output: out
          priority: INFO
        """)
    err = result.errors[0]
    assert err.message == "expected a ')' token"
    assert (err.line, err.column) == (7, 21)


# ---------------------------------------------------------------- the real rulesets

def _real_catalog():
    try:
        return Catalog.default(), None
    except Exception as e:              # the field registry is another engineer's module
        return None, f"field registry not importable: {e}"


RULESET_FILES = [
    ["falco-0.3.0/falco_rules.yaml"],
    ["falco-0.31.1/falco_rules.yaml"],
    ["falco-rules-5.0.0/falco_rules.yaml"],
    ["falco-rules-5.0.0/falco_rules.yaml", "falco-rules-5.0.0/falco-incubating_rules.yaml"],
    ["falco-rules-5.0.0/falco_rules.yaml", "falco-rules-5.0.0/falco-sandbox_rules.yaml"],
    ["falco-rules-5.0.0/falco-incubating_rules.yaml"],
    ["falco-rules-5.0.0/falco-sandbox_rules.yaml"],
]


@pytest.mark.skipif(not RULESETS.is_dir(), reason="../shared/rulesets not present")
@pytest.mark.parametrize("files", RULESET_FILES, ids=lambda f: "+".join(f))
def test_falco_rulesets_validate(files):
    catalog, why = _real_catalog()
    if catalog is None:
        pytest.skip(why)
    loader = Loader(catalog)
    for f in files:
        loader.add_path(str(RULESETS / f))
    result = loader.finish()
    assert result.ok, "\n".join(str(e) for e in result.errors)
    assert all(r.evttypes is not None for r in result.ruleset.rules if r.enabled)


@pytest.mark.skipif(not RULESETS.is_dir(), reason="../shared/rulesets not present")
def test_stable_5_0_0_has_25_enabled_rules_none_for_all_types():
    catalog, why = _real_catalog()
    if catalog is None:
        pytest.skip(why)
    rules = Loader(catalog).add_path(str(RULESETS / "falco-rules-5.0.0/falco_rules.yaml")) \
        .compile().rules
    enabled = [r for r in rules if r.enabled]
    assert len(enabled) == 25
    assert [r.name for r in enabled if r.evttypes is None] == []


@pytest.mark.parametrize("condition,output,code,message", [
    ("evt.type=open and proc.name[3] = x", "o", "LOAD_ERR_COMPILE_CONDITION",
     "proc.name does not take an argument"),
    ("evt.type=open and evt.args contains x", "o", "LOAD_ERR_COMPILE_CONDITION",
     "evt.args can be used in outputs only, not in conditions"),
    ("evt.type=open and k8s.pod.label = x", "o", "LOAD_ERR_COMPILE_CONDITION",
     "k8s.pod.label needs an argument, e.g. k8s.pod.label[X]"),
    ("evt.type=open and evt.arg.nosuchparam = x", "o", "LOAD_ERR_COMPILE_CONDITION",
     "no event has a parameter named 'nosuchparam' (evt.arg.nosuchparam)"),
    ("evt.type=open", "ip %fd.ip", "LOAD_ERR_COMPILE_OUTPUT",
     "fd.ip can be used in conditions only, not in outputs"),
])
def test_field_use_is_checked_against_the_registry(condition, output, code, message):
    catalog, why = _real_catalog()
    if catalog is None:
        pytest.skip(why)
    text = a_rule(condition).replace("output: out", f"output: {output}")
    err = load(text, catalog=catalog).errors[0]
    assert (err.code, err.message) == (code, message)
    assert err.line == (4 if code == "LOAD_ERR_COMPILE_CONDITION" else 5)


def test_output_is_trimmed_and_positions_still_point_at_the_field():
    result = load("""
        - rule: r
          desc: d
          condition: evt.type = open
          output: >
              opened %fd.name
              by %nope
          priority: INFO
        """)
    err = result.errors[0]
    assert err.message == "invalid formatting token nope"
    assert (err.line, err.column) == (7, 10)
    rs = ok(a_rule("evt.type=open").replace("output: out", "output: '  x %fd.name  '"))
    assert rs.rules[0].output.text == "x %fd.name"
    field = rs.rules[0].output.fields[0]
    assert field.src.locate(field.pos) == ("file0.yaml", 5, 17)


# ---------------------------------------------------------------- hostile rules files


def test_exploding_lists_are_stopped():
    text = "- list: l0\n  items: [a, b]\n" + "".join(
        f"- list: l{i}\n  items: [l{i - 1}, l{i - 1}]\n" for i in range(1, 40))
    result = load(text)
    assert "List expands to more than 100000 items" in [e.message for e in result.errors]


def test_exploding_macros_are_stopped():
    text = "- macro: m0\n  condition: proc.name = a\n" + "".join(
        f"- macro: m{i}\n  condition: (m{i - 1} or m{i - 1})\n" for i in range(1, 60))
    result = load(text + textwrap.dedent(a_rule("evt.type = open and m59")))
    assert any(e.message.startswith("condition too large once macros and lists are expanded")
               for e in result.errors)


def test_very_deep_macro_chains_get_an_error_not_a_crash():
    text = "- macro: m0\n  condition: proc.name = a\n" + "".join(
        f"- macro: m{i}\n  condition: proc.name = b and not m{i - 1}\n" for i in range(1, 3000))
    result = load(text + textwrap.dedent(a_rule("evt.type = open and m2999")))
    assert any(e.message == "condition is nested too deeply once macros are expanded"
               for e in result.errors)


def test_yaml_alias_bombs_are_stopped():
    lines = ["- rule: r", "  desc: d", "  condition: evt.type=open", "  output: o",
             "  priority: INFO", "  exceptions:", "    - name: e", "      fields: [proc.name]",
             "      values: &v0 [[a]]"]
    for i in range(1, 30):
        lines.append(f"      x{i}: &v{i} [*v{i - 1}, *v{i - 1}]")
    lines.append("    - name: f\n      fields: [proc.name]\n      values: *v29")
    result = load("\n".join(lines) + "\n")
    assert result.errors[0].message == "More than 100000 exception values"


_TOKENS = ["evt.type=open", "evt.type in (open, execve)", "evt.type!=open", " and ", " or ",
           "not ", "(", ")", "proc.name=a", "proc.name in (l)", "proc.name = l", "m", "l",
           "val(proc.pname)", "tolower(proc.name)", " = ", "'q'", "proc.aname[2]", "<NA>",
           "exists", " contains ", "evt.dir=<", "\\", '"', "%", "\n", ":", "- "]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12),
       st.lists(st.sampled_from(["text ", "%proc.name", "%", "%nope", "%toupper(user.name)"]),
                min_size=1, max_size=4))
def test_any_condition_or_output_gives_messages_never_exceptions(cond, out):
    rule_text = a_rule(json.dumps("".join(cond))).replace("output: out",
                                                          "output: " + json.dumps("".join(out)))
    text = ("- list: l\n  items: [a, 'b c']\n- macro: m\n  condition: " + json.dumps("".join(cond))
            + "\n" + textwrap.dedent(rule_text))
    result = Loader(FAKE).add_text("f.yaml", text).finish()
    assert result.ok == (result.ruleset is not None)
    assert not any(m.code.startswith("LOAD_ERR_YAML") for m in result.errors)
    assert all(m.line > 0 for m in result.errors)
