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
        self.stdout.write(f"pgvector:     {report.pgvector_version or 'not installed'}")
        self.stdout.write(f"migrations:   {len(report.unapplied_migrations)} unapplied")
        for name in report.unapplied_migrations:
            self.stdout.write(f"  - {name}")
        if report.ok or (allow_pending_migrations and report.unapplied_migrations):
            self.stdout.write(self.style.SUCCESS("database ok" if report.ok else "database reachable"))
            return
        raise CommandError(report.reason)
