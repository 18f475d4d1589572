from django.apps import AppConfig


class VeritasConfig(AppConfig):
    """The core app: the user model, API conventions, health and the embedded database."""

    name = "veritas"
    verbose_name = "Veritas core"

    def ready(self):
        from django.core.signals import request_finished
        from django.db.backends.signals import connection_created

        from veritas import request_id, statement_timeout

        request_finished.connect(request_id.clear, dispatch_uid="veritas.request_id.clear")
        connection_created.connect(statement_timeout.apply, dispatch_uid="veritas.statement_timeout")
