"""Database readiness: shared by ``/health/ready`` and ``manage.py verify_database``."""

import time
from dataclasses import asdict, dataclass, field

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from veritas.secrets import mask_url_passwords

# Once every migration this code knows is applied, it stays applied for the life of the
# process; only a pending plan is re-read on every probe.
_migrations_known_applied: set[str] = set()


@dataclass
class DatabaseReport:
    ok: bool
    status: str
    reason: str = ""
    latency_ms: float | None = None
    server_version: str | None = None
    pgvector_version: str | None = None
    # When pgvector is not installed: the version the server could install (None: none).
    pgvector_available: str | None = None
    unapplied_migrations: list[str] = field(default_factory=list)
    # For operators (verify_database), not for the anonymous probe: host names, paths.
    database: str = ""
    detail: str = ""

    def as_dict(self, public: bool = True) -> dict:
        data = asdict(self)
        if public:
            del data["database"], data["detail"]
        return data


def _unapplied_migrations(alias: str) -> list[str]:
    if alias in _migrations_known_applied:
        return []
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    if not pending:
        _migrations_known_applied.add(alias)
    return pending


def describe_target(alias: str = DEFAULT_DB_ALIAS) -> str:
    """Where the connection goes, without the password."""
    params = connections[alias].settings_dict
    kind = "embedded" if params.get("ENGINE") == "veritas.db" else "external"
    host = params.get("HOST") or "localhost"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"{kind} PostgreSQL {params.get('USER') or ''}@{host}{port}/{params.get('NAME')}"


def check_database(alias: str = DEFAULT_DB_ALIAS) -> DatabaseReport:
    target = describe_target(alias)
    connection = connections[alias]
    try:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
            available = None
            if row is None:
                cursor.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
                available = (cursor.fetchone() or [None])[0]
        pending = _unapplied_migrations(alias)
    except DatabaseError as exc:
        connection.close_if_unusable_or_obsolete()
        return DatabaseReport(
            ok=False,
            status="unavailable",
            reason=f"database unreachable ({exc.__class__.__name__})",
            database=target,
            detail=mask_url_passwords(str(exc).strip()),
        )
    report = DatabaseReport(
        ok=True,
        status="ready",
        latency_ms=latency_ms,
        server_version=server_version,
        pgvector_version=row[0] if row else None,
        pgvector_available=available,
        unapplied_migrations=pending,
        database=target,
    )
    if report.pgvector_version is None and report.pgvector_available is None:
        report.ok, report.status = False, "not_ready"
        report.reason = "the server has no pgvector extension: install it (PostgreSQL's `vector` package)"
    elif report.pgvector_version is None:
        report.ok, report.status = False, "not_ready"
        report.reason = "the pgvector extension is not installed: run `python manage.py migrate`"
    elif pending:
        report.ok, report.status = False, "not_ready"
        report.reason = f"{len(pending)} unapplied migration(s): run `python manage.py migrate`"
    return report
