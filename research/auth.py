"""Who calls the research API: an institution, by one of its keys (``Authorization: Bearer
vri_….…``), within its request limits."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions, throttling

from research.models import InstitutionAPIKey
from veritas import keys, ratelimit
from veritas.api.authentication import BearerKeyAuthentication


class InstitutionPrincipal:
    """``request.user`` of a request made with an institution key: authenticated, never
    staff, holding no Django permissions. ``request.institution`` is the institution."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, institution):
        self.institution = institution

    def __str__(self):
        return f"institution {self.institution.slug}"

    def get_username(self) -> str:
        return f"institution:{self.institution.slug}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False


class InstitutionKeyAuthentication(BearerKeyAuthentication):
    """An institution key: looked up on every request (one query, no cache), so revoking a
    key or deactivating an institution takes effect at once. On a rate-limited view the same
    query counts the request against the institution's limits (``authenticating``), so a
    request costs one round trip for both; InstitutionRateThrottle then enforces the decision.
    Other bearer values are left to the next authentication class (personal tokens, for
    staff)."""

    def authenticate(self, request):
        parts = self.presented(request)
        if parts is None or not parts[0].startswith(f"{InstitutionAPIKey.LABEL}_"):
            return None
        prefix, secret = parts
        request._request.research_key_prefix = prefix  # for the audit entry, valid or not
        now = timezone.now()
        digest = keys.hash_secret(secret)
        key = InstitutionAPIKey.objects.authenticating(prefix, digest, now, count=_rate_limited(request))
        self.verify(key, secret, now=now)  # the instant the lookup counted at: both agree
        institution = key.institution
        if not institution.active:
            raise exceptions.AuthenticationFailed(_("The institution's access is suspended."))
        key.touch()
        request._request.institution = institution
        if key.rate is not None:
            request._request.research_rate = key.rate
        return InstitutionPrincipal(institution), key


def _rate_limited(request) -> bool:
    """Whether the view that will answer ``request`` enforces the institution's limits."""
    view = request.parser_context.get("view")
    get_throttles = getattr(view, "get_throttles", list)
    return any(isinstance(throttle, InstitutionRateThrottle) for throttle in get_throttles())


class IsInstitution(permissions.BasePermission):
    """Requests made with an institution key (not a personal token or a session)."""

    message = "This endpoint needs an institution API key (Authorization: Bearer vri_…)."

    def has_permission(self, request, view):
        return isinstance(request.auth, InstitutionAPIKey)


class InstitutionRateThrottle(throttling.BaseThrottle):
    """The institution's hourly and daily limits, counted in PostgreSQL (veritas/ratelimit.py),
    normally by InstitutionKeyAuthentication's lookup; a request it did not count (the throttle
    used with some other authentication) is counted here. The decision is kept on the request
    for the X-RateLimit-* headers (research/middleware.py puts them on every response, errors
    included)."""

    def allow_request(self, request, view):
        institution = getattr(request._request, "institution", None)
        if institution is None:
            return True
        self.result = getattr(request._request, "research_rate", None)
        if self.result is None:
            self.result = ratelimit.hit(institution.rate_key, institution.rate_windows())
            request._request.research_rate = self.result
        return self.result.allowed

    def wait(self):
        return self.result.retry_after


class InstitutionKeyScheme(OpenApiAuthenticationExtension):
    target_class = InstitutionKeyAuthentication
    name = "institutionKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "vri_<hex>.<secret>",
            "description": "An institution API key (the admin, or `manage.py create_institution_key SLUG`).",
        }
