"""One JSON error shape for the whole API.

    {"status": 400, "code": "invalid", "detail": "Invalid input.",
     "fields": {"email": ["Enter a valid email address."]}, "request_id": "…"}

``fields`` appears on validation errors only; its keys are field names (or list indexes
for bulk input), its values lists of messages.
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import set_rollback

from veritas.request_id import get_request_id

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE
    default_code = "service_unavailable"


def error_body(status_code: int, code: str, detail, fields=None) -> dict:
    body = {"status": status_code, "code": code, "detail": str(detail)}
    if fields is not None:
        body["fields"] = fields
    body["request_id"] = get_request_id()
    return body


def error_response(status_code: int, code: str, detail, fields=None, headers=None) -> JsonResponse:
    response = JsonResponse(error_body(status_code, code, detail, fields), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _as_api_exception(exc):
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ServiceUnavailable()
    return None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error it sees leaves in the one shape."""
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        return None  # a bug: Django's handler500 answers (JSON under /api/)
    set_rollback()
    headers = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None):
        headers["Retry-After"] = str(int(api_exc.wait))
    if isinstance(api_exc, ServiceUnavailable):
        headers["Retry-After"] = "5"
    if isinstance(api_exc, exceptions.ValidationError):
        detail = api_exc.detail
        fields = detail if isinstance(detail, (dict, list)) else {"non_field_errors": [detail]}
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        return error_response(400, "invalid", "Invalid input.", fields=fields, headers=headers)
    detail = api_exc.detail
    code = api_exc.get_codes() if isinstance(detail, str) else api_exc.default_code
    return error_response(api_exc.status_code, str(code), detail, headers=headers)
