from django.db import InterfaceError, OperationalError

from veritas.api.errors import DATABASE_UNAVAILABLE, StatementTimeout, error_response, is_statement_timeout


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 JSON, never an HTML 500.

    The API's own exception handler already covers DRF views; this covers the rest
    (the admin, health probes, plain Django views).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError) and is_statement_timeout(exception):
            return error_response(503, StatementTimeout.default_code, StatementTimeout.default_detail)
        if isinstance(exception, (OperationalError, InterfaceError)):
            return error_response(503, "service_unavailable", DATABASE_UNAVAILABLE, headers={"Retry-After": "5"})
        return None
