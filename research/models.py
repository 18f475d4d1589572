"""The research API's data: institutions and their keys, the request audit and usage, QAC
models, vector stores (items in a table partitioned by store) and jobs. docs/research.md."""

import functools
import uuid
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models, router
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from pgvector.django import VectorField

from veritas import ratelimit
from veritas.models import BearerKey, BearerKeyQuerySet

# The legacy's retention of a vector store: a day unless the caller asks for longer.
VECTOR_STORE_LIFETIME = timedelta(hours=24)
MAX_VECTOR_DIMENSION = 2000  # pgvector's HNSW limit for `vector`


class Institution(models.Model):
    """A research institution calling the API with its keys, within its request limits."""

    name = models.CharField(max_length=200, unique=True)
    # In trace ids ({slug}_{YYYYMMDD}_{hex}) and rate-limit keys.
    slug = models.SlugField(max_length=50, unique=True)
    active = models.BooleanField(default=True, help_text="An inactive institution's keys are refused.")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    requests_per_hour = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    requests_per_day = models.PositiveIntegerField(default=10000, validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The rate-limit windows: each limit's field and its window's length.
    RATE_WINDOWS = (("requests_per_hour", timedelta(hours=1)), ("requests_per_day", timedelta(days=1)))
    RATE_KEY_PREFIX = "institution:"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(requests_per_hour__gte=1, requests_per_day__gte=1),
                name="research_institution_limits_positive",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def rate_key(self) -> str:
        return f"{self.RATE_KEY_PREFIX}{self.pk}"

    def rate_windows(self) -> list[ratelimit.Window]:
        return [ratelimit.Window(getattr(self, field), length) for field, length in self.RATE_WINDOWS]


class InstitutionAPIKeyManager(models.Manager.from_queryset(BearerKeyQuerySet)):
    def authenticating(self, prefix: str, digest: str, now, *, count: bool) -> "InstitutionAPIKey | None":
        """The key of ``prefix``, its institution loaded, in one statement. With ``count``, when
        the key authenticates at ``now`` with a secret of this ``digest`` (neither revoked nor
        expired, its institution active), the same statement counts the request against the
        institution's limits (``ratelimit.counting``): ``key.rate`` is then the decision (a
        ``ratelimit.Hit``); otherwise it stays None, and nothing is counted. Raw SQL: the ORM's
        compilation of this query cost more than the count itself (docs/research.md)."""
        using = router.db_for_write(InstitutionAPIKey)
        windows = Institution.RATE_WINDOWS
        limits = ", ".join(f"i.{Institution._meta.get_field(field).column}" for field, _length in windows)
        rate_key = f"'{Institution.RATE_KEY_PREFIX}' || i.{Institution._meta.pk.column}"
        counted, params = ratelimit.counting(
            rate_key, f"ARRAY[{limits}]", [length for _f, length in windows], now, using=using
        )
        params |= {"prefix": prefix, "digest": digest, "now": now, "count": count}
        with connections[using].cursor() as cursor:
            cursor.execute(_authenticating_sql(counted), params)
            row = cursor.fetchone()
        if row is None:
            return None
        # Model instances from the row's values as psycopg loaded them: right for these fields'
        # types (no from_db_value converters are applied).
        key_fields, institution_fields = _fields(InstitutionAPIKey), _fields(Institution)
        key = InstitutionAPIKey.from_db(using, key_fields, row[: len(key_fields)])
        key.institution = Institution.from_db(using, institution_fields, row[len(key_fields) : -1])
        if row[-1] is not None:
            key.rate = ratelimit.decide(key.institution.rate_windows(), row[-1], now)
        return key


def _fields(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@functools.cache
def _authenticating_sql(counted: str) -> str:
    key, institution = InstitutionAPIKey._meta, Institution._meta
    columns = [f"k.{f.column}" for f in key.concrete_fields] + [f"i.{f.column}" for f in institution.concrete_fields]
    # The condition is BearerKey.state_at's. The digest is compared in SQL, not in constant time:
    # timing could reveal at most a prefix of a SHA-256 digest of a 256-bit secret, which gives
    # nothing towards the secret; authentication still checks the secret in constant time.
    return f"""
        SELECT {", ".join(columns)},
               CASE WHEN %(count)s AND i.active AND k.secret_hash = %(digest)s AND k.revoked_at IS NULL
                         AND (k.expires_at IS NULL OR k.expires_at > %(now)s)
                    THEN {counted} END
        FROM {key.db_table} k JOIN {institution.db_table} i ON i.{institution.pk.column} = k.institution_id
        WHERE k.prefix = %(prefix)s
    """  # noqa: S608 (names from model metadata; values are parameters)


class InstitutionAPIKey(BearerKey):
    """An institution's bearer key (``vri_…``): hashed like personal tokens, shown once."""

    LABEL = "vri"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="api_keys")

    rate: ratelimit.Hit | None = None  # set by InstitutionAPIKey.objects.authenticating

    objects = InstitutionAPIKeyManager()

    class Meta(BearerKey.Meta):
        verbose_name = "institution API key"
        constraints = [BearerKey.expires_after_creation("research_key_expires_after_creation")]

    @classmethod
    def issue(cls, *, institution: Institution, name: str, expires_at=None) -> tuple["InstitutionAPIKey", str]:
        """Create a key; returns it with the full secret value, which is never stored."""
        key = cls(institution=institution, name=name, expires_at=expires_at)
        value = key.assign_new_secret()
        key.save()
        return key, value


class AppendOnlyQuerySet(models.QuerySet):
    """No update through the ORM (a database trigger refuses raw UPDATEs too); deletion only
    by retention (research/retention.py, raw batch deletes)."""

    def update(self, **kwargs):
        raise PermissionDenied("Research audit entries are append-only.")

    def delete(self):
        raise PermissionDenied("Research audit entries are deleted only by retention: manage.py prune_research.")


class AuditLog(models.Model):
    """One request to /api/v1/research/, whatever its outcome (written by
    research/middleware.py, never changed)."""

    at = models.DateTimeField(db_default=models.functions.Now(), db_index=True)
    trace_id = models.CharField(max_length=80, db_index=True, help_text="{institution}_{YYYYMMDD}_{8 hex}")
    request_id = models.CharField(max_length=128, blank=True)
    # No database constraint: an entry outlives its institution (the trigger refuses the
    # update SET_NULL would need).
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    key_prefix = models.CharField(max_length=32, blank=True, help_text="The presented key's prefix, valid or not.")
    method = models.CharField(max_length=10)
    route = models.CharField(max_length=200, help_text="The URL pattern, e.g. qac/models/{id}/.")
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    body = models.TextField(blank=True, help_text="The request body, secrets redacted, cut at 10 KB.")
    body_bytes = models.PositiveIntegerField(default=0)
    body_truncated = models.BooleanField(default=False)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "request audit entry"
        verbose_name_plural = "request audit"
        indexes = [models.Index(fields=["institution", "at"], name="research_audit_inst_idx")]

    def __str__(self):
        return f"{self.trace_id} {self.method} {self.route} {self.status}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionDenied("Research audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Research audit entries are deleted only by retention: manage.py prune_research.")


class UsageMetrics(models.Model):
    """Requests per institution, route and day (UTC), counted by one upsert per request."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="usage")
    route = models.CharField(max_length=200)
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0, help_text="Responses with status 400 or above.")
    total_ms = models.FloatField(default=0)
    max_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-day", "route"]
        verbose_name = "usage metrics"
        verbose_name_plural = "usage metrics"
        constraints = [
            models.UniqueConstraint(fields=["institution", "day", "route"], name="research_usage_uniq"),
        ]

    def __str__(self):
        return f"{self.institution_id} {self.day} {self.route}: {self.requests}"


class Engine(models.TextChoices):
    LAPLACE = "laplace"


class QACModel(models.Model):
    """A fitted QAC graph (research/qac.py): the symmetrised kNN graph of an embedding's rows,
    stored as NumPy arrays in an .npz (loaded with allow_pickle=False: it cannot run code).
    Never deleted by retention."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="qac_models")
    name = models.CharField(max_length=200, blank=True)
    engine = models.CharField(max_length=50)
    params = models.JSONField(default=dict)
    n_rows = models.PositiveIntegerField()
    n_columns = models.PositiveIntegerField()
    graph = models.BinaryField()
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "QAC model"

    def __str__(self):
        return self.name or str(self.id)


class Metric(models.TextChoices):
    COSINE = "cosine"
    L2 = "l2"
    INNER_PRODUCT = "inner_product"


def default_store_expiry():
    return timezone.now() + VECTOR_STORE_LIFETIME


class VectorStoreQuerySet(models.QuerySet):
    def live(self):
        """Stores not past their expiry: an expired store is gone for the API before
        prune_research drops it."""
        return self.filter(expires_at__gt=timezone.now())


class VectorStore(models.Model):
    """An institution's named collection of vectors of one dimension, searched by one metric.
    Its items live in a partition of their own (research/vectors.py), with an HNSW index."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="vector_stores")
    name = models.CharField(max_length=200)
    dimension = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_VECTOR_DIMENSION)])
    metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.COSINE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(default=default_store_expiry, help_text="Dropped by prune_research after this.")
    # Kept exact by research/vectors.py in the transaction that adds or removes items.
    item_count = models.PositiveIntegerField(default=0, editable=False)

    objects = VectorStoreQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "name"], name="research_store_name_uniq"),
            models.CheckConstraint(
                condition=models.Q(dimension__gte=1, dimension__lte=MAX_VECTOR_DIMENSION),
                name="research_store_dimension_range",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def partition(self) -> str:
        """The table holding this store's items (a partition of research_vectoritem)."""
        return f"research_vectoritem_{self.pk}"


class VectorItem(models.Model):
    """One vector of a store. The table is partitioned by store (LIST), created by the
    migration, not by Django; each store's partition is made and dropped with the store."""

    pk = models.CompositePrimaryKey("store", "external_id")
    store = models.ForeignKey(VectorStore, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    external_id = models.CharField(max_length=200)
    embedding = VectorField()
    metadata = models.JSONField(default=dict)

    class Meta:
        managed = False
        db_table = "research_vectoritem"

    def __str__(self):
        return self.external_id


class JobStatus(models.Model):
    """A job run by ``make worker`` (django-tasks-db): its input, progress and outcome."""

    class Kind(models.TextChoices):
        QAC_FIT = "qac_fit"
        QAC_APPLY = "qac_apply"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    # The input as an .npz of arrays plus JSON parameters (never pickled), dropped once done.
    payload = models.BinaryField(null=True, blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="The django-tasks-db task's id.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "job"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1), name="research_job_progress_range"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"


@receiver(post_delete, sender=VectorStore)
def drop_store_partition(sender, instance, **kwargs):
    from research import vectors  # vectors imports the models

    vectors.drop_partition(instance)
