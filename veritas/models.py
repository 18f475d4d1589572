from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from veritas import keys

# Token authentication caches each token row (with its user) per process for
# TOKEN_CACHE_SECONDS. Every ORM route that can end a token's validity — revoking, expiring or
# deleting it, deactivating or deleting its user, bulk updates included — drops the cached
# copies at once (forget_tokens); other processes see the change within TOKEN_CACHE_SECONDS.
# Only raw SQL bypasses this, and the cache time bounds it.


def forget_tokens(prefixes: Iterable[str]) -> None:
    """Drop cached tokens now, and again when the transaction commits: until then another
    thread may read (and cache) the old row."""
    keys = [PersonalToken.cache_key(prefix) for prefix in prefixes]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


# User fields a cached token carries that decide what it may do.
USER_FIELDS_OF_TOKENS = {"is_active", "password", "is_staff", "is_superuser"}


class UserQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if not kwargs.keys() & USER_FIELDS_OF_TOKENS:
            return super().update(**kwargs)
        prefixes = list(PersonalToken.objects.filter(user__in=self.values("pk")).values_list("prefix", flat=True))
        updated = super().update(**kwargs)
        forget_tokens(prefixes)
        return updated


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """The one user model of every app (staff, students, researchers, service accounts)."""

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class BearerKeyQuerySet(models.QuerySet):
    def revoke(self) -> int:
        """Revoke the active keys among these; returns how many."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class PersonalTokenQuerySet(BearerKeyQuerySet):
    def update(self, **kwargs):
        if kwargs.keys() <= {"last_used_at"}:  # authentication's own bookkeeping: hot, harmless
            return super().update(**kwargs)
        prefixes = list(self.values_list("prefix", flat=True))
        updated = super().update(**kwargs)
        forget_tokens(prefixes)
        return updated


class BearerKey(models.Model):
    """A bearer secret (veritas/keys.py): ``<LABEL>_<hex>.<secret>``, of which only the
    prefix and a SHA-256 digest of the secret are stored. Personal tokens and research's
    institution keys are the two kinds; each names its ``LABEL``."""

    LABEL: str = ""
    # How often last_used_at is written: at most once a minute per key, not per request.
    LAST_USED_RESOLUTION = timezone.timedelta(minutes=1)

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'grading script'.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def expires_after_creation(name: str) -> models.CheckConstraint:
        """The constraint each kind declares (under a name of its own)."""
        return models.CheckConstraint(
            condition=models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=models.F("created_at")),
            name=name,
        )

    def assign_new_secret(self) -> str:
        """Set a fresh prefix and secret digest (unsaved); returns the full key value."""
        new = keys.generate(self.LABEL)
        self.prefix, self.secret_hash = new.prefix, new.digest
        return new.token

    @property
    def is_active(self) -> bool:
        return self.state == "active"

    @property
    def state(self) -> str:
        """'active', 'revoked' or 'expired'."""
        return self.state_at(timezone.now())

    def state_at(self, now) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def touch(self) -> bool:
        """Record use, at most once per LAST_USED_RESOLUTION (one UPDATE, no read).

        Returns whether it wrote."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < self.LAST_USED_RESOLUTION:
            return False
        self.last_used_at = now
        type(self)._default_manager.filter(pk=self.pk).update(last_used_at=now)
        return True

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class PersonalToken(BearerKey):
    """A user's bearer token for the API. Only a SHA-256 digest of the secret is stored."""

    LABEL = "vtp"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")

    objects = PersonalTokenQuerySet.as_manager()

    class Meta(BearerKey.Meta):
        constraints = [BearerKey.expires_after_creation("personal_token_expires_after_creation")]

    @staticmethod
    def may_issue(actor, user) -> bool:
        """Anyone may issue tokens for themselves; only a superuser for someone else."""
        return actor.is_superuser or actor.pk == user.pk

    @classmethod
    def issue(cls, *, user, name: str, expires_at=None, actor=None) -> tuple["PersonalToken", str]:
        """Create a token; returns it with the full secret value, which is never stored.

        ``actor`` is who asks (the admin's or the API's user); None is an operator at the
        shell (``create_token``), who holds the database credentials and so every power.
        """
        if actor is not None and not cls.may_issue(actor, user):
            raise PermissionDenied("Only a superuser may issue a token for another user.")
        token = cls(user=user, name=name, expires_at=expires_at)
        value = token.assign_new_secret()
        token.save()
        return token, value

    @staticmethod
    def cache_key(prefix: str) -> str:
        return f"veritas:personal-token:{prefix}"


# Saves and deletes, one by one or in bulk (Django sends post_delete for every row of a
# queryset delete and of a cascade, such as a deleted user's tokens, when a receiver exists).
@receiver(post_save, sender=PersonalToken, dispatch_uid="veritas.forget_saved_token")
@receiver(post_delete, sender=PersonalToken, dispatch_uid="veritas.forget_deleted_token")
def _forget_token(sender, instance: PersonalToken, **kwargs) -> None:
    forget_tokens([instance.prefix])


@receiver(post_save, sender=User, dispatch_uid="veritas.forget_tokens_of_saved_user")
def _forget_tokens_of_user(sender, instance: User, created: bool, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # every login saves last_login: nothing a cached token depends on
    forget_tokens(instance.personal_tokens.values_list("prefix", flat=True))


class RateLimitCounter(models.Model):
    """A rate-limited key's requests (e.g. ``user:42:writes``), counted per fixed window.

    One row per key, with a count per window the caller names (veritas/ratelimit.py: e.g. an
    hour and a day), updated with one atomic upsert per request, so the limits hold across
    any number of processes and machines. ``admitted`` is the last request's decision.
    """

    key = models.CharField(max_length=200, primary_key=True)
    window_starts = ArrayField(models.DateTimeField())
    counts = ArrayField(models.PositiveIntegerField())
    admitted = models.BooleanField()

    def __str__(self):
        return f"{self.key}: {self.counts}"


# A user's own permissions or groups changed: the cached copies carry the old permissions.
@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="veritas.forget_tokens_on_permissions")
@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="veritas.forget_tokens_on_groups")
def _forget_tokens_on_permission_change(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    users = [instance.pk] if not reverse else list(pk_set or [])
    if reverse and action == "post_clear":
        return  # a group or permission emptied: reaches other users within TOKEN_CACHE_SECONDS
    forget_tokens(PersonalToken.objects.filter(user__in=users).values_list("prefix", flat=True))


class ActionLogQuerySet(models.QuerySet):
    """Append-only: no update through the ORM (a database trigger refuses raw UPDATEs too),
    and deletion only through retention (``veritas.audit.prune``)."""

    def update(self, **kwargs):
        raise PermissionDenied("Audit entries are append-only.")

    def delete(self):
        raise PermissionDenied("Audit entries are deleted only by retention: manage.py prune_actions.")

    def visible_to(self, user) -> "ActionLogQuerySet":
        from veritas import audit

        return audit.visible_to(self, user)


class ActionLog(models.Model):
    """One write, by whom, through which door (API, admin, command), with what changed.

    Written only by ``veritas.audit.record`` (every app's services call it), never changed;
    rows older than the retention are deleted by ``manage.py prune_actions``. ``scope_type``
    and ``scope_id`` name the record the entry belongs to for scoping (e.g. the student an
    assessment is about): whoever may see that record may see the entry.
    """

    class Via(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        COMMAND = "command"
        SYSTEM = "system"

    at = models.DateTimeField(db_default=models.functions.Now(), db_index=True)
    # No database constraint and nothing done on the user's deletion: an entry keeps the id
    # of who acted (the trigger refuses updates, so SET_NULL could not work).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The actor's username at the time (kept when the user is deleted), or the command and
    # operating-system user for management commands.
    actor_name = models.CharField(max_length=150)
    via = models.CharField(max_length=10, choices=Via.choices)
    verb = models.CharField(max_length=50)
    object_type = models.CharField(max_length=100, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    scope_type = models.CharField(max_length=100, blank=True)
    scope_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    objects = ActionLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # Newest first (the API's cursor and the admin's list), one object's history,
            # one scope's history (a student's entries), one actor's.
            models.Index(models.F("at").desc(), models.F("id").desc(), name="actionlog_time_idx"),
            models.Index(fields=["object_type", "object_id"], name="actionlog_object_idx"),
            models.Index(fields=["scope_type", "scope_id"], name="actionlog_scope_idx"),
            models.Index(fields=["actor", "at"], name="actionlog_actor_idx"),
        ]

    def __str__(self):
        return f"{self.actor_name} {self.verb} {self.object_type} {self.object_repr or self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionDenied("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Audit entries are deleted only by retention: manage.py prune_actions.")
