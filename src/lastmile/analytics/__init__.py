"""Measuring a delivery day: key figures, tables, figures and a report from
:class:`~lastmile.domain.day.DayRecord`\\ s, whoever ran the day (the digital
twin, the service).

    from lastmile.analytics import summarise, stop_table, write_csv
    for kpis in summarise(records, by="vehicle"):
        print(kpis.group, kpis.on_time_rate)
    write_csv(stop_table(records), "stops.csv")

Figures (matplotlib, no global state) are in :mod:`lastmile.analytics.figures`,
the self-contained HTML report in :mod:`lastmile.analytics.report`; importing
this package loads neither.
"""

from lastmile.analytics.io import read_records, write_csv
from lastmile.analytics.kpis import GROUPINGS, Grouping, Kpis, summarise
from lastmile.analytics.tables import leg_table, stop_table

__all__ = [
    "GROUPINGS",
    "Grouping",
    "Kpis",
    "leg_table",
    "read_records",
    "stop_table",
    "summarise",
    "write_csv",
]
