"""The report site: static, self-contained HTML pages of one publication (flows/report/README.md).

- :mod:`flows.report.queries`: the site's query set (``queries/*.sql``), run against the published file
- :mod:`flows.report.run_page_data`: what the publication's run did, from the working warehouse's audit
- :mod:`flows.report.charts`: the Vega-Lite charts (through Altair)
- :mod:`flows.report.html`: the pages' HTML (tables, CSV links, filters, the chart embedding)
- :mod:`flows.report.pages`: the run page and the pair pages put together
- :mod:`flows.report.build`: writes the whole site into a folder
- :mod:`flows.report.locate`: where the current publication's site is (``bilateral report``)
"""
