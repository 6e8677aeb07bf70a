"""Trade marts on the shared end-to-end sample run: published, the seed's CAN-CHN figures and story,
mirror asymmetries, an independent SQL query over raw Comtrade rows reproducing the mart's balance,
and the GX mart suite failing for the right reason."""
from __future__ import annotations

import math
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
            reconciled_imports_usd, reconciled_imports_method, reconciled_imports_fixed_ratio_usd, imports_relative_discrepancy
        from marts.trade_balance where reporter_iso3 = 'CAN' and partner_iso3 = 'CHN' and period_type = 'annual'""")
    months = dict(sample_run.query("""select year, sum(imports_usd) from marts.trade_balance where reporter_iso3 = 'CAN'
        and partner_iso3 = 'CHN' and period_type = 'monthly' group by year having count(imports_usd) = 12"""))
    assert len(rows) >= 10
    for year, imp, mirror_imp, exp, mirror_exp, rec_imp, method, fixed, discrepancy in rows:
        # Canada's CIF imports from China far above China's FOB exports to Canada (HK / US transit)
        assert imp > 1.2 * mirror_imp, year
        # China's CIF imports from Canada above Canada's FOB exports to China
        assert mirror_exp > exp, year
        # reconciled from both declarations: between China's exports and Canada's imports
        assert method == "reliability_weighted" and mirror_imp < rec_imp < imp, year
        assert discrepancy == pytest.approx(abs(imp - mirror_imp) / (imp + mirror_imp), abs=0.01), year
        # the fixed ratio beside it: Canada's imports / 1.08, summed over the months of the year
        assert fixed == pytest.approx(months[year] / 1.08, rel=1e-6), year
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

# --- reconciliation (docs/sources/comtrade.md#reconciliation-method-mirror-flows) -----------------

# Independent of dbt: one flow's declarations from raw rows (latest load per record key, totals filter),
# the published margin and reporting distances, and the documented rules: FAS importers lose the
# margin only when that narrows the gap; |ln(M/X)| < 0.05 or M < X keep the declaration; otherwise
# M / (1 + margin); weights distance_M^2 / (distance_X^2 + distance_M^2). Summed over the periods asked.
RAW_RECONCILED_SQL = """
with latest as (
    select *, row_number() over (
        partition by "freqCode", "period", "reporterCode", "partnerCode", "partner2Code", "flowCode", "cmdCode",
                     "customsCode", "motCode"
        order by _loaded_at desc, _landed_file desc, record_no) as rn
    from raw.comtrade_record
),
rows as (
    select * from latest
    where rn = 1 and "partner2Code" = 0 and "customsCode" = 'C00' and "motCode" = 0 and "freqCode" = 'M'
      and "cmdCode" = $cmd and "period" in (select unnest($periods))
),
declared as (
    select x."period", x."primaryValue" as x, m."primaryValue" as m
    from rows as x
    join rows as m on m."period" = x."period" and m."reporterCode" = $importer and m."partnerCode" = $exporter and m."flowCode" = 'M'
    where x."reporterCode" = $exporter and x."partnerCode" = $importer and x."flowCode" = 'X'
),
published as (
    select strftime(period_start, '%Y%m') as period, cif_margin as t,
           exporter_reporting_distance as sx, importer_reporting_distance as sm
    from marts.trade_reconciled
    where exporter_iso3 = $exporter_iso3 and importer_iso3 = $importer_iso3 and product_code = $cmd and period_type = 'monthly'
),
converted as (
    select d.*, p.sx, p.sm,
        case
            when $fas then case when abs(ln(d.m / (1 + p.t) / d.x)) < abs(ln(d.m / d.x)) then d.m / (1 + p.t) else d.m end
            when abs(ln(d.m / d.x)) < 0.05 then d.m
            when d.m < d.x then d.m
            else d.m / (1 + p.t)
        end as f
    from declared as d
    join published as p using (period)
)
select count(*), sum(x), sum(m), sum(f),
       sum((sm * sm * x + sx * sx * f) / (sx * sx + sm * sm)) as reconciled
from converted
"""


@pytest.mark.parametrize("exporter,importer,cmd,period_type,period,fas", [
    ("CHN", "CAN", "TOTAL", "monthly", "2019-06-01", True),   # into Canada: FAS valuation
    ("USA", "CHN", "85", "monthly", "2025-03-01", False),     # a chapter, the estimated margin
    ("CAN", "CHN", "TOTAL", "annual", "2024-01-01", False),   # a year: the sum of its twelve months
])
def test_independent_sql_recomputes_reconciled_flows_from_raw_rows(sample_run, exporter, importer, cmd, period_type,
                                                                  period, fas):
    codes = {"CAN": 124, "CHN": 156, "USA": 842}
    y, m = int(period[:4]), int(period[5:7])
    periods = [f"{y}{mm:02d}" for mm in range(1, 13)] if period_type == "annual" else [f"{y}{m:02d}"]
    n, x, mi, f, reconciled = _one(sample_run, RAW_RECONCILED_SQL, {
        "exporter": codes[exporter], "importer": codes[importer], "exporter_iso3": exporter, "importer_iso3": importer,
        "cmd": cmd, "periods": periods, "fas": fas}, published=False)
    mart = _one(sample_run, """select value_exporter_fob, value_importer_cif, value_importer_fob_est, value_reconciled,
            reconciliation_method, importer_values_fas, annual_basis
        from marts.trade_reconciled where exporter_iso3 = ? and importer_iso3 = ? and product_code = ?
        and period_type = ? and period_start = ?::date""", [exporter, importer, cmd, period_type, period])
    assert n == len(periods) and x > 0 and mi > 0
    assert mart[:3] == pytest.approx((x, mi, f), rel=1e-5)
    assert mart[3] == pytest.approx(reconciled, rel=1e-4)
    assert mart[4] == "reliability_weighted" and mart[5] is fas
    if period_type == "annual":
        assert mart[6] == "sum_of_months"


def _raw_annual_chapter_observations(run):
    """The margin regression's sample rebuilt from raw rows in Python: annual chapter declarations of
    both sides, both at least max(1st percentile, US$1M), Canada's imports (FAS) left out after the
    floors, ln ratios winsorized at 10% per tail, weights min/max."""
    import csv

    import numpy as np

    rows = run.query("""
        with latest as (
            select *, row_number() over (
                partition by "freqCode", "period", "reporterCode", "partnerCode", "partner2Code", "flowCode", "cmdCode",
                             "customsCode", "motCode"
                order by _loaded_at desc, _landed_file desc, record_no) as rn
            from raw.comtrade_record)
        select "reporterISO", "partnerISO", "flowCode", "refYear", "cmdCode", "primaryValue" from latest
        where rn = 1 and "freqCode" = 'A' and length("cmdCode") = 2 and "flowCode" in ('X', 'M')
          and "partner2Code" = 0 and "customsCode" = 'C00' and "motCode" = 0 and "partnerISO" not in ('W00', 'HKG')""",
                     published=False)
    exports = {(r, p, y, c): v for r, p, f, y, c, v in rows if f == "X"}
    imports = {(p, r, y, c): v for r, p, f, y, c, v in rows if f == "M"}
    both = [(k, exports[k], imports[k]) for k in exports.keys() & imports.keys()]
    x_floor = max(np.quantile([x for _, x, _ in both], 0.01), 1e6)
    m_floor = max(np.quantile([m for _, _, m in both], 0.01), 1e6)
    obs = [(k, x, m) for k, x, m in both if x >= x_floor and m >= m_floor and k[1] != "CAN"]
    y = np.log([m / x for _, x, m in obs])
    y = np.clip(y, np.quantile(y, 0.1), np.quantile(y, 0.9))
    w = np.array([min(x, m) / max(x, m) for _, x, m in obs])
    with (PROJECT_ROOT / "dbt_project" / "seeds" / "trade_gravity.csv").open() as fh:
        km = {frozenset((g["country_a"], g["country_b"])): float(g["distance_km"]) for g in csv.DictReader(fh)}
    ln_d = np.log([km[frozenset(k[:2])] for k, _, _ in obs])
    return [k for k, _, _ in obs], y, w, ln_d


def test_margin_regression_matches_weighted_least_squares_rebuilt_from_raw_rows(sample_run):
    """The SQL closed form on group means equals an ordinary weighted least-squares fit with chapter
    dummies (numpy) on the sample rebuilt from raw rows; margins are its predictions plus the year
    effect, capped to [0, 0.2]."""
    import numpy as np

    keys, y, w, ln_d = _raw_annual_chapter_observations(sample_run)
    chapters = sorted({k[3] for k in keys})
    design = np.zeros((len(keys), len(chapters) + 1))
    for i, k in enumerate(keys):
        design[i, chapters.index(k[3])] = 1.0
    design[:, -1] = ln_d  # with Canada, China and the US the only contiguous pair is the only short one: no contiguity
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    beta, effects = coef[-1], dict(zip(chapters, coef[:-1]))
    residual = y - design @ coef
    years = np.array([k[2] for k in keys])
    year_effect = {yr: float(np.average(residual[years == yr], weights=w[years == yr])) for yr in set(years)}
    sql_beta, with_contiguity = _one(sample_run, """select max(beta_ln_distance), bool_or(with_contiguity)
        from intermediate.int_trade__cif_margins""", published=False)
    assert not with_contiguity and sql_beta == pytest.approx(beta, abs=1e-7)
    assert beta > 0, "margins grow with distance, as in BACI and the Growth Lab"
    with (PROJECT_ROOT / "dbt_project" / "seeds" / "trade_gravity.csv").open() as fh:
        import csv
        km = {frozenset((g["country_a"], g["country_b"])): float(g["distance_km"]) for g in csv.DictReader(fh)}
    for exporter, importer, chapter, year in (("CAN", "CHN", "12", 2024), ("USA", "CAN", "87", 2019), ("CHN", "USA", "85", 2021)):
        expected = np.exp(effects[chapter] + beta * np.log(km[frozenset((exporter, importer))]) + year_effect[year]) - 1
        margin = _one(sample_run, """select cif_margin from intermediate.int_trade__cif_margins where exporter_iso3 = ?
            and importer_iso3 = ? and cmd_code = ? and year = ?""", [exporter, importer, chapter, year], published=False)[0]
        assert margin == pytest.approx(min(max(expected, 0.0), 0.2), abs=1e-6), (exporter, importer, chapter, year)


def test_margins_differ_across_pairs_and_chapters_within_their_caps(sample_run):
    n, distinct, low, high, mean, by_chapter = _one(sample_run, """
        select count(*), count(distinct cif_margin), min(cif_margin), max(cif_margin), avg(cif_margin),
               count(distinct hs_chapter)
        from marts.trade_reconciled where hs_level = 'chapter' and period_type = 'annual'""")
    assert n > 0 and 0 <= low and high <= 0.2  # Growth Lab's caps [0, 0.2]
    assert distinct > 100 and by_chapter > 90
    # the estimated mean sits near BACI's 3.3%, not at the fixed ratio's 8%
    assert abs(mean - 0.033) < abs(mean - 0.08) and 0.01 < mean < 0.08
    # the same chapter costs more to ship from China to the US than from Canada to the US
    farther = _one(sample_run, """
        select avg(case when f.cif_margin > n.cif_margin then 1.0 else 0.0 end)
        from marts.trade_reconciled as f
        join marts.trade_reconciled as n using (product_code, period_type, period_start)
        where f.exporter_iso3 = 'CHN' and f.importer_iso3 = 'USA' and n.exporter_iso3 = 'CAN' and n.importer_iso3 = 'USA'
          and f.hs_level = 'chapter' and f.period_type = 'annual'""")[0]
    assert farther > 0.9


def test_canada_imports_are_valued_fas_and_lose_the_margin_only_when_it_narrows_the_gap(sample_run):
    rows = sample_run.query("""select importer_values_fas, margin_rule, value_exporter_fob, value_importer_cif,
            value_importer_fob_est
        from marts.trade_reconciled where importer_iso3 = 'CAN' and period_type = 'monthly'""")
    assert rows and all(fas for fas, *_ in rows)
    applied = kept = 0
    for _, rule, x, m, f in rows:
        assert rule in ("fas_margin_narrows_gap", "fas_valued_no_margin", "no_importer_declaration"), rule
        if rule == "fas_margin_narrows_gap":
            applied += 1
            assert f < m and abs(math.log(f / x)) < abs(math.log(m / x))
        elif rule == "fas_valued_no_margin":
            kept += 1
            assert f == m
    assert applied > 0 and kept > 0  # both happen on the sample
    others = _one(sample_run, """select bool_or(importer_values_fas), bool_or(margin_rule like 'fas%')
        from marts.trade_reconciled where importer_iso3 <> 'CAN'""")
    assert others == (False, False)


def test_annual_reconciled_values_are_the_sum_of_the_months(sample_run):
    rows = sample_run.query("""
        select a.exporter_iso3, a.importer_iso3, a.year, a.annual_basis, a.value_reconciled, sum(m.value_reconciled),
               a.value_reconciled_fixed_ratio, sum(m.value_reconciled_fixed_ratio), count(m.value_reconciled)
        from marts.trade_reconciled as a
        join marts.trade_reconciled as m
          on m.exporter_iso3 = a.exporter_iso3 and m.importer_iso3 = a.importer_iso3 and m.product_code = a.product_code
         and m.period_type = 'monthly' and m.year = a.year
        where a.period_type = 'annual' and a.product_code = 'TOTAL'
          and a.exporter_iso3 in ('CAN', 'CHN', 'USA') and a.importer_iso3 in ('CAN', 'CHN', 'USA')
        group by all""")
    assert len(rows) >= 6 * 11  # every direction, 2015-2025
    for e, i, year, basis, annual, months, fixed, fixed_months, n in rows:
        assert basis == "sum_of_months" and n == 12, (e, i, year)
        assert annual == pytest.approx(months, abs=0.2) and fixed == pytest.approx(fixed_months, abs=0.2)
    # where months are missing the row says why
    why = sample_run.query("""select annual_basis_reason from marts.trade_reconciled
        where annual_basis = 'annual_declarations'""")
    assert all(r and "of 12 months" in r for r, in why)


def test_hong_kong_transit_is_shown_beside_chinas_flows(sample_run):
    rows = sample_run.query("""
        select r.exporter_iso3, r.importer_iso3, r.transit_hub_iso3, r.transit_exporter_to_hub_usd, b.exports_usd,
               r.transit_share, r.value_exporter_fob_transit_adjusted, r.value_exporter_fob,
               r.value_reconciled_transit_adjusted, r.value_reconciled
        from marts.trade_reconciled as r
        left join marts.trade_balance as b
          on b.reporter_iso3 = r.exporter_iso3 and b.partner_iso3 = 'HKG' and b.period_type = r.period_type
         and b.period_start = r.period_start
        where r.product_code = 'TOTAL' and r.period_type = 'monthly' and r.period_start = '2024-06-01'
          and 'HKG' not in (r.exporter_iso3, r.importer_iso3)""")
    by_flow = {(r[0], r[1]): r for r in rows}
    for flow in (("CHN", "CAN"), ("CHN", "USA"), ("CAN", "CHN"), ("USA", "CHN")):
        _, _, hub, pool, exporter_to_hkg, share, adjusted, x, rec_adjusted, rec = by_flow[flow]
        assert hub == "HKG" and pool == pytest.approx(exporter_to_hkg) and pool > 0, flow
        # default: no adjustment (the share needs Hong Kong's re-export statistics by origin and destination)
        assert share == 0 and adjusted == pytest.approx(x) and rec_adjusted == pytest.approx(rec), flow
    assert by_flow[("CAN", "USA")][2] is None and by_flow[("USA", "CAN")][2] is None


def test_seed_story_has_trade_every_month_from_2018(sample_run):
    """The README's seed-story query: no month from 2018-01 without trade, and each month says how."""
    rows = sample_run.query("""select month, trade_total_usd, trade_a_to_b_method, trade_b_to_a_method, relations_index
        from marts.country_pair_monthly where pair = 'CAN-CHN' and month >= '2018-01-01' order by month""")
    assert len(rows) >= 96 and rows[0][0].isoformat() == "2018-01-01"
    assert [m for m, total, *_ in rows if total is None] == []
    assert all(a and b for _, _, a, b, _ in rows)
    # the monthly history the first run fetched: every reporter from January 2015
    first = dict(sample_run.query("""select "reporterISO", min(period) from raw.comtrade_record where "freqCode" = 'M'
        group by all""", published=False))
    assert first == {"CAN": "201501", "CHN": "201501", "USA": "201501"}


def test_us_canada_trade_is_about_one_trillion_canadian_dollars(sample_run):
    """Calibration: US-reported 2024 trade with Canada, USTR / US Census US$349.4B exports + US$412.7B imports
    = US$762.1B; 'nearly $1 trillion' is that in Canadian dollars (Bank of Canada 2024 average, 1.37 CAD per USD)."""
    exports, imports, total, reconciled = _one(sample_run, """select exports_usd, imports_usd, total_trade_usd,
        reconciled_total_trade_usd from marts.trade_balance where reporter_iso3 = 'USA' and partner_iso3 = 'CAN'
        and period_type = 'annual' and year = 2024""")
    assert exports == pytest.approx(349.4e9, rel=0.01) and imports == pytest.approx(412.7e9, rel=0.01)
    assert total == pytest.approx(762.1e9, rel=0.01)
    assert 0.95e12 < reconciled * 1.37 < 1.1e12


def test_the_fixed_ratio_stays_a_configuration_choice(sample_run, clone_warehouse):
    from flows import transform
    from flows.paths import Project

    run = clone_warehouse(sample_run)
    report = transform.build(Project(PROJECT_ROOT), run.db_path, "fixed", args=[
        "run", "--select", "int_trade__reconciled_flows", "trade_reconciled", "trade_balance",
        "--vars", "{trade_reconciliation_method: fixed_ratio}"])
    assert report.success, report.message
    con = duckdb.connect(str(run.db_path), read_only=True)
    methods, mismatches, weights = con.execute("""
        select list(distinct reconciliation_method order by reconciliation_method),
               count(*) filter (where abs(value_reconciled - value_reconciled_fixed_ratio) > 0.01),
               list(distinct weight_exporter order by weight_exporter)
        from marts.trade_reconciled where period_type = 'monthly'""").fetchone()
    imp, rec = con.execute("""select imports_usd, reconciled_imports_usd from marts.trade_balance where reporter_iso3 = 'CAN'
        and partner_iso3 = 'CHN' and period_type = 'monthly' and period_start = '2024-06-01'""").fetchone()
    con.close()
    assert methods == ["fixed_ratio_exporter_fob", "fixed_ratio_importer_cif"] and mismatches == 0 and weights == [0.0, 1.0]
    assert rec == pytest.approx(imp / 1.08, abs=0.01)  # Open Trade Statistics' constant


def test_broken_reconciliation_fails_the_dbt_tests_that_own_its_checks(sample_run, clone_warehouse):
    """Margins beyond the cap, weights not summing to 1 and a reconciled value outside the two
    declarations without a note each fail their dbt test."""
    from flows import transform
    from flows.paths import Project

    run = clone_warehouse(sample_run)
    con = duckdb.connect(str(run.db_path))
    con.execute("""update marts.trade_reconciled set cif_margin = 0.35
                   where exporter_iso3 = 'CHN' and importer_iso3 = 'USA' and product_code = '85' and year = 2020""")
    con.execute("""update marts.trade_reconciled set weight_importer = 0.9, weight_exporter = 0.9
                   where exporter_iso3 = 'USA' and importer_iso3 = 'CHN' and product_code = '12' and year = 2021""")
    con.execute("""update marts.trade_reconciled set value_reconciled = 3 * greatest(value_exporter_fob, value_importer_fob_est)
                   where exporter_iso3 = 'CAN' and importer_iso3 = 'CHN' and product_code = 'TOTAL' and year = 2022""")
    con.close()
    report = transform.build(Project(PROJECT_ROOT), run.db_path, "check",
                             args=["test", "--select", "trade_reconciled,test_type:generic"])
    failed = " ".join(n["node"] for n in report.nodes if n["status"] == "fail")
    assert not report.success
    assert "accepted_range_trade_reconciled_cif_margin" in failed
    assert "weight_exporter_weight_importer_1" in failed
    assert "value_reconciled_between" in failed
