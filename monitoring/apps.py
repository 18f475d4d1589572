from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Log ingestion, analysis results, system health and its history."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from monitoring import checks  # noqa: F401 (registers the system checks)
