-- DOC API articles per pair query: one row per pair x URL (the latest sighting wins).
with source as (
    {{ accepted_records('gdelt_doc', 'gdelt_doc_article') }}
),

typed as (
    select
        pair,
        query,
        url,
        nullif(url_mobile, '') as url_mobile,
        title,
        try_strptime(seendate, '%Y%m%dT%H%M%SZ') as seen_at,
        domain,
        language,
        sourcecountry as source_country,
        _synthetic as is_sample,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file,
        record_no
    from source
),

latest as (
    select *
    from typed
    where url is not null and url <> ''
    qualify row_number() over (partition by pair, url order by observed_at desc, loaded_at desc, landed_file desc, record_no) = 1
)

select pair, query, url, url_mobile, title, seen_at, domain, language, source_country, is_sample, loaded_at
from latest
