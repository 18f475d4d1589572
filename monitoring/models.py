"""Monitoring: logs sent by systems, per-source health evaluated from them, and its history.

MonitoringLog is append-only and sized for tens of millions of rows: every index below
names the query that needs it. Counts for statistics come from LogRollup, which the
ingestion and pruning transactions keep exact (see monitoring/ingest.py, services.py).
"""

from django.db import models
from django.utils import timezone


class Level(models.TextChoices):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Status(models.TextChoices):
    """A component's health, from best to worst (``Status.rank`` relies on this order), and
    RETIRED: set by staff for a component that no longer exists, which is not ranked and
    counts in no overall status."""

    NORMAL = "NORMAL"
    UNKNOWN = "UNKNOWN"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    RETIRED = "RETIRED"

    @classmethod
    def rank(cls, status: str) -> int:
        if status == cls.RETIRED:
            raise ValueError("a retired component has no rank")
        return list(cls.values).index(status)

    @classmethod
    def worst(cls, statuses) -> "Status":
        return cls(max(statuses, key=cls.rank, default=cls.UNKNOWN))


class MonitoringLog(models.Model):
    """One log line. Append-only: rows are only inserted (monitoring/ingest.py) and pruned."""

    source = models.CharField(max_length=100)
    level = models.CharField(max_length=8, choices=Level.choices)
    message = models.TextField()
    # When it happened, as the client says (defaults to receipt).
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(db_default=models.functions.Now())
    metadata = models.JSONField(default=dict, blank=True)
    # Client-chosen id, unique per source: re-sending a batch inserts nothing twice.
    # NULL (not ""): "no id", outside the partial unique constraint.
    event_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001

    class Meta:
        indexes = [
            # GET logs/ unfiltered or by since/until (newest first, keyset cursor),
            # statistics' oldest/newest, prune_monitoring.
            models.Index(models.F("timestamp").desc(), models.F("id").desc(), name="monlog_time_idx"),
            # GET logs/?source=…
            models.Index("source", models.F("timestamp").desc(), models.F("id").desc(), name="monlog_src_time_idx"),
            # GET logs/?source=…&level=…, health evaluation (errors per source in a window).
            models.Index(
                "source", "level", models.F("timestamp").desc(), models.F("id").desc(), name="monlog_src_lvl_time_idx"
            ),
        ]
        constraints = [
            # Idempotent re-sends: ON CONFLICT (source, event_id) WHERE event_id IS NOT NULL DO NOTHING.
            models.UniqueConstraint(
                fields=["source", "event_id"], condition=models.Q(event_id__isnull=False), name="monlog_event_id_uniq"
            ),
            models.CheckConstraint(condition=models.Q(level__in=Level.values), name="monlog_level_valid"),
        ]

    def __str__(self):
        return f"[{self.level}] {self.source}: {self.message[:60]}"


class LogRollup(models.Model):
    """Exact count of logs per source, level and hour (of their timestamp), and when the
    latest of them was received.

    Written only in the same transaction as the logs it counts (ingest, prune), so the
    statistics endpoint reads a few thousand rows instead of scanning millions, and the
    health evaluation finds a source's last receipt without touching the logs.
    """

    source = models.CharField(max_length=100)
    level = models.CharField(max_length=8, choices=Level.choices)
    hour = models.DateTimeField()
    count = models.BigIntegerField()
    # Server time, not the client's: a source is silent when nothing has been received from
    # it, whatever its logs claim (a clock in 2099 must not keep it alive).
    last_received_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Also the upsert target of ingestion (ON CONFLICT (source, level, hour)).
            models.UniqueConstraint(fields=["source", "level", "hour"], name="monrollup_key_uniq"),
            models.CheckConstraint(condition=models.Q(count__gte=0), name="monrollup_count_nonnegative"),
        ]
        indexes = [
            # GET statistics/ over a time range (all sources).
            models.Index(fields=["hour"], name="monrollup_hour_idx"),
            # Health evaluation: a source's last receipt (selectors.last_received), an index endpoint.
            models.Index(fields=["source", "last_received_at"], name="monrollup_src_received_idx"),
        ]

    def __str__(self):
        return f"{self.source}/{self.level} @ {self.hour:%Y-%m-%d %H:00}: {self.count}"


class SystemHealth(models.Model):
    """The current health of one component (a log source)."""

    component = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    severity = models.FloatField(default=0.0)
    reason = models.CharField(max_length=300, blank=True)
    since = models.DateTimeField(default=timezone.now, help_text="When the current status began.")
    evaluated_at = models.DateTimeField(default=timezone.now)
    # Debounce: a worse status proposed since pending_since, not confirmed yet. Status and
    # severity are the least severe proposal of the streak: what has persisted.
    pending_status = models.CharField(max_length=8, choices=Status.choices, blank=True)
    pending_severity = models.FloatField(null=True, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "system health"
        ordering = ["component"]
        constraints = [
            models.CheckConstraint(condition=models.Q(severity__gte=0, severity__lte=1), name="health_severity_0_1"),
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="health_status_valid"),
        ]

    def __str__(self):
        return f"{self.component}: {self.status}"


class HealthTransition(models.Model):
    """A change of a component's status (written only when the status changes)."""

    component = models.CharField(max_length=100)
    old_status = models.CharField(max_length=8, choices=Status.choices)
    new_status = models.CharField(max_length=8, choices=Status.choices)
    severity = models.FloatField()
    reason = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # GET health/history/ (newest first, optionally per component).
            models.Index(models.F("at").desc(), models.F("id").desc(), name="montrans_at_idx"),
            models.Index("component", models.F("at").desc(), name="montrans_component_at_idx"),
        ]

    def __str__(self):
        return f"{self.component}: {self.old_status} → {self.new_status}"


class MonitoringResult(models.Model):
    """One health evaluation of one source over one time window."""

    source = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    counts = models.JSONField(help_text="Logs per level in the window.")
    total = models.PositiveIntegerField()
    error_rate = models.FloatField(help_text="(error + critical) / total; 0 when there were no logs.")
    severity = models.FloatField()
    status = models.CharField(max_length=8, choices=Status.choices, help_text="The status this evaluation proposed.")
    thresholds = models.JSONField(help_text="The thresholds in force.")
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [
            # GET results/ (newest first, optionally per source).
            models.Index(models.F("evaluated_at").desc(), models.F("id").desc(), name="monresult_time_idx"),
            models.Index("source", models.F("evaluated_at").desc(), name="monresult_src_time_idx"),
        ]

    def __str__(self):
        return f"{self.source} {self.window_end:%Y-%m-%d %H:%M}: {self.status}"
