"""The research API's request audit and usage counters (research/middleware.py calls
``record`` once per request): the body with its secrets redacted and cut at 10 KB, the route
as its URL pattern, and one statement that appends the audit entry and counts the request in
the day's usage row."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import orjson
from django.db import connection
from pydantic import BaseModel

from veritas import ratelimit

BODY_LIMIT = 10 * 1024  # characters of the stored body
REDACTED = "[redacted]"
# JSON keys whose values are never stored, at any depth: compared without case, "-" or "_"
# (api_key, API-Key and apikey are one), as a part of the key (client_secret, access_token).
_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "authorization", "credential", "privatekey")


def is_secret_key(key: str) -> bool:
    folded = key.lower().replace("_", "").replace("-", "")
    return any(part in folded for part in _SECRET_PARTS)


def _pieces(value) -> Iterator[str]:
    """JSON text of ``value`` in pieces, secrets redacted: a consumer stops when it has enough,
    so a 100 MB embedding costs no more than its first 10 KB."""
    if isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(str(key)) + ":"
            if is_secret_key(str(key)):
                yield json.dumps(REDACTED)
            else:
                yield from _pieces(item)
        yield "}"
    elif isinstance(value, BaseModel):  # a bulk body's validated rows
        yield from _pieces(value.model_dump(mode="json"))
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _pieces(item)
        yield "]"
    else:
        yield json.dumps(value, default=str)


def redacted_json(value, limit: int = BODY_LIMIT) -> tuple[str, bool]:
    """(JSON text of ``value`` with secrets redacted, cut at ``limit`` characters; cut?)."""
    text, size = [], 0
    for piece in _pieces(value):
        text.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(text)[:limit], True
    return "".join(text), False


def redacted_body(raw: bytes | None, parsed=None, *, size: int = 0) -> tuple[str, bool]:
    """The body to store: JSON (or NDJSON) re-serialised with secrets redacted, cut at 10 KB.
    ``parsed`` is what the view parsed (for bodies too large to have been kept raw). A body
    that is not JSON is not stored (only its size): its secrets could not be found."""
    if parsed is not None:
        return redacted_json(parsed)
    if not raw:
        return ("", False) if not size else (f"[{size} bytes, not kept]", False)
    try:
        return redacted_json(orjson.loads(raw))
    except orjson.JSONDecodeError:
        pass
    text = ""
    for line in raw.splitlines():  # NDJSON: one object a line
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            return f"[{len(raw)} bytes, not JSON: not stored]", False
        piece, cut = redacted_json(item, BODY_LIMIT - len(text))
        text += piece + "\n"
        if cut or len(text) >= BODY_LIMIT:
            return text[:BODY_LIMIT], True
    return text.rstrip("\n"), False


_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>")


@lru_cache(maxsize=512)  # a pattern per route: a few dozen
def route_of(pattern: str) -> str:
    """A resolver's route (``api/v1/research/^qac/models/(?P<pk>[^/.]+)/$``) as people write
    it: ``qac/models/{pk}/`` (named groups as {name}, anchors dropped, the prefix kept off)."""
    out, index = [], 0
    while index < len(pattern):
        match = _GROUP.match(pattern, index)
        if match:
            depth, index = 1, match.end()
            while index < len(pattern) and depth:  # skip the group's own pattern, nested groups too
                depth += {"(": 1, ")": -1}.get(pattern[index], 0)
                index += 2 if pattern[index] == "\\" else 1
            out.append("{" + match["name"] + "}")
        else:
            if pattern[index] not in "^$":
                out.append(pattern[index])
            index += 1
    route = "".join(out).removeprefix("api/v1/research/")
    return (route[:-2] if route.endswith("/?") else route)[:200]  # qac/fit/? (slash optional): qac/fit


def trace_id(slug: str | None, now: datetime) -> str:
    """The legacy form: ``{institution}_{YYYYMMDD}_{8 hex}`` ("unknown" before authentication)."""
    return f"{slug or 'unknown'}_{now:%Y%m%d}_{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Entry:
    trace_id: str
    request_id: str
    institution_id: int | None
    key_prefix: str
    method: str
    route: str
    status: int
    duration_ms: float
    body: str
    body_bytes: int
    body_truncated: bool
    client_address: str | None
    user_agent: str


# research_audit_record (migration research 0003): the entry and the usage count, in this order.
_RECORD = "SELECT research_audit_record(" + ", ".join(["%s"] * 15) + ")"


def record(entry: Entry, at: datetime) -> None:
    """Append the entry and count the request in its institution's usage for the day (UTC):
    one statement, so both happen or neither. Committed without waiting for the WAL flush
    (as the rate-limit counters are) when the statement is its own transaction: a crash of the
    database server, not of the application, may lose the last fraction of a second of entries
    (3 x wal_writer_delay at most), never part of one; a request saves the flush
    (docs/research.md)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD,
            [
                at, entry.trace_id, entry.request_id, entry.institution_id, entry.key_prefix, entry.method,
                entry.route, entry.status, entry.duration_ms, entry.body, entry.body_bytes, entry.body_truncated,
                entry.client_address, entry.user_agent, ratelimit.commits_alone(),
            ],
        )  # fmt: skip
