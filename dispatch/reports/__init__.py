"""The figures CPTS staff audit: the report, its CSV, and the export of requests."""
