"""Benchmark: tariff schedule and exposure build time for all configured pairs, 2015-2026, at HS6.

    .venv/bin/python benchmarks/bench_tariffs.py                          # configured countries (bilateral.toml)
    .venv/bin/python benchmarks/bench_tariffs.py --countries CAN,CHN,USA,MEX,JPN --workdir /tmp/bench_tariffs

Worst case for WITS: every reporter has a full MFN schedule (the 5,388 HS6 lines of the real US 2017
recording, rates generated) for EVERY year 2015-2026, plus preferential schedules for USMCA pairs, all
loaded through the real connector (replay) and load spec. Trade: a synthetic marts.trade_by_product
(every HS chapter plus the listed products, annual 2015-2025 and monthly 2024-01..2026-09, every
directed pair) written straight into the warehouse, so only the tariff models are built and timed.
Registry: the shipped seed. Not part of the test suite. Prints seconds per step and model, rows, peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LISTED = ["870340", "870360", "870370", "870380", "120510", "1514", "230649", "071310", "0203", "030612", "030614"]
TARIFF_MODELS = ("stg_wits__tariff_lines stg_tariffs__measures_registry int_tariffs__hs_codes int_tariffs__registry_tokens "
                 "int_tariffs__registry_hs6 int_tariffs__registry_problems int_tariffs__registry int_tariffs__base_rates "
                 "int_tariffs__trade int_tariffs__pairs int_tariffs__pair_measure_products tariff_measures tariff_schedule").split()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dbt(db: Path, workdir: Path, args: list[str]) -> tuple[float, dict[str, float]]:
    from dbt.cli.main import dbtRunner

    os.environ["BILATERAL_DUCKDB"] = str(db)
    target = workdir / "dbt_target"
    t = time.perf_counter()
    res = dbtRunner().invoke([*args, "--project-dir", str(ROOT / "dbt_project"), "--profiles-dir", str(ROOT / "dbt_project"),
                              "--target-path", str(target), "--log-path", str(workdir / "dbt_logs"), "--quiet"])
    secs = time.perf_counter() - t
    from dbt.adapters.duckdb import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    if not res.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {res.exception or [str(r.message) for r in (res.result or [])]}")
    per_node = {r.node.name: round(float(r.execution_time or 0), 2) for r in (res.result or [])}
    return secs, per_node


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--countries", default="", help="comma-separated ISO3 (default: countries.focus of bilateral.toml)")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--keep", action="store_true")
    opts = ap.parse_args()

    import duckdb

    from flows.config import load_config
    from flows.sources.wits.connector import WitsConnector, request_plan, tariff_url, years
    from flows.http import HttpClient, request_key
    from flows.landing import Lander
    from flows.loading import load_results
    from flows.recording import RecordingWriter, ReplayTransport
    from flows.sources.wits import sample as wits_sample
    from flows.warehouse import ensure_schemas

    overrides = ["years.start=2015", "years.end=2026"]
    if opts.countries:
        overrides.append(f"countries.focus={opts.countries}")
    config = load_config(overrides=overrides)
    workdir = Path(opts.workdir or tempfile.mkdtemp(prefix="bench_tariffs_"))
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    db = workdir / "bench.duckdb"
    print(f"countries {','.join(config.countries)}; directed pairs {2 * len(config.pairs)}; years 2015-2026; workdir {workdir}")

    # 1. full-size WITS answers for every request of the connector, through replay + landing + load
    t = time.perf_counter()
    src = config.sources["wits"]
    template = wits_sample._template()
    codes = [v["id"] for v in template["structure"]["dimensions"]["series"][3]["values"]]
    writer = RecordingWriter(workdir / "rec", "wits")
    for year in years(config, src):
        for reporter, partner in request_plan(config, src):
            key = request_key(src.base_url, tariff_url(src, reporter, partner, year), ())
            if partner is None or frozenset({reporter, partner}) in wits_sample.AGREEMENTS:
                body = wits_sample._message(template, reporter, partner, year, codes)
                writer.add(key, body, synthetic=True, recorded_at="2026-10-15T00:00:00+00:00")
            else:
                writer.add(key, wits_sample.NO_DATA_BODY.encode(), content_type="application/xml", synthetic=True)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    conn = WitsConnector(config, src, HttpClient(src, ReplayTransport(workdir / "rec")), run_date=date(2026, 11, 28))
    lander = Lander(workdir / "landing", "wits", "2026-11-28", "bench")
    results = [conn.extract(p, lander) for p in conn.partitions()]
    extract_s = time.perf_counter() - t
    ensure_schemas(db)
    t = time.perf_counter()
    report = load_results(db, "bench", results)
    load_s = time.perf_counter() - t
    print(f"wits generate {gen_s:.1f} s; extract+land {extract_s:.1f} s ({len(results)} partitions); "
          f"load {load_s:.1f} s ({report.rows_by_table.get('wits_trn_tariff', 0):,} rows)")

    # 2. seeds and dim_product (not timed as tariff work)
    secs, _ = _dbt(db, workdir, ["build", "--select", "tariff_measures_registry", "tariff_wits_countries", "comtrade_hs_codes",
                                 "comtrade_hs_sections", "dim_product", "--exclude", "resource_type:test", "resource_type:unit_test"])
    print(f"seeds + dim_product {secs:.1f} s")

    # 3. synthetic trade_by_product for every directed pair
    countries = list(config.countries)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists marts")
        con.execute(f"""
            create or replace table marts.trade_by_product as
            with c as (select unnest({countries}) as iso3),
            pairs as (select a.iso3 as reporter_iso3, b.iso3 as partner_iso3 from c as a join c as b on a.iso3 <> b.iso3),
            products as (select product_code from marts.dim_product where hs_level = 'chapter'
                         union all select unnest({LISTED})),
            periods as (
                select 'annual' as period_type, make_date(y, 1, 1) as period_start, y as year, null::integer as month
                from range(2015, 2026) as t(y)
                union all
                select 'monthly', d::date, year(d), month(d)
                from generate_series(date '2024-01-01', date '2026-09-01', interval 1 month) as t(d)
            )
            select p.reporter_iso3, p.partner_iso3, pe.period_type, pe.period_start, pe.year, pe.month, pr.product_code,
                   (hash(p.reporter_iso3, p.partner_iso3, pr.product_code, pe.period_start) % 1000000000)::double
                     / case when pe.period_type = 'monthly' then 12 else 1 end
                     / case when length(pr.product_code) > 2 then 20 else 1 end as imports_usd,
                   true as is_sample
            from pairs as p, products as pr, periods as pe
        """)
        trade_rows = con.execute("select count(*) from marts.trade_by_product").fetchone()[0]
    print(f"synthetic trade_by_product {trade_rows:,} rows")

    # 4. the timed part: schedule (with its upstream tariff models) and exposure
    sched_s, sched_nodes = _dbt(db, workdir, ["run", "--select", *TARIFF_MODELS])
    expo_s, expo_nodes = _dbt(db, workdir, ["run", "--select", "tariff_exposure"])
    with duckdb.connect(str(db), read_only=True) as con:
        counts = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
                  for t in ("tariff_measures", "tariff_schedule", "tariff_exposure")}
        hs6 = con.execute("select count(distinct hs6) from marts.tariff_schedule").fetchone()[0]
    print(f"schedule build (dbt run incl. parse, {len(TARIFF_MODELS)} models) {sched_s:.1f} s; "
          f"tariff_schedule {sched_nodes.get('tariff_schedule')} s -> {counts['tariff_schedule']:,} intervals over {hs6:,} HS6 codes")
    print(f"exposure build (dbt run incl. parse) {expo_s:.1f} s; tariff_exposure {expo_nodes.get('tariff_exposure')} s "
          f"-> {counts['tariff_exposure']:,} rows")
    print("per model (s):", json.dumps({**sched_nodes, **expo_nodes}))
    print(f"peak RSS {_rss_mb():.0f} MB")
    if not opts.keep and not opts.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
