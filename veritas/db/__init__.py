"""PostgreSQL backend for the embedded server: Django's own, plus start-on-demand.

Settings select it (``ENGINE = "veritas.db"``) only when ``DATABASE_URL`` is unset.
"""
