from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from django.db import models
from django.utils import timezone

from veritas import keys


class User(AbstractUser):
    """The one user model of every app (staff, students, researchers, service accounts)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class PersonalToken(models.Model):
    """A user's bearer token for the API. Only a SHA-256 digest of the secret is stored."""

    # How often last_used_at is written: at most once a minute per token, not per request.
    LAST_USED_RESOLUTION = timezone.timedelta(minutes=1)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'grading script'.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=models.F("created_at")),
                name="personal_token_expires_after_creation",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    # Authentication caches tokens by prefix: any change drops the cached copy.
    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        cache.delete(self.cache_key(self.prefix))

    def delete(self, *args, **kwargs):
        cache.delete(self.cache_key(self.prefix))
        return super().delete(*args, **kwargs)

    @classmethod
    def issue(cls, *, user, name: str, expires_at=None) -> tuple["PersonalToken", str]:
        """Create a token; returns it with the full secret value, which is never stored."""
        token = cls(user=user, name=name, expires_at=expires_at)
        value = token.assign_new_secret()
        token.save()
        return token, value

    def assign_new_secret(self) -> str:
        """Set a fresh prefix and secret digest (unsaved); returns the full token value."""
        new = keys.generate("vtp")
        self.prefix, self.secret_hash = new.prefix, new.digest
        return new.token

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @staticmethod
    def cache_key(prefix: str) -> str:
        return f"veritas:personal-token:{prefix}"

    def touch(self) -> bool:
        """Record use, at most once per LAST_USED_RESOLUTION (one UPDATE, no read).

        Returns whether it wrote."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < self.LAST_USED_RESOLUTION:
            return False
        self.last_used_at = now
        PersonalToken.objects.filter(pk=self.pk).update(last_used_at=now)
        return True

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
