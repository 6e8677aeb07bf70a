"""Trade marts on the shared end-to-end sample run: published, the seed's CAN-CHN figures and story,
mirror asymmetries, an independent SQL query over raw Comtrade rows reproducing the mart's balance,
and the GX mart suite failing for the right reason."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

SUITES_DIR = PROJECT_ROOT / "expectations" / "suites"

pytestmark = pytest.mark.slow

# Independent of dbt: latest load per record key over raw rows, totals filter, reporter's X - M.
RAW_BALANCE_SQL = """
with latest as (
    select *, row_number() over (
        partition by "freqCode", "period", "reporterCode", "partnerCode", "partner2Code", "flowCode", "cmdCode",
                     "customsCode", "motCode"
        order by _loaded_at desc, _landed_file desc, record_no) as rn
    from raw.comtrade_record
)
select
    sum(case when "flowCode" = 'X' then "primaryValue" else 0 end) as exports,
    sum(case when "flowCode" = 'M' then "primaryValue" else 0 end) as imports,
    sum(case when "flowCode" = 'X' then "primaryValue" when "flowCode" = 'M' then -"primaryValue" else 0 end) as balance
from latest
where rn = 1 and "cmdCode" = 'TOTAL' and "partner2Code" = 0 and "customsCode" = 'C00' and "motCode" = 0
  and "reporterCode" = ? and "partnerCode" = ? and "freqCode" = ? and "period" = ?
"""


def _one(run, sql, params=None, published=True):
    rows = run.query(sql, params, published=published)
    assert rows, sql
    return rows[0]


def test_trade_marts_are_published_and_marked_sample(sample_run):
    assert sample_run.summary.source_status.get("comtrade") == "ok", sample_run.summary.source_errors.get("comtrade")
    n_bal, n_prod, all_sample = _one(sample_run, """
        select (select count(*) from marts.trade_balance), (select count(*) from marts.trade_by_product),
               (select bool_and(is_sample) from marts.trade_balance) and (select bool_and(is_sample) from marts.trade_by_product)""")
    assert n_bal > 0 and n_prod > 0 and all_sample
    assert (sample_run.parquet_dir / "trade_balance.parquet").exists() or any(sample_run.parquet_dir.glob("trade_balance*"))
    usa = _one(sample_run, "select comtrade_code, m49_code, region from marts.dim_country where country_iso3 = 'USA'")
    assert usa == (842, 840, "Americas")
    ev = _one(sample_run, "select hs_section_code, hs_chapter, hs_heading, hs_level from marts.dim_product where product_code = '870380'")
    assert ev == ("XVII", "87", "8703", "subheading")


def test_can_chn_headline_figures_and_story(sample_run):
    q = """select year, exports_usd, imports_usd, exports_yoy_pct, imports_yoy_pct, total_trade_usd
           from marts.trade_balance where reporter_iso3 = 'CHN' and partner_iso3 = 'CAN' and period_type = 'annual'
           and year in (2024, 2025) order by year"""
    (y24, x24, m24, _, _, tt24), (y25, x25, m25, xg25, mg25, tt25) = sample_run.query(q)
    # China customs 2024: exports to Canada 46.4B, imports from Canada 46.6B (docs/sources/comtrade.md)
    assert 44e9 < x24 < 49e9 and 44e9 < m24 < 49e9
    assert 85e9 < tt24 < 100e9
    # 2025: China's exports to Canada up ~3%, imports from Canada down more than 10%
    assert 0 < xg25 < 6 and mg25 < -10
    # US-Canada trade an order of magnitude larger
    us_ca = _one(sample_run, "select total_trade_usd from marts.trade_balance where reporter_iso3 = 'USA' "
                             "and partner_iso3 = 'CAN' and period_type = 'annual' and year = 2024")[0]
    assert us_ca > 7 * tt24
    # EVs into Canada from China collapse after the 2024-10-01 surtax; canola oil/meal/peas after 2025-03-20
    ev = dict(sample_run.query("""select year, sum(imports_usd) from marts.trade_by_product where reporter_iso3 = 'CAN'
        and partner_iso3 = 'CHN' and period_type = 'annual' and product_code like '8703%' group by year"""))
    assert ev[2023] > 1e9 and ev[2025] < 0.1 * ev[2023]
    canola = dict(sample_run.query("""select product_code, sum(exports_usd) filter (where year = 2025)
        / sum(exports_usd) filter (where year = 2024) from marts.trade_by_product where reporter_iso3 = 'CAN'
        and partner_iso3 = 'CHN' and period_type = 'annual' and product_code in ('1514', '230649', '071310', '120510')
        group by product_code"""))
    assert canola["1514"] < 0.4 and canola["230649"] < 0.4 and canola["071310"] < 0.4 and canola["120510"] < 0.75
    monthly = dict(sample_run.query("""select period_start::varchar, imports_usd from marts.trade_by_product
        where reporter_iso3 = 'CAN' and partner_iso3 = 'CHN' and period_type = 'monthly' and product_code = '870380'"""))
    if "2024-09-01" in monthly and "2024-10-01" in monthly:  # in the monthly window of the run date
        assert monthly["2024-10-01"] < 0.1 * monthly["2024-09-01"]


def test_mirror_flows_disagree_realistically(sample_run):
    rows = sample_run.query("""select year, imports_usd, mirror_imports_usd, exports_usd, mirror_exports_usd,
            reconciled_imports_usd, reconciled_imports_method
        from marts.trade_balance where reporter_iso3 = 'CAN' and partner_iso3 = 'CHN' and period_type = 'annual'""")
    assert len(rows) >= 10
    for year, imp, mirror_imp, exp, mirror_exp, rec_imp, method in rows:
        # Canada's CIF imports from China far above China's FOB exports to Canada (HK / US transit)
        assert imp > 1.2 * mirror_imp, year
        # China's CIF imports from Canada above Canada's FOB exports to China
        assert mirror_exp > exp, year
        # reconciled: importer side, CIF -> FOB
        assert method == "importer_cif_to_fob" and abs(rec_imp - imp / 1.08) < 1, year
    hkg = _one(sample_run, """select count(*) from marts.trade_balance where reporter_iso3 = 'CHN' and partner_iso3 = 'HKG'
        and exports_usd > 1e9""")[0]
    assert hkg > 0  # the transit partner is in the data


@pytest.mark.parametrize("reporter,partner,freq,period,iso", [
    (124, 156, "A", "2024", ("CAN", "CHN", "annual", "2024-01-01")),
    (156, 124, "A", "2019", ("CHN", "CAN", "annual", "2019-01-01")),
    (842, 124, "A", "2025", ("USA", "CAN", "annual", "2025-01-01")),
])
def test_independent_raw_query_reproduces_mart_balance(sample_run, reporter, partner, freq, period, iso):
    exports, imports, balance = _one(sample_run, RAW_BALANCE_SQL, [reporter, partner, freq, period], published=False)
    mart = _one(sample_run, """select exports_usd, imports_usd, balance_usd from marts.trade_balance
        where reporter_iso3 = ? and partner_iso3 = ? and period_type = ? and period_start = ?::date""", list(iso))
    assert exports > 0 and imports > 0
    assert mart == pytest.approx((exports, imports, balance), abs=0.01)


def test_independent_raw_query_reproduces_a_monthly_balance(sample_run):
    period = _one(sample_run, """select max(period) from raw.comtrade_record where "freqCode" = 'M'
        and "reporterCode" = 156 and "partnerCode" = 124""", published=False)[0]
    exports, imports, balance = _one(sample_run, RAW_BALANCE_SQL, [156, 124, "M", period], published=False)
    mart = _one(sample_run, """select balance_usd from marts.trade_balance where reporter_iso3 = 'CHN' and
        partner_iso3 = 'CAN' and period_type = 'monthly' and period_start = make_date(?, ?, 1)""",
                [int(period[:4]), int(period[4:])])[0]
    assert mart == pytest.approx(balance, abs=0.01) and balance == pytest.approx(exports - imports)


def test_negative_trade_fails_the_dbt_tests_that_own_the_invariant(sample_run, clone_warehouse):
    """A negative export is a model invariant: dbt's range test on trade_balance refuses it (GX no
    longer repeats it, expectations/dbt_owned.yml)."""
    from flows import transform
    from flows.paths import Project

    run = clone_warehouse(sample_run)
    con = duckdb.connect(str(run.db_path))
    con.execute("""update marts.trade_balance set exports_usd = -5, balance_usd = -5 - imports_usd
                   where reporter_iso3 = 'CAN' and partner_iso3 = 'CHN' and period_type = 'annual' and year = 2020""")
    con.close()
    report = transform.build(Project(PROJECT_ROOT), run.db_path, "check",
                             args=["test", "--select", "trade_balance,test_type:generic"])
    failed = {n["node"] for n in report.nodes if n["status"] == "fail"}
    assert not report.success and any("accepted_range_trade_balance_exports_usd" in n for n in failed), failed