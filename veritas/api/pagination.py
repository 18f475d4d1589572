import base64
import json
from datetime import datetime

from django.conf import settings
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from veritas.utc import to_utc


def strict_page_size(request, param: str, default: int, maximum: int) -> int:
    """``?<param>=`` as a whole number from 1 to ``maximum``, else a 400 naming it (DRF's own
    paginations silently fall back to the default on a bad value)."""
    raw = request.query_params.get(param)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdecimal()) or not 1 <= int(raw) <= maximum:
        raise ValidationError({param: [f"Must be a whole number from 1 to {maximum}."]})
    return int(raw)


class PageNumberPagination(pagination.PageNumberPagination):
    """Default for ordinary tables: ``?page=N&page_size=M`` (page_size at most API_MAX_PAGE_SIZE)."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        return strict_page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_page_number(self, request, paginator):
        # A page that cannot exist (0, "abc") is a 400; one past the end is a 404 (DRF's).
        raw = request.query_params.get(self.page_query_param)
        whole = raw is not None and raw.isascii() and raw.isdecimal()
        if raw is not None and raw not in self.last_page_strings and not (whole and int(raw) >= 1):
            raise ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["description"] = f"Rows per page (default {self.page_size}, at most {self.max_page_size})."
        return parameters


class CursorPagination(pagination.BasePagination):
    """Newest-first keyset pagination on (a time column, id): ``WHERE (t, id) < (…)``.

    For append-only, high-volume tables (logs, events, messages, audit), where many rows
    can share a timestamp (a batch received at once):
    DRF's CursorPagination keys on the first column only and falls back to OFFSET among
    equal values, while a row comparison is one index seek at any depth. Forward only:
    ``next`` links, no ``previous``. Subclass with ``ordering = ("-timestamp", "-id")``;
    an index on (time DESC, id DESC) must serve the filters in use.
    """

    ordering: tuple[str, str] = ("-created_at", "-id")
    page_size = 100
    max_page_size = settings.API_MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    invalid_cursor_message = "Invalid cursor."

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = strict_page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)
        time_field, id_field = (name.removeprefix("-") for name in self.ordering)
        queryset = queryset.order_by(*self.ordering)
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        if cursor is not None:
            queryset = queryset.filter(TupleLessThan(Tuple(F(time_field), F(id_field)), cursor))
        rows = list(queryset[: self.page_size + 1])
        self.next_key = None
        if len(rows) > self.page_size:
            rows = rows[: self.page_size]
            last = rows[-1]
            self.next_key = (getattr(last, time_field).isoformat(), getattr(last, id_field))
        return rows

    def _decode(self, raw):
        if raw is None:
            return None
        try:
            moment, key = json.loads(base64.urlsafe_b64decode(raw.encode()))
            if not isinstance(moment, str) or not isinstance(key, int):
                raise ValueError
        except (ValueError, TypeError, UnicodeError):
            # As DRF's own cursor pagination: a cursor that does not decode points nowhere.
            raise NotFound(self.invalid_cursor_message) from None
        try:
            # In UTC: an offset PostgreSQL refuses (+20:00) is taken rather than failing in
            # the query; one Python refuses (+99:00), no offset, or a moment that leaves the
            # calendar once converted is a bad parameter.
            return to_utc(datetime.fromisoformat(moment)), key
        except ValueError:
            raise ValidationError(
                {self.cursor_query_param: ["Invalid cursor: its time has no UTC offset or is out of range."]}
            ) from None

    def _encode(self, key) -> str:

        return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()

    def get_next_link(self):
        if self.next_key is None:
            return None
        return replace_query_param(
            self.request.build_absolute_uri(), self.cursor_query_param, self._encode(self.next_key)
        )

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` link's cursor.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
