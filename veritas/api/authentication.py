from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from veritas import keys
from veritas.models import PersonalToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <prefix>.<secret>`` with a user's personal token.

    One indexed lookup by prefix (joined to the user), one constant-time digest
    comparison, and at most one UPDATE a minute for ``last_used_at``.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        parts = keys.split(value)
        if parts is None:
            raise exceptions.AuthenticationFailed(_("Malformed bearer token: expected <prefix>.<secret>."))
        prefix, secret = parts
        try:
            token = PersonalToken.objects.select_related("user").get(prefix=prefix)
        except PersonalToken.DoesNotExist:
            token = None
        if token is None or not keys.matches(secret, token.secret_hash):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_active:
            raise exceptions.AuthenticationFailed(_("Token expired or revoked."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.touch()
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


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
