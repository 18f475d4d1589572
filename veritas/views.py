"""The landing page, the login lockout page, health probes and the JSON error pages of ``/api/``."""

import sys

from axes import helpers as axes_helpers
from axes.conf import settings as axes_settings
from django.contrib import admin
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.views import csrf, defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_safe

from veritas import formats, health
from veritas.api.errors import DATABASE_UNAVAILABLE, error_response

JSON_PREFIXES = ("/api/", "/health/")


def _wants_json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


@require_safe
def home(request):
    """``/``, where the admin's "View site" leads: links to the admin, the API docs and the
    probes. Public, so it shows nothing about the user or the data, and reads no database."""
    return render(request, "veritas/home.html", {"site_header": admin.site.site_header, "title": "Veritas"})


def login_locked(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): a page in the admin's
    look that says how long to wait, with axes' status code (429)."""
    cool_off = axes_helpers.get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "failure_limit": axes_helpers.get_failure_limit(request, credentials),
        "cooloff_minutes": formats.minutes(cool_off) if cool_off else None,
        "attempts_restart_wait": axes_settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT,
    }
    return render(request, "veritas/login_locked.html", context, status=axes_settings.AXES_HTTP_RESPONSE_CODE)


@never_cache
@require_GET
def live(request):
    """The process is up. Touches no database, so an orchestrator never restarts us for a DB outage."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """Ready to serve: the database answers, pgvector is there and no migration is pending."""
    report = health.check_database()
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)


@csrf_exempt  # nothing here to protect: a DELETE to an unknown path is a 404, not a CSRF 403
def api_not_found(request, *args, **kwargs):
    return error_response(404, "not_found", "Not found.")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the API's JSON shape under /api/ (a session-authenticated write
    without the CSRF token), Django's page elsewhere."""
    if _wants_json(request):
        return error_response(
            403, "permission_denied", f"CSRF check failed ({reason}): send the X-CSRFToken header, or use a token."
        )
    return csrf.csrf_failure(request, reason)


def bad_request(request, exception):
    if isinstance(exception, RequestDataTooBig) and _wants_json(request):
        return error_response(413, "payload_too_large", "The request body is too large.")
    if _wants_json(request):
        return error_response(400, "bad_request", "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _wants_json(request):
        return error_response(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _wants_json(request):
        return error_response(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        return error_response(503, "service_unavailable", DATABASE_UNAVAILABLE, headers={"Retry-After": "5"})
    if _wants_json(request):
        return error_response(500, "server_error", "Internal server error.")
    return defaults.server_error(request)
