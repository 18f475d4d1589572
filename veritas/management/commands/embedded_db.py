from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from veritas import embedded


class Command(BaseCommand):
    help = "Status, start or stop of the embedded PostgreSQL server (only when DATABASE_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, action, **options):
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "veritas.db":
            raise CommandError("DATABASE_URL is set: this project does not use the embedded server.")
        cluster = embedded.cluster_for(db["EMBEDDED_DATA_DIR"])
        try:
            if action == "start":
                embedded.ensure_ready(cluster, db["NAME"], timeout=settings.VERITAS_DB_START_TIMEOUT)
            elif action == "stop" and not embedded.stop(cluster):
                self.stdout.write("not running")
        except embedded.EmbeddedDatabaseError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{embedded.server_state(cluster)}: {cluster.pgdata} (socket in {cluster.socket_dir})")
