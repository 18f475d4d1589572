"""DRF's EXCEPTION_HANDLER: every error leaves in the shape described in ``errors``."""

import math

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import set_rollback

from veritas.api.errors import (
    PayloadTooLarge,
    ServiceUnavailable,
    StatementTimeout,
    error_response,
    is_statement_timeout,
)


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model's or service's ValidationError (``full_clean``, a rule a service checks): its
    fields as they are, its non-field messages under ``non_field_errors``, as DRF names them."""
    if hasattr(exc, "error_dict"):
        fields = {
            ("non_field_errors" if name == NON_FIELD_ERRORS else name): messages
            for name, messages in exc.message_dict.items()
        }
    else:
        fields = {"non_field_errors": exc.messages}
    return exceptions.ValidationError(fields)


def _as_api_exception(exc):
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, DjangoValidationError):
        return _validation_error(exc)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    if isinstance(exc, OperationalError) and is_statement_timeout(exc):
        return StatementTimeout()
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ServiceUnavailable()
    return None


def exception_handler(exc, context):
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        return None  # a bug: Django's handler500 answers (JSON under /api/)
    set_rollback()
    headers = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(api_exc.wait))
    if isinstance(api_exc, ServiceUnavailable):  # not StatementTimeout: trying again would not help
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
