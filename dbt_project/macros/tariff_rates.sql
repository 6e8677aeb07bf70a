{#- Base rates carried forward by year, for an equality join in place of an ASOF join.

    `rates` (a CTE name) holds WITS base rates by `keys` x year. This selects one row per key x
    horizon year (the years of `start` .. `end`, dbt vars tariff_schedule_start/end) with the rate
    of the latest year <= the horizon year: the row `asof join ... and rates.year <= horizon_year`
    picks, with its columns (year stays the year the rate was reported for). A key has no row for the
    horizon years before its first rate, as the ASOF left join found none. The tariff marts look up
    millions of line-intervals in a few thousand rate keys: one ASOF join per key x year (about 100k
    rows) and a hash join on the year is several times faster than an ASOF join per line-interval.
-#}
{% macro tariff_rates_by_year(rates, keys, start, end) %}
    select {% for key in keys %}k.{{ key }}, {% endfor %}y.horizon_year, r.* exclude ({{ keys | join(', ') }})
    from (select distinct {{ keys | join(', ') }} from {{ rates }}) as k
    cross join range(year(date '{{ start }}'), year(date '{{ end }}') + 1) as y(horizon_year)
    asof join {{ rates }} as r
        on {% for key in keys %}r.{{ key }} = k.{{ key }} and {% endfor %}r.year <= y.horizon_year
{% endmacro %}
