from django.conf import settings
from django.core import checks


@checks.register()
def evaluation_interval_fits_the_window(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Two evaluations further apart than the window restart the debounce (services.py):
    a periodic interval beyond it would never confirm a worse status."""
    window = settings.MONITORING_HEALTH["WINDOW_MINUTES"] * 60
    interval = settings.MONITORING_HEALTH_INTERVAL_SECONDS
    if interval <= window:
        return []
    return [
        checks.Warning(
            f"MONITORING_HEALTH_INTERVAL_SECONDS ({interval}) is longer than MONITORING_WINDOW_MINUTES "
            f"({window // 60} min): periodic evaluations will never confirm a worse status.",
            hint="Evaluate at least once per window (the default is every 60 s for a 15-minute window).",
            id="monitoring.W001",
        )
    ]
