"""The configuration: defaults, a YAML file, -o overrides, and clear errors."""
import pytest

from sensor.config import Config, ConfigError


def test_defaults():
    c = Config()
    assert c.get("rule_matching") == "first"
    assert c.get("json_output") is False
    assert c.get("stdout_output.enabled") is True
    assert c.get("no.such.key", 7) == 7


def test_file_then_overrides(tmp_path):
    f = tmp_path / "sensor.yaml"
    f.write_text("json_output: true\nstdout_output:\n  enabled: false\npriority: notice\n")
    c = Config.load(str(f), ("priority=warning", "stdout_output.enabled=true",
                             "nats_output.url=nats://127.0.0.1:4222"))
    assert c.get("json_output") is True
    assert c.get("priority") == "warning"
    assert c.get("stdout_output.enabled") is True
    assert c.get("nats_output.url") == "nats://127.0.0.1:4222"


@pytest.mark.parametrize("item, words", [
    ("json_output=maybe", "json_output: expected true or false"),
    ("stdout_output=3", "stdout_output: expected a mapping"),
    ("novalue", "expected key=value"),
])
def test_bad_overrides_name_the_key(item, words):
    with pytest.raises(ConfigError, match=words):
        Config.load(None, (item,))


def test_bad_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Config.load(str(f))
    with pytest.raises(ConfigError, match="cannot read configuration"):
        Config.load(str(tmp_path / "missing.yaml"))
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        Config.load(str(f))
