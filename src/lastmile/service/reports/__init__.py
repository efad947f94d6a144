"""Reports: what happened on delivery days, as KPIs, CSV, figures and an HTML report."""
