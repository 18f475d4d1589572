from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from veritas import keys
from veritas.models import PersonalToken


class BearerKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <prefix>.<secret>`` with a key (veritas.models.BearerKey):
    the header's parsing and the key's checks, shared by every kind of key."""

    keyword = "Bearer"
    # Schemes other clients use for the same kind of token (DRF's TokenAuthentication,
    # GitHub): answered with a hint rather than a bare "credentials were not provided".
    misused_keywords = {"token", "bearertoken"}

    def presented(self, request) -> tuple[str, str] | None:
        """(prefix, secret) of the bearer value, None without one; a 401 when malformed."""
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() in self.misused_keywords:
            raise exceptions.AuthenticationFailed(
                _("Send the token as `Authorization: Bearer <token>`; the %(scheme)s scheme is not supported.")
                % {"scheme": f"`{scheme}`"}
            )
        if scheme.lower() != self.keyword.lower():
            return None
        # Validated before it is used as a cache key or in a query: a malformed value is a 401.
        parts = keys.split(value)
        if parts is None:
            raise exceptions.AuthenticationFailed(_("Malformed bearer token: expected <prefix>.<secret>."))
        return parts

    @staticmethod
    def verify(key, secret: str, *, now=None) -> None:
        """401 unless ``key`` exists, ``secret`` is its own, and it is neither revoked nor expired
        (at ``now``, by default the present)."""
        if key is None or not keys.matches(secret, key.secret_hash):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if key.state_at(now or timezone.now()) != "active":
            raise exceptions.AuthenticationFailed(_("Token expired or revoked."))

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class BearerTokenAuthentication(BearerKeyAuthentication):
    """A user's personal token.

    The token row (with its user) is looked up by prefix and kept in the cache for
    TOKEN_CACHE_SECONDS, so most requests need no query at all; every request still
    checks the secret's digest (constant time), the expiry and the user's active flag.
    Revoking, expiring or deleting a token, or deactivating or deleting its user, clears
    the cached copies in this process at once (veritas/models.py); other processes, with
    caches of their own, see it within TOKEN_CACHE_SECONDS, as they see permission changes.
    """

    def authenticate(self, request):
        parts = self.presented(request)
        if parts is None:
            return None
        prefix, secret = parts
        token = self.lookup(prefix)
        self.verify(token, secret)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token.touch():
            self.remember(token)
        return token.user, token

    def lookup(self, prefix: str) -> PersonalToken | None:
        token = cache.get(PersonalToken.cache_key(prefix)) if settings.TOKEN_CACHE_SECONDS > 0 else None
        if token is None:
            try:
                token = PersonalToken.objects.select_related("user").get(prefix=prefix)
            except PersonalToken.DoesNotExist:
                return None
            self.remember(token)
        return token

    @staticmethod
    def remember(token: PersonalToken) -> None:
        if settings.TOKEN_CACHE_SECONDS > 0:
            # Load the user's permissions first, so the cached copy carries them and
            # permission checks on cached requests need no query.
            token.user.get_all_permissions()
            cache.set(PersonalToken.cache_key(token.prefix), token, settings.TOKEN_CACHE_SECONDS)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": "A personal token (`manage.py create_token USER`), sent as `Authorization: Bearer <token>`.",
        }
