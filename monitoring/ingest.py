"""Log ingestion: validate a whole batch first, then insert it with COPY in one transaction.

Used by ``POST /api/v1/monitoring/logs/`` and ``manage.py import_logs``. Validation is
pydantic's (its Rust core parses and checks 10,000 rows in milliseconds, where a DRF
serializer per row takes a second); the rows go in with PostgreSQL COPY, and the
per-hour counts that statistics read (LogRollup) are updated in the same transaction.
The generic parts (batch errors keyed by row, NUL escapes, the size check) are
veritas/bulk.py's, shared with the other apps' bulk input.

Batches whose rows carry ``event_id`` go through a temporary staging table so that
``INSERT … ON CONFLICT DO NOTHING`` can skip rows already stored (idempotent re-sends);
batches without event ids are copied straight into the table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from monitoring.models import Level, LogRollup, MonitoringLog
from veritas.bulk import (  # noqa: F401 (BatchTooLarge: callers catch ingest.BatchTooLarge)
    BatchInvalid,
    BatchTooLarge,
    check_size,
    dump_json,
    errors_by_row,
    field_errors,
    is_json_error,
    replace_nul_escapes,
    validate_ndjson,
)
from veritas.utc import floor_hour, sql_floor_hour, to_utc

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_MESSAGE_LENGTH = 20_000


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Source = Annotated[str, StringConstraints(min_length=1, max_length=100)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LogEntry(BaseModel):
    """One log row as clients send it (JSON object, array element or NDJSON line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    level: Annotated[Level, BeforeValidator(_lower)]
    message: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_LENGTH)]
    # strict: an ISO 8601 string with an offset, not a number of seconds.
    timestamp: Annotated[AwareDatetime, Field(strict=True), AfterValidator(to_utc)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_id: EventId | None = None


_one = TypeAdapter(LogEntry)
_many = TypeAdapter(list[LogEntry])


def latest_allowed(now: datetime | None = None) -> datetime:
    """The latest timestamp ingestion accepts: the server's clock plus the tolerance for
    clock skew. A log dated later would keep its source's newest log in the future and
    escape pruning; it comes from a clock gone wrong."""
    return (now or timezone.now()) + timedelta(seconds=settings.MONITORING_MAX_FUTURE_SECONDS)


def future_problem(limit: datetime) -> dict[str, list[str]]:
    tolerance = settings.MONITORING_MAX_FUTURE_SECONDS
    server_time = limit - timedelta(seconds=tolerance)
    return {
        "timestamp": [
            f"More than {tolerance} seconds ahead of the server's clock "
            f"({server_time:%Y-%m-%dT%H:%M:%SZ}): check the sender's clock."
        ]
    }


def _refuse_future(entries: list[LogEntry], key: Callable[[int], str]) -> None:
    """BatchInvalid naming each row (``key(index)``) dated after ``latest_allowed()``."""
    limit = latest_allowed()
    # One max() over the batch; rows are looked at one by one only when one is too late.
    if max((e.timestamp for e in entries if e.timestamp is not None), default=limit) <= limit:
        return
    problem = future_problem(limit)
    raise BatchInvalid(
        {key(i): problem for i, e in enumerate(entries) if e.timestamp is not None and e.timestamp > limit}
    )


def _looks_like_ndjson(body: bytes) -> bool:
    """Several JSON objects, one per line (only asked once parsing as JSON has failed)."""
    lines = [line for line in body.split(b"\n", 3)[:3] if line.strip()]
    try:
        return len(lines) >= 2 and all(isinstance(orjson.loads(line), dict) for line in lines[:2])
    except orjson.JSONDecodeError:
        return False


def _json_parse_error(error: ValidationError, body: bytes) -> BatchInvalid:
    message = f"JSON parse error: {error.errors()[0]['msg']}"
    if _looks_like_ndjson(body):
        message += (
            ". The body looks like NDJSON (one JSON object per line): send it with Content-Type: application/x-ndjson."
        )
    return BatchInvalid({}, parse_error=message)


def parse_json(body: bytes) -> list[LogEntry]:
    """A JSON object (one row) or an array (many rows); errors are keyed by row index."""
    stripped = body.lstrip()
    if stripped[:1] == b"{":
        try:
            entries = [_one.validate_json(replace_nul_escapes(stripped))]
        except ValidationError as error:
            if is_json_error(error):
                raise _json_parse_error(error, stripped) from None
            raise BatchInvalid({"0": field_errors(error.errors(include_url=False))}) from None
        _refuse_future(entries, str)
        return entries
    try:
        entries = _many.validate_json(replace_nul_escapes(stripped))
    except ValidationError as error:
        if is_json_error(error):
            raise _json_parse_error(error, stripped) from None
        items = error.errors(include_url=False)
        if any(not item["loc"] for item in items):
            raise BatchInvalid({"non_field_errors": ["Expected a JSON object or an array of objects."]}) from None
        check_size(len(json.loads(stripped)), MAX_ROWS)  # an oversized batch is 413 even when rows are bad
        raise BatchInvalid(errors_by_row(items)) from None
    check_size(len(entries), MAX_ROWS)
    _refuse_future(entries, str)
    return entries


def parse_ndjson(body: bytes) -> list[LogEntry]:
    """One JSON object per line; blank lines are skipped; errors are keyed ``line N``."""
    entries, lines = validate_ndjson(_one, body, max_rows=MAX_ROWS)
    _refuse_future(entries, lambda i: f"line {lines[i]}")
    return entries


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted


COLUMNS = ("source", "level", "message", "timestamp", "received_at", "metadata", "event_id")


def _copy_rows(cursor, table: str, entries: list[LogEntry], received_at: datetime) -> None:
    dumps, level_value = dump_json, _LEVEL_VALUE
    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for e in entries:
            copy.write_row(
                (
                    e.source,
                    level_value[e.level],
                    e.message,
                    e.timestamp or received_at,
                    received_at,
                    dumps(e.metadata),
                    e.event_id,
                )
            )


# Enum.value is a descriptor call; a dict lookup per row is several times cheaper.
_LEVEL_VALUE = {level: level.value for level in Level}


ROLLUP = LogRollup._meta.db_table
# Counts add up; last_received_at keeps the latest receipt (silence is judged by it).
ROLLUP_ON_CONFLICT = f"""
    ON CONFLICT (source, level, hour) DO UPDATE SET
        count = {ROLLUP}.count + EXCLUDED.count,
        last_received_at = greatest({ROLLUP}.last_received_at, EXCLUDED.last_received_at)
"""

ROLLUP_UPSERT = f"""
    INSERT INTO {ROLLUP} (source, level, hour, count, last_received_at)
    SELECT r.*, %s FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::bigint[]) AS r(source, level, hour, count)
    ORDER BY 1, 2, 3
    {ROLLUP_ON_CONFLICT}
"""  # noqa: S608 (table names come from model metadata, values are parameters)

LOG_TABLE = MonitoringLog._meta.db_table
STAGE = "monitoring_log_stage"

CREATE_STAGE = f"""
    CREATE TEMP TABLE {STAGE} (
        source text, level text, message text, timestamp timestamptz, received_at timestamptz,
        metadata jsonb, event_id text
    ) ON COMMIT DROP
"""

INSERT_FROM_STAGE = f"""
    WITH inserted AS (
        INSERT INTO {LOG_TABLE} ({", ".join(COLUMNS)})
        SELECT {", ".join(COLUMNS)} FROM {STAGE}
        ON CONFLICT (source, event_id) WHERE event_id IS NOT NULL DO NOTHING
        RETURNING source, level, timestamp, received_at
    ), per_hour AS (
        SELECT source, level, {sql_floor_hour("timestamp")} AS hour, count(*) AS count, max(received_at) AS received
        FROM inserted GROUP BY 1, 2, 3
    ), rolled AS (
        INSERT INTO {ROLLUP} (source, level, hour, count, last_received_at)
        SELECT source, level, hour, count, received FROM per_hour ORDER BY 1, 2, 3
        {ROLLUP_ON_CONFLICT}
    )
    SELECT coalesce(sum(count), 0) FROM per_hour
"""  # noqa: S608 (table names come from model metadata; no user input)


def ingest(entries: list[LogEntry], *, received_at: datetime | None = None) -> IngestResult:
    """Insert validated rows atomically; rows whose (source, event_id) exists are skipped."""
    received_at = received_at or timezone.now()
    if not entries:
        return IngestResult(received=0, inserted=0)
    with transaction.atomic(), connection.cursor() as cursor:
        if any(e.event_id is not None for e in entries):
            # Created and dropped inside this transaction (also when it is nested in an
            # outer one): nothing is left in the session, so it is safe behind a pooler.
            cursor.execute(CREATE_STAGE)
            _copy_rows(cursor, STAGE, entries, received_at)
            cursor.execute(INSERT_FROM_STAGE)
            inserted = int(cursor.fetchone()[0])
            cursor.execute(f"DROP TABLE {STAGE}")
        else:
            _copy_rows(cursor, LOG_TABLE, entries, received_at)
            counts = Counter((e.source, _LEVEL_VALUE[e.level], floor_hour(e.timestamp or received_at)) for e in entries)
            keys = list(counts)
            cursor.execute(
                ROLLUP_UPSERT,
                [
                    received_at,
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [k[2] for k in keys],
                    [counts[k] for k in keys],
                ],
            )
            inserted = len(entries)
    return IngestResult(received=len(entries), inserted=inserted)


# --- files (manage.py import_logs) ------------------------------------------------------------

CSV_OPTIONAL = ("timestamp", "metadata", "event_id")


def ndjson_lines(stream) -> Iterator[tuple[int, bytes]]:
    """(line number, JSON text) of each non-blank line of a binary stream."""
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def csv_lines(stream) -> Iterator[tuple[int, bytes]]:
    """(line number, JSON text) of each CSV record (header: source, level, message and
    optionally timestamp, metadata as JSON, event_id; empty optional cells are absent)."""
    reader = csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
    for record in reader:
        row: dict[str, Any] = {key: value for key, value in record.items() if key is not None}
        for key in CSV_OPTIONAL:
            if row.get(key) == "":
                del row[key]
        if "metadata" in row:
            try:
                row["metadata"] = json.loads(row["metadata"])
            except ValueError:
                row["metadata"] = "(not JSON)"  # reported by validation as not an object
        yield reader.line_num, json.dumps(row).encode()


@dataclass
class ImportReport:
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, dict]] = field(default_factory=list)
    # Of a sample of the first rows without event_id: how many were already stored.
    already_stored: int = 0
    sampled: int = 0


class ImportRejected(Exception):
    def __init__(self, report: ImportReport):
        super().__init__(f"{len(report.invalid)} invalid rows")
        self.report = report


def derive_event_id(entry: LogEntry) -> str:
    """An id derived from a row's content (source, level, message, timestamp in UTC,
    metadata): the same row always gets the same one, so a file imported twice is
    recognised row by row. Two identical rows of a file become one."""
    content = json.dumps(
        [entry.source, _LEVEL_VALUE[entry.level], entry.message, entry.timestamp.isoformat(), entry.metadata],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


REIMPORT_SAMPLE = 100

# How many of the sampled (source, timestamp, message) are stored without an event_id; each
# probe is a seek on monlog_src_time_idx.
STORED_WITHOUT_ID = f"""
    SELECT count(*) FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) AS s(source, timestamp, message)
    WHERE EXISTS (
        SELECT 1 FROM {LOG_TABLE} l
        WHERE l.source = s.source AND l.timestamp = s.timestamp AND l.message = s.message AND l.event_id IS NULL
    )
"""  # noqa: S608 (table name from model metadata; values are parameters)


def count_stored_without_id(sample: list[LogEntry]) -> int:
    """How many of ``sample`` look stored already: same source, timestamp and message, no event_id."""
    with connection.cursor() as cursor:
        cursor.execute(
            STORED_WITHOUT_ID,
            [[e.source for e in sample], [e.timestamp for e in sample], [e.message for e in sample]],
        )
        return cursor.fetchone()[0]


def import_lines(
    lines: Iterable[tuple[int, bytes]],
    *,
    skip_invalid: bool = False,
    batch_size: int = MAX_ROWS,
    derive_event_ids: bool = False,
    progress: Callable[[int], None] = lambda rows: None,
    warn: Callable[[ImportReport], None] = lambda report: None,
) -> ImportReport:
    """Validate and insert rows through the same path as the API, in one transaction:
    with an invalid row nothing is kept (ImportRejected), unless ``skip_invalid``.

    Rows without event_id are inserted again by a second import of the same file. Before
    the first batch goes in, a sample of them is looked up; if some are stored already,
    ``warn(report)`` is called (the caller may still abort: nothing is committed before the
    end). ``derive_event_ids`` gives rows with a timestamp and no event_id a content-derived
    one, so that importing a file again skips what is stored (rows without a timestamp are
    stamped at import, so they cannot be recognised)."""
    report, batch, sample = ImportReport(), [], []
    limit = latest_allowed()

    def flush():
        if sample and not report.sampled:
            report.sampled, report.already_stored = len(sample), count_stored_without_id(sample)
            if report.already_stored:
                warn(report)
        result = ingest(batch)
        report.inserted += result.inserted
        report.duplicates += result.duplicates
        progress(len(batch))
        batch.clear()

    with transaction.atomic():
        for number, line in lines:
            report.read += 1
            try:
                entry = _one.validate_json(replace_nul_escapes(line))
            except ValidationError as error:
                problems = (
                    {"row": ["Not valid JSON."]}
                    if is_json_error(error)
                    else field_errors(error.errors(include_url=False))
                )
                report.invalid.append((number, problems))
                progress(1)
                continue
            if entry.timestamp is not None and entry.timestamp > limit:
                report.invalid.append((number, future_problem(limit)))
                progress(1)
                continue
            if entry.event_id is None and entry.timestamp is not None:
                if len(sample) < REIMPORT_SAMPLE:
                    sample.append(entry)
                if derive_event_ids:
                    entry = entry.model_copy(update={"event_id": derive_event_id(entry)})
            batch.append(entry)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        if report.invalid and not skip_invalid:
            raise ImportRejected(report)
    return report
