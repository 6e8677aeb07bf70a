"""The queries analysts and BI tools run on the published file, as one list: every ```sql block of
README.md ("Example queries") and every ``.sql`` file under ``flows/report/queries/`` (the report
site's datasets, when that folder exists; their DuckDB named parameters ``$a``/``$b`` are the pair,
see that folder's README). The README test and the query latency benchmark both read them here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
REPORT_QUERIES = PROJECT_ROOT / "flows" / "report" / "queries"
#: the pair the report queries are measured with (the default focus's first pair)
DEFAULT_PARAMS = {"a": "CAN", "b": "CHN"}

_SQL_BLOCK = re.compile(r"^```sql[ \t]*\n(.*?)^```", re.S | re.M)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Query:
    name: str
    sql: str
    params: dict[str, str] = field(default_factory=dict)


def readme_blocks(readme: Path = README) -> list[Query]:
    """Every ```sql block of ``readme``, named ``README#<n>`` in order (1-based)."""
    text = Path(readme).read_text(encoding="utf-8")
    return [Query(f"README#{i}", block.strip()) for i, block in enumerate(_SQL_BLOCK.findall(text), start=1)]


def report_queries(folder: Path = REPORT_QUERIES, params: dict[str, str] | None = None) -> list[Query]:
    """Every ``*.sql`` in ``folder`` (none when it does not exist), with the named parameters it uses
    (DuckDB refuses a named parameter the query does not use)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    values = dict(DEFAULT_PARAMS, **(params or {}))
    out = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8").strip()
        used = {name: values[name] for name in _PARAM.findall(sql) if name in values}
        out.append(Query(f"report/{path.stem}", sql, used))
    return out
