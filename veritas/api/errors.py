"""One JSON error shape for the whole API.

    {"status": 400, "code": "invalid", "detail": "Invalid input.",
     "fields": {"email": ["Enter a valid email address."]}, "request_id": "…"}

``fields`` appears on validation errors only; its keys are field names (or list indexes
for bulk input), its values lists of messages.
"""

import contextlib
from collections.abc import Iterator

import psycopg
from django.http import JsonResponse
from rest_framework import exceptions, status

from veritas import bulk
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


class BadGateway(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "An upstream service failed."
    default_code = "bad_gateway"


class GatewayTimeout(exceptions.APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "An upstream service did not answer in time."
    default_code = "gateway_timeout"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE
    default_code = "service_unavailable"


class StatementTimeout(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database took too long to answer and the query was cancelled: narrow the filters."
    default_code = "statement_timeout"


def is_statement_timeout(exc: BaseException) -> bool:
    """A Django OperationalError caused by PostgreSQL cancelling the statement
    (statement_timeout, veritas/statement_timeout.py)."""
    return isinstance(exc.__cause__, psycopg.errors.QueryCanceled)


@contextlib.contextmanager
def batch_errors() -> Iterator[None]:
    """A bulk endpoint's parsing and validation (veritas/bulk.py) in the API's terms: too many
    rows is a 413, a body that does not parse a 400 ``parse_error``, invalid rows a 400 whose
    ``fields`` are keyed by row (index or ``line N``)."""
    try:
        yield
    except bulk.BatchTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except bulk.BatchInvalid as exc:
        if exc.parse_error:
            raise exceptions.ParseError(exc.parse_error) from None
        raise exceptions.ValidationError(exc.fields) from None


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
