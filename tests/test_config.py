"""Configuration: validated before any work, overridable by environment and CLI."""
import subprocess
import sys

import pytest

from flows.config import ConfigError, load_config


def test_default_config_is_valid_and_pairs_all_focus_countries(write_config):
    cfg = load_config(write_config())
    assert cfg.countries == ("CAN", "CHN", "USA")
    assert set(cfg.pairs) == {("CAN", "CHN"), ("CAN", "USA"), ("CHN", "USA")}
    assert cfg.sources["worldbank"].base_url.startswith("https://")
    assert cfg.start_year == 2015 and cfg.end_year >= 2026


def test_adding_countries_is_one_line(write_config):
    cfg = load_config(write_config({"countries.focus": ["CAN", "CHN", "USA", "MEX", "JPN", "KOR", "DEU", "FRA", "GBR"]}))
    assert len(cfg.countries) == 9 and len(cfg.pairs) == 36


@pytest.mark.parametrize("overrides, names", [
    ({"countries.focus": ["CAN", "XXX"]}, ["countries.focus", "'XXX'", "CAN, CHN, USA"]),
    ({"sources.worldbank.timeout": 3}, ["sources.worldbank.timeout", "timeout_seconds"]),
    ({"years.start": "soon"}, ["years.start", "'soon'", "integer"]),
    ({"warehouse.publish_on_source_failure": "maybe"}, ["publish_on_source_failure", "true or false"]),
    ({"countries.pairs": ["CAN-MEX"]}, ["countries.pairs", "MEX", "not in countries.focus"]),
    ({"sources.nosuch.enabled": True}, ["sources.nosuch", "worldbank"]),
    ({"sources.worldbank.api_key": "abc"}, ["sources.worldbank.api_key", "never read from the config file"]),
])
def test_bad_config_names_key_value_and_what_is_allowed(write_config, overrides, names):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(overrides))
    for name in names:
        assert name in str(err.value)


def test_environment_overrides_file_and_cli_overrides_environment(write_config):
    path = write_config()
    env = {"BILATERAL__countries__focus": "CAN,CHN,USA,MEX", "BILATERAL__sources__worldbank__max_retries": "7"}
    cfg = load_config(path, environ=env)
    assert cfg.countries[-1] == "MEX" and cfg.sources["worldbank"].max_retries == 7
    cfg = load_config(path, overrides=["sources.worldbank.max_retries=1"], environ=env)
    assert cfg.sources["worldbank"].max_retries == 1


def test_api_key_comes_from_environment_only(write_config, monkeypatch):
    cfg = load_config(write_config({"sources.worldbank.api_key_env": "WB_TEST_KEY"}))
    monkeypatch.delenv("WB_TEST_KEY", raising=False)
    assert cfg.sources["worldbank"].api_key() is None
    monkeypatch.setenv("WB_TEST_KEY", "s3cret")
    assert cfg.sources["worldbank"].api_key() == "s3cret"


def test_cli_exits_non_zero_on_bad_config_before_any_work(write_config, tmp_path):
    path = write_config({"countries.focus": ["CAN", "ZZZ"]})
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--sample", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "countries.focus" in proc.stderr and "'ZZZ'" in proc.stderr
    assert not (tmp_path / "warehouse").exists(), "no work may start on a bad config"


def test_cli_flag_override_is_validated_too(write_config):
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--sample", "--config", str(write_config()),
                           "--set", "sources.worldbank.max_retries=lots"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "sources.worldbank.max_retries" in proc.stderr and "'lots'" in proc.stderr
