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


@pytest.mark.parametrize("key, text", [
    ("years.start", '"2015"'), ("sources.worldbank.enabled", '"yes"'), ("sources.comtrade.max_records", "1.5"),
])
def test_the_file_and_the_command_line_are_equally_strict(write_config, key, text):
    """A quoted number or a yes/no is refused in the TOML exactly as after --set."""
    import tomllib

    value = tomllib.loads(f"v = {text}")["v"]
    with pytest.raises(ConfigError) as in_file:
        load_config(write_config({key: value}))
    with pytest.raises(ConfigError) as on_cli:
        load_config(write_config(), overrides=[f"{key}={text}"])
    assert key in str(in_file.value) and key in str(on_cli.value)
    assert str(in_file.value).split(": ", 1)[1] == str(on_cli.value).split(": ", 1)[1], "the same message"


@pytest.mark.parametrize("override, key, allowed", [
    ("sources.comtrade.api_mode=bogus", "sources.comtrade.api_mode", "'auto', 'keyed' or 'preview'"),
    ('sources.comtrade.freqs=["Q"]', "sources.comtrade.freqs", "'A' or 'M'"),
    ("sources.comtrade.products=0101;drop table x", "sources.comtrade.products", "not HS codes"),
    ("schedule.cron=every night", "schedule.cron", "not a cron expression"),
    ("schedule.timezone=Mars/Olympus", "schedule.timezone", "IANA time zone"),
    ("sources.worldbank.base_url=ftp://example.org", "sources.worldbank.base_url", "http(s) URL"),
    ("sources.worldbank.base_url=http://example.org/a/../b", "sources.worldbank.base_url", "'..'"),
    ("sources.gdelt_doc.query_template={a} {country}", "sources.gdelt_doc.query_template", "placeholders"),
    ("warehouse.dir=../../tmp/evil", "warehouse.dir", "inside the project folder"),
    ("years.end=2010", "years", "before years.start"),
])
def test_every_source_option_and_section_is_checked_when_the_config_loads(write_config, override, key, allowed):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(), overrides=[override])
    assert f"'{key}'" in str(err.value) and allowed in str(err.value)


def test_lists_take_json_syntax_as_well_as_commas(write_config):
    assert load_config(write_config(), overrides=['countries.focus=["CAN","MEX"]']).countries == ("CAN", "MEX")
    assert load_config(write_config(), overrides=["countries.focus=CAN,MEX"]).countries == ("CAN", "MEX")
    env = {"BILATERAL__sources__comtrade__freqs": '["M"]'}
    assert load_config(write_config(), environ=env).sources["comtrade"].freqs == ["M"]


def test_warehouse_dir_resolves_inside_the_project_unless_absolute(write_config, tmp_path):
    from tests.conftest import PROJECT_ROOT

    cfg = load_config(write_config(), overrides=["warehouse.dir=warehouse/other"])
    assert cfg.warehouse_dir == PROJECT_ROOT / "warehouse" / "other"
    assert load_config(write_config(), overrides=[f"warehouse.dir={tmp_path}/abs"]).warehouse_dir == tmp_path / "abs"


def test_several_problems_are_reported_together(write_config):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(), overrides=["years.start=soon", "sources.wits.datatype=raw"])
    assert "2 problems" in str(err.value) and "years.start" in str(err.value) and "sources.wits.datatype" in str(err.value)
