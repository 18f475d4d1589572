from django.conf import settings
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Default for ordinary tables: ``?page=N&page_size=M`` (page_size at most API_MAX_PAGE_SIZE)."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class CursorPagination(pagination.CursorPagination):
    """For append-only, high-volume tables (logs, events, messages, audit): no OFFSET scans.

    Subclass per view with an ``ordering`` that an index serves, newest first.
    """

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = ("-created_at", "-id")
