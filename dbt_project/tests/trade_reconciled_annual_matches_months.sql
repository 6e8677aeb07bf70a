-- Monthly and annual reconciliation agree: an annual row of trade_reconciled with annual_basis
-- sum_of_months equals the sum of its twelve monthly rows (declarations and both methods' values,
-- within a cent per month of rounding), and exactly the years where every declaring side declared
-- every month are summed (annual_basis says so; annual_basis_reason otherwise).
with reconciled as (
    select * from {{ ref('trade_reconciled') }}
),

months as (
    select
        exporter_iso3, importer_iso3, year, product_code,
        count(*) as month_rows,
        count(value_exporter_fob) as months_exporter,
        count(value_importer_cif) as months_importer,
        sum(value_exporter_fob) as value_exporter_fob,
        sum(value_importer_cif) as value_importer_cif,
        sum(value_reconciled) as value_reconciled,
        sum(value_reconciled_estimated) as value_reconciled_estimated,
        sum(value_reconciled_fixed_ratio) as value_reconciled_fixed_ratio
    from reconciled
    where period_type = 'monthly'
    group by exporter_iso3, importer_iso3, year, product_code
),

annual as (
    select * from reconciled where period_type = 'annual'
)

select a.exporter_iso3, a.importer_iso3, a.year, a.product_code, a.annual_basis, a.annual_basis_reason,
       a.value_reconciled, m.value_reconciled as months_value_reconciled, m.months_exporter, m.months_importer
from annual as a
left join months as m using (exporter_iso3, importer_iso3, year, product_code)
where (a.annual_basis = 'sum_of_months' and (
           m.month_rows is null
        or abs(coalesce(a.value_exporter_fob, 0) - coalesce(m.value_exporter_fob, 0)) > 0.12
        or abs(coalesce(a.value_importer_cif, 0) - coalesce(m.value_importer_cif, 0)) > 0.12
        or abs(a.value_reconciled - m.value_reconciled) > 0.12
        or abs(a.value_reconciled_estimated - m.value_reconciled_estimated) > 0.12
        or abs(a.value_reconciled_fixed_ratio - m.value_reconciled_fixed_ratio) > 0.12))
   or (a.annual_basis = 'annual_declarations'
       and (a.annual_declared_exporter_fob is null or coalesce(m.months_exporter, 0) = 12)
       and (a.annual_declared_importer_cif is null or coalesce(m.months_importer, 0) = 12)
       and (a.annual_declared_exporter_fob is not null or coalesce(m.months_exporter, 0) = 0)
       and (a.annual_declared_importer_cif is not null or coalesce(m.months_importer, 0) = 0))
