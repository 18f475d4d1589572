import io

from django.conf import settings
from rest_framework import parsers

from veritas.api.errors import PayloadTooLarge


def body_limit(parser_context) -> int:
    """The view's ``max_body_size`` if it sets one, else DATA_UPLOAD_MAX_MEMORY_SIZE."""
    view = (parser_context or {}).get("view")
    return getattr(view, "max_body_size", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def read_limited(stream, parser_context) -> bytes:
    """The body, refusing with 413 anything over the limit (before reading it, when the
    client announced its length). DRF reads JSON straight from the stream, so Django's
    own DATA_UPLOAD_MAX_MEMORY_SIZE check never applies to it."""
    limit = body_limit(parser_context)
    request = (parser_context or {}).get("request")
    announced = request.META.get("CONTENT_LENGTH") if request is not None else None
    if announced and announced.isdigit() and int(announced) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(io.BytesIO(read_limited(stream, parser_context)), media_type, parser_context)


class RawBody(bytes):
    """The request body, unparsed, with the media type it came with."""

    media_type: str = ""


class RawParser(parsers.BaseParser):
    """Hands the (size-limited) body to the view unparsed, for bulk endpoints that
    validate a whole batch in one pass. Subclass per media type."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = RawBody(read_limited(stream, parser_context))
        body.media_type = self.media_type
        return body


class RawJSONParser(RawParser):
    media_type = "application/json"


class RawNDJSONParser(RawParser):
    media_type = "application/x-ndjson"


class RawCSVParser(RawParser):
    media_type = "text/csv"
