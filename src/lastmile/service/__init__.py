"""The lastmile web service: FastAPI app, database, auth and background planning.

Nothing in the library (domain, planning, operations, ...) imports this package.
"""
