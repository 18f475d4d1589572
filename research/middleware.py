import logging
import time

from django.db import DatabaseError
from django.utils import timezone

from research import audit
from veritas.net import client_ip
from veritas.request_id import get_request_id

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/research/"
# Bodies up to this size are kept as they came (to audit even a request refused before its
# body was parsed); larger ones are audited from what the view parsed.
KEEP_RAW_BYTES = 64 * 1024


class ResearchAuditMiddleware:
    """Every request under /api/v1/research/, whatever its outcome (401, 429, 400, 500
    included): an audit entry and the day's usage (research/audit.py), ``X-Trace-ID``, and
    the caller's ``X-RateLimit-*`` once it is known. After RequestIDMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        size = int(request.META.get("CONTENT_LENGTH") or 0) if request.META.get("CONTENT_LENGTH", "").isdigit() else 0
        raw = request.body if 0 < size <= KEEP_RAW_BYTES else None
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        now = timezone.now()
        institution = getattr(request, "institution", None)
        rate = getattr(request, "research_rate", None)
        if rate is not None:
            for name, value in rate.headers().items():
                response[name] = value
        trace_id = audit.trace_id(institution.slug if institution else None, now)
        response["X-Trace-ID"] = trace_id
        parsed = getattr(request, "research_data", None)
        if isinstance(parsed, bytes):  # a bulk body handed to the view unparsed
            raw, parsed = parsed, None
        body, truncated = audit.redacted_body(raw, parsed, size=size)
        match = request.resolver_match
        entry = audit.Entry(
            trace_id=trace_id,
            request_id=get_request_id() or "",
            institution_id=institution.pk if institution else None,
            key_prefix=getattr(request, "research_key_prefix", ""),
            method=request.method[:10],
            route=audit.route_of(match.route) if match else "(no route)",
            status=response.status_code,
            duration_ms=round(duration_ms, 3),
            body=body,
            body_bytes=size,
            body_truncated=truncated,
            client_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )
        try:
            audit.record(entry, now)
        except DatabaseError:  # the answer stands; the operator learns of the gap
            logger.exception("research audit entry %s not written", trace_id)
        return response
