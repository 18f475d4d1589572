from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from veritas import embedded


class Command(BaseCommand):
    help = (
        "Status, start or stop of the embedded PostgreSQL server (only when DATABASE_URL is unset). "
        "A stop sticks: connections get errors (the API 503) until `start`."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])
        parser.add_argument(
            "--if-embedded",
            action="store_true",
            help="Do nothing when DATABASE_URL is set (used by `make`, which starts the embedded server if any).",
        )

    def handle(self, action, if_embedded, **options):
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "veritas.db":
            if if_embedded:
                return
            raise CommandError("DATABASE_URL is set: this project does not use the embedded server.")
        cluster = embedded.cluster_for(db["EMBEDDED_DATA_DIR"])
        try:
            if action == "start":
                embedded.start(cluster, db["NAME"], timeout=settings.VERITAS_DB_START_TIMEOUT)
            elif action == "stop":
                self.stop(cluster)
        except embedded.EmbeddedDatabaseError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.status_line(cluster))

    def stop(self, cluster: embedded.EmbeddedCluster) -> None:
        report = embedded.stop(cluster)
        if not report.was_running:
            self.stdout.write("not running")
        for connection in report.closed_connections:
            self.stdout.write(f"disconnected: {connection}")
        if cluster.stop_marker.exists():
            self.stdout.write(
                "It stays stopped (requests get 503) until `make run` or `python manage.py embedded_db start`."
            )

    def status_line(self, cluster: embedded.EmbeddedCluster) -> str:
        state = embedded.server_state(cluster)
        if state == "stopped" and cluster.stop_marker.exists():
            state = "stopped with `make db-stop`"
        return f"{state}: {cluster.pgdata} (socket in {cluster.socket_dir})"
