"""The published contract: the marts' dbt yml, dbt_project/contracts/marts.yml and CHANGELOG.md agree,
and a change to a mart's columns fails until the contract and the CHANGELOG say so."""
import shutil

import duckdb
import pytest
import yaml

from flows import contract
from flows.contract import YAML_LOADER as LOADER
from flows.contract import CHANGELOG, CONTRACT, MARTS_MODELS, check, dbt_marts, differences, fingerprint, load


def test_the_committed_contract_matches_the_marts_dbt_yml_and_the_changelog():
    assert check() == []
    version, marts = load()
    assert set(marts) == set(dbt_marts())
    assert fingerprint(marts) in CHANGELOG.read_text()
    assert f"## {version}" in CHANGELOG.read_text()


def test_every_mart_enforces_its_dbt_contract_with_a_type_per_column():
    for path in MARTS_MODELS.rglob("*.yml"):
        for model in yaml.load(path.read_text(), Loader=LOADER).get("models", []):
            assert model.get("config", {}).get("contract", {}).get("enforced") is True, (path, model["name"])
            assert all(c.get("data_type") for c in model["columns"]), (path, model["name"])


@pytest.fixture
def project_copy(tmp_path):
    """The marts' yml, contract and CHANGELOG copied, to change freely."""
    models = tmp_path / "marts"
    shutil.copytree(MARTS_MODELS, models, ignore=shutil.ignore_patterns("*.sql"))
    shutil.copy(CONTRACT, tmp_path / "marts_contract.yml")
    shutil.copy(CHANGELOG, tmp_path / "CHANGELOG.md")
    return models, tmp_path / "marts_contract.yml", tmp_path / "CHANGELOG.md"


def _edit_trade_balance(models, edit):
    for path in sorted(models.rglob("*.yml")):
        tree = yaml.load(path.read_text(), Loader=LOADER)
        model = next((m for m in tree.get("models", []) if m["name"] == "trade_balance"), None)
        if model:
            break
    edit(model["columns"])
    path.write_text(yaml.dump(tree, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))


@pytest.mark.parametrize("edit, expected", [
    (lambda cols: cols.__setitem__(0, {**cols[0], "name": "reporter"}),
     ["column reporter_iso3 is in the contract, missing from the dbt yml",
      "column reporter is in the dbt yml, not in the contract"]),
    (lambda cols: cols.append({"name": "new_col", "data_type": "double"}),
     ["column new_col is in the dbt yml, not in the contract"]),
    (lambda cols: cols.__setitem__(6, {**cols[6], "data_type": "varchar"}),
     ["column exports_usd is VARCHAR in the dbt yml, DOUBLE in the contract"]),
    (lambda cols: cols.reverse(), ["columns are in another order"]),
])
def test_a_changed_mart_fails_the_check_until_contract_and_changelog_are_updated(project_copy, edit, expected):
    models, contract_file, changelog = project_copy
    _edit_trade_balance(models, edit)
    problems = check(contract_file, models, changelog)
    for text in expected:
        assert any("mart trade_balance" in p and text in p for p in problems), problems
    assert any("python -m flows.contract --write" in p for p in problems)

    # the contract rewritten from the yml, the CHANGELOG not yet: still fails, naming the fingerprint
    version, _ = load(contract_file)
    new_marts = dbt_marts(models)
    contract_file.write_text(contract.render(version, new_marts))
    problems = check(contract_file, models, changelog)
    assert len(problems) == 1 and fingerprint(new_marts) in problems[0] and "CHANGELOG" in problems[0]

    # a CHANGELOG section for a new version naming the new fingerprint: passes
    contract_file.write_text(contract.render("0.2.0", new_marts))
    changelog.write_text(changelog.read_text().replace(
        "## 0.1.0", f"## 0.2.0 (2026-12-02)\n\nContract fingerprint: `{fingerprint(new_marts)}`.\n\n## 0.1.0", 1))
    assert check(contract_file, models, changelog) == []


def test_a_changelog_without_a_section_for_the_version_is_named(project_copy):
    models, contract_file, changelog = project_copy
    changelog.write_text("# Changelog\n\n## 0.0.9\n\nnothing\n")
    problems = check(contract_file, models, changelog)
    assert problems == [f"{changelog} has no '## 0.1.0' section for contract version 0.1.0; add one saying what changed"]
    changelog.unlink()
    assert "is missing" in check(contract_file, models, changelog)[0]


def test_differences_reads_a_published_file(tmp_path):
    path = tmp_path / "p.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.pairs (pair varchar, total double)")
    published = contract.published_marts(con)
    con.close()
    assert published == {"pairs": [("pair", "VARCHAR"), ("total", "DOUBLE")]}
    assert differences({"pairs": [("pair", "VARCHAR"), ("total", "BIGINT")]}, published, "the file") == [
        "mart pairs: column total is DOUBLE in the file, BIGINT in the contract"]
    assert differences({}, published, "the file") == ["mart pairs: in the file, not in the contract"]


def test_the_published_marts_match_the_contract(sample_run):
    _, marts = load()
    con = duckdb.connect(str(sample_run.published_path), read_only=True)
    try:
        published = contract.published_marts(con)
    finally:
        con.close()
    assert differences(marts, published, "the published file") == []


def test_exposures_name_the_report_site_and_the_bi_recipes_and_only_published_marts():
    from flows.contract import PROJECT_ROOT

    tree = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "exposures.yml").read_text())
    exposures = {e["name"]: e for e in tree["exposures"]}
    assert exposures["report_site"]["url"] == "published/site/index.html"
    assert "docs/bi.md" in exposures["bi_clients"]["description"]
    _, marts = load()
    for exposure in exposures.values():
        refs = [d.removeprefix("ref('").removesuffix("')") for d in exposure["depends_on"]]
        assert refs and set(refs) <= set(marts), exposure["name"]
    assert {d.removeprefix("ref('").removesuffix("')") for d in exposures["bi_clients"]["depends_on"]} == set(marts)
