from django.apps import AppConfig


class VeritasConfig(AppConfig):
    """The core app: the user model, API conventions, health and the embedded database."""

    name = "veritas"
    verbose_name = "Veritas core"
