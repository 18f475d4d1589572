"""Demo data for `make run`: a week of logs from four sources with an incident, and the
hourly health evaluations of that week, so the admin's charts and the health history
show something on first run. Idempotent: nothing is added when demo logs exist."""

import random
from datetime import timedelta

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
    hour = start + timedelta(hours=1)
    while hour <= now:
        services.evaluate_health(now=hour)
        hour += timedelta(hours=1)
    stdout.write(f"Monitoring: {len(entries)} demo logs over {DAYS} days with an incident, hourly health history.")
