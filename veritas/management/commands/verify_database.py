from django.core.management.base import BaseCommand, CommandError

from veritas import health


class Command(BaseCommand):
    help = (
        "Check the database the settings point at (starting the embedded one if needed): "
        "reachability, latency, server and pgvector versions, unapplied migrations."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-pending-migrations",
            action="store_true",
            help="Succeed even when migrations are pending (used by `make` before it migrates).",
        )

    def handle(self, allow_pending_migrations, **options):
        report = health.check_database()
        self.stdout.write(f"database:     {report.database}")
        if report.status == "unavailable":
            raise CommandError(
                f"cannot connect: {report.detail}\n"
                "With DATABASE_URL set, check the URL, that the server runs and accepts connections from here "
                "(and sslmode for managed services). Without it, Veritas starts its embedded PostgreSQL under "
                "VERITAS_DATA_DIR: the message above says why that failed."
            )
        self.stdout.write(f"latency:      {report.latency_ms} ms (SELECT 1)")
        self.stdout.write(f"server:       PostgreSQL {report.server_version}")
        pending = report.unapplied_migrations
        if report.pgvector_version:
            pgvector = report.pgvector_version
        elif report.pgvector_available and pending:
            pgvector = f"{report.pgvector_available} available; the first migration installs it"
        elif report.pgvector_available:
            pgvector = f"{report.pgvector_available} available, not installed"
        else:
            pgvector = "not available on this server"
        self.stdout.write(f"pgvector:     {pgvector}")
        if allow_pending_migrations and pending:
            # `make` migrates next, and migrate lists them as it applies them.
            self.stdout.write(f"migrations:   {len(pending)} to apply")
        else:
            self.stdout.write(f"migrations:   {len(pending)} unapplied")
            for name in pending:
                self.stdout.write(f"  - {name}")
        if report.ok or (allow_pending_migrations and report.unapplied_migrations):
            self.stdout.write(self.style.SUCCESS("database ok" if report.ok else "database reachable"))
            return
        raise CommandError(report.reason)
