from django.conf import settings
from django.db.backends.postgresql import base

from veritas import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL backend that starts the embedded server when a connection fails.

    A running server costs nothing extra: the start-up path runs only after a failed
    connection, then the connection is tried once more. When the server cannot be made
    ready, the error is psycopg's ``OperationalError`` (Django wraps it) (the API answers 503) whose message says
    what to do.
    """

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            cluster = embedded.cluster_for(self.settings_dict["EMBEDDED_DATA_DIR"])
            try:
                embedded.ensure_ready(
                    cluster, conn_params.get("dbname") or "postgres", timeout=settings.VERITAS_DB_START_TIMEOUT
                )
            except embedded.EmbeddedDatabaseError as exc:
                raise base.Database.OperationalError(str(exc)) from exc
            return super().get_new_connection(conn_params)
