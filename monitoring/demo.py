"""Demo data for `make run`: a week of logs from four sources with an incident, and the
health evaluations of that week (hourly, closer together around the incident), so the
admin's charts and the health history show something on first run. Idempotent: nothing is added when demo logs exist."""

import random
from datetime import datetime, timedelta

from django.utils import timezone

from monitoring import services
from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringLog

SOURCES = ["api-gateway", "auth", "worker", "database"]
DAYS = 7
MESSAGES = {
    "debug": ["cache hit", "query plan cached", "heartbeat"],
    "info": ["request served", "user signed in", "job finished", "connection opened"],
    "warning": ["slow response", "retrying request", "pool nearly exhausted"],
    "error": ["upstream timeout", "query failed", "job crashed"],
    "critical": ["database unreachable", "disk full"],
}
NORMAL_MIX = {"debug": 20, "info": 73, "warning": 6, "error": 0.8, "critical": 0.2}
INCIDENT_MIX = {"debug": 5, "info": 45, "warning": 10, "error": 30, "critical": 10}


def seed(*, stdout) -> None:
    if MonitoringLog.objects.filter(source__in=SOURCES).exists():
        return
    rng = random.Random(2026)  # noqa: S311 (demo data)
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(days=DAYS)
    incident = (now - timedelta(days=DAYS / 3.5, hours=5), now - timedelta(days=DAYS / 3.5))
    entries = []
    moment = start
    while moment < now:
        for source in SOURCES:
            hit = source in ("database", "api-gateway") and incident[0] <= moment < incident[1]
            mix = INCIDENT_MIX if hit else NORMAL_MIX
            level = rng.choices(list(mix), weights=list(mix.values()))[0]
            entries.append(
                LogEntry(
                    source=source,
                    level=level,
                    message=rng.choice(MESSAGES[level]),
                    timestamp=moment + timedelta(seconds=rng.randrange(30)),
                    metadata={"demo": True, "latency_ms": rng.randrange(5, 900 if hit else 120)},
                )
            )
        moment += timedelta(seconds=30)
    for offset in range(0, len(entries), 10_000):
        ingest(entries[offset : offset + 10_000])
    for moment in evaluation_times(start, now, incident):
        services.evaluate_health(now=moment)
    stdout.write(f"Monitoring: {len(entries)} demo logs over {DAYS} days with an incident, hourly health history.")


def evaluation_times(start: datetime, now: datetime, incident: tuple[datetime, datetime]) -> list[datetime]:
    """Hourly, and every 5 minutes from the incident's start to half an hour after its end:
    a worse status is confirmed only by evaluations that keep seeing it (no further apart
    than the window) for the debounce time."""
    hourly = {start + timedelta(hours=h) for h in range(1, (now - start) // timedelta(hours=1) + 1)}
    span = (incident[1] - incident[0] + timedelta(minutes=30)) // timedelta(minutes=5)
    close = {incident[0] + timedelta(minutes=5 * i) for i in range(span + 1)}
    return sorted(moment for moment in hourly | close if moment <= now)
