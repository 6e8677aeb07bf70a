"""``bilateral bench``: one benchmark suite, bilateral against a baseline measured in the same run.

- :mod:`flows.bench.sizes`: the named data sizes (tiny, small, medium, large);
- :mod:`flows.bench.generate`: generated landed files (GDELT export CSVs, Comtrade answers);
- :mod:`flows.bench.variants`: one measured thing each (bilateral's load, the bare DuckDB
  statement, dlt's dict-row and arrow-table paths, a sample night), run in a child process;
- :mod:`flows.bench.suite`: cases (a variant, its baseline, a target), repeats, the table, JSON.
"""
