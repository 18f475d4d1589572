"""``X-Request-ID`` on every request and response, in log lines and for audit rows.

A well-formed incoming id (what a load balancer or a calling service sent) is kept, so
one id follows a request across services; anything else is replaced by a new one.
(django-guid does this too, but its releases require Django < 6 on Python 3.12.)
"""

import contextvars
import logging
import re
import uuid

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
# UUIDs, hex ids and the usual trace-id alphabets; no spaces, quotes or control characters.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def get_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_or_generate(incoming: str | None) -> str:
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    return new_request_id()


class RequestIDMiddleware:
    """Outermost middleware: every response, errors included, carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = accept_or_generate(request.META.get(_META_KEY))
        request.request_id = request_id
        # Not reset on the way out: Django logs 4xx/5xx responses ("django.request")
        # after the middleware chain returns. clear() runs on request_finished.
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def clear(**kwargs) -> None:
    """request_finished receiver: nothing logged after the request carries its id."""
    _current.set(None)


class RequestIDFilter(logging.Filter):
    """Adds ``record.request_id`` ('-' outside a request) for the log format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True
