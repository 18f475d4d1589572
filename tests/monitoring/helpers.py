"""Shared by the health tests: a fixed clock, the default thresholds, log bursts."""

from datetime import UTC, datetime

from monitoring.ingest import LogEntry, ingest
from monitoring.services import Thresholds

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T = Thresholds(
    window_minutes=15,
    warning_error_rate=0.05,
    critical_error_rate=0.20,
    min_logs=10,
    debounce_minutes=10,
    silence_minutes=60,
)


def thresholds_setting(t: Thresholds = T) -> dict:
    """``t`` as settings.MONITORING_HEALTH."""
    return {key.upper(): value for key, value in t.as_dict().items()}


def counts(error=0, info=0, critical=0) -> dict[str, int]:
    return {"debug": 0, "info": info, "warning": 0, "error": error, "critical": critical}


def log_burst(source, *, errors, ok, at) -> None:
    """Logs of one moment, received then."""
    ingest(
        [LogEntry(source=source, level="error", message="boom", timestamp=at) for _ in range(errors)]
        + [LogEntry(source=source, level="info", message="ok", timestamp=at) for _ in range(ok)],
        received_at=at,
    )
