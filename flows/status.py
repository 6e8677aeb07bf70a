"""``bilateral status``: the last runs, their outcome, freshness and quarantined records per source.

Freshness follows the dbt sources' thresholds (flows/freshness.py): late after warn_after without a
load, stale after error_after (2 and 8 days for most sources)."""
from __future__ import annotations

import os
import socket

from flows import freshness
from flows.config import Config
from flows.warehouse import connect


def process_alive(pid: int | None, host: str | None) -> bool | None:
    """Whether a run's process still exists (None: it ran on another host, we cannot tell)."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _runs_as_seen_now(cols: list[str], rows: list[tuple]) -> tuple[list[str], list[tuple]]:
    """A ``running`` row whose process is gone is shown as abandoned (the next run records it so);
    the process columns are folded into the message."""
    keep = cols[:-4]
    out = []
    for row in rows:
        record = dict(zip(cols, row))
        if record["status"] == "running":
            alive = process_alive(record["pid"], record["host"])
            where = f"in step {record['current_step']}, last seen {record['last_seen_at']}"
            if alive is False:
                record["status"] = "abandoned"
                record["message"] = (f"abandoned: process {record['pid']} is gone ({where}); "
                                     "the next run records it and removes what it left")
            else:
                record["message"] = f"running as pid {record['pid']} on {record['host']} ({where})"
        out.append(tuple(record[c] for c in keep))
    return keep, out


def status_tables(config: Config, limit: int = 10) -> dict[str, tuple[list[str], list[tuple]]]:
    if not config.duckdb_path.exists():
        return {"runs": (["message"], [("no runs yet: run `bilateral run`",)])}
    out = {}
    with connect(config.duckdb_path, read_only=True) as con:
        def q(name: str, sql: str, params=()) -> None:
            cur = con.execute(sql, list(params))
            out[name] = ([d[0] for d in cur.description], cur.fetchall())

        q("runs", "select run_id, mode, run_date, status, published, rows_landed, rows_loaded, "
                  "round(epoch(coalesce(ended_at, last_seen_at) - started_at), 1) as seconds, "
                  "left(coalesce(message, ''), 160) as message, pid, host, last_seen_at, current_step "
                  "from audit.runs order by started_at desc limit ?", [limit])
        out["runs"] = _runs_as_seen_now(*out["runs"])
        q("sources", """
            with files as (
                select source, max(fetched_at) filter (where status = 'landed') as last_landed,
                       count(*) filter (where run_id = (select run_id from audit.runs order by started_at desc limit 1))
                           as files_last_run
                from audit.landed_files group by source),
            loads as (
                select l.source, max(f.loaded_at) as last_loaded, sum(f.rows) as rows_loaded_total
                from audit.loaded_files f join audit.landed_files l on l.path = f.path group by l.source),
            last_step as (
                select source, status, message from audit.run_steps
                where step = 'extract' and source is not null
                qualify row_number() over (partition by source order by started_at desc) = 1)
            select files.source, last_step.status as last_run_status, loads.last_loaded,
                   round(epoch(now() - loads.last_loaded) / 3600, 1) as hours_since_load,
                   null as freshness,
                   loads.rows_loaded_total, files.files_last_run,
                   left(coalesce(last_step.message, ''), 160) as last_error
            from files left join loads using (source) left join last_step using (source)
            order by files.source""")
        limits = freshness.thresholds(config.project.dbt_staging_dir)
        cols, rows = out["sources"]
        at, hours = cols.index("freshness"), cols.index("hours_since_load")
        out["sources"] = (cols, [(*r[:at], freshness.level(r[hours], limits.get(r[0], freshness.Thresholds())),
                                  *r[at + 1:]) for r in rows])
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'quarantine' "
                                            "order by 1").fetchall()]
        if tables:
            union = " union all ".join(f"select source, run_id, status from quarantine.{t}" for t in tables)
            q("quarantine", f"""
                select source,
                       count(*) filter (where run_id = (select run_id from audit.runs order by started_at desc limit 1))
                           as last_run,
                       count(*) filter (where status = 'quarantined') as quarantined_total,
                       count(*) filter (where status = 'released') as released,
                       count(*) filter (where status = 'dropped') as dropped
                from ({union}) group by source order by source""")
    return out
