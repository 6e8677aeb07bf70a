-- Every broken registry rule (row, field, problem): dates ordered, rates in range, HS codes
-- well-formed and known to dim_product, no overlap within a measure, a source on every row.
-- int_tariffs__registry already refuses to build on these; this test lists them as its failures.
{{ config(severity='error') }}
select row_id, field, problem from {{ ref('int_tariffs__registry_problems') }}
