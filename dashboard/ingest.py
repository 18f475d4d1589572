"""Bulk assessments and students: ``POST assessments/bulk/`` (JSON or CSV, up to MAX_ROWS) and
``manage.py import_assessments`` / ``import_students`` (CSV files of any length).

Every row is validated first (veritas/bulk.py): its fields, then the students and concept
modules it names (one query each). With any invalid row nothing is written (unless the
command's ``--skip-invalid``). Assessments go in with COPY, ids allocated up front so that
their concept-module links can be copied too; the touched performance records are then
brought up to date set-based (dashboard/performance.py) and one audit entry records the counts, all
in one transaction.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models.functions import Lower
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
    model_validator,
)

from dashboard import performance
from dashboard.models import EXTERNAL_ID, AssessmentKind, AssessmentLog, Cohort, ConceptModule, Student
from veritas import audit, bulk
from veritas.utc import to_utc

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _iso_string(value: Any) -> Any:
    # A number would be read as seconds since 1970: refuse it rather than guess.
    if not isinstance(value, (str, datetime)):
        raise ValueError("Expected an ISO 8601 date and time with a UTC offset, e.g. 2026-10-05T09:00:00Z.")
    return value


def _codes(value: Any) -> Any:
    # CSV: "ALG1;ALG2" (or one code).
    return [code.strip() for code in value.split(";") if code.strip()] if isinstance(value, str) else value


Score = Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=2, allow_inf_nan=False)]


class AssessmentRow(BaseModel):
    """One row of a bulk import (JSON object or CSV record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    student: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="The student's external_id."
    )
    kind: AssessmentKind  # any case, spaces around (AssessmentKind._missing_)
    subject: Text100
    score: Score
    max_score: Annotated[Decimal, Field(gt=0, max_digits=8, decimal_places=2, allow_inf_nan=False)] = Decimal(100)
    taken_at: Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(to_utc)]
    concept_modules: Annotated[list[Text100], BeforeValidator(_codes)] = Field(
        default_factory=list, description="Concept module codes (CSV: separated by ';')."
    )
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""

    @model_validator(mode="after")
    def _score_within_max(self):
        if self.score > self.max_score:
            raise ValueError(f"score {self.score} is above max_score {self.max_score}.")
        return self


_row = TypeAdapter(AssessmentRow)
_rows = TypeAdapter(list[AssessmentRow])


def parse_json(body: bytes) -> list[tuple[str, AssessmentRow]]:
    return [(str(index), row) for index, row in enumerate(bulk.validate_json_array(_rows, body, max_rows=MAX_ROWS))]


REQUIRED_COLUMNS = tuple(name for name, info in AssessmentRow.model_fields.items() if info.is_required())


def parse_csv(lines: Iterable[str], *, max_rows: int | None = MAX_ROWS) -> list[tuple[str, AssessmentRow]]:
    """CSV with a header line (student, kind, subject, score, taken_at and optionally
    max_score, concept_modules, comment); problems keyed ``line N`` (BatchInvalid)."""
    valid, invalid = validate_csv(lines, max_rows=max_rows)
    if invalid:
        raise bulk.BatchInvalid(invalid)
    return valid


def validate_csv(
    lines: Iterable[str], *, max_rows: int | None = MAX_ROWS
) -> tuple[list[tuple[str, AssessmentRow]], dict[str, dict[str, list[str]]]]:
    """As parse_csv, but the valid rows and the problems of the others together (for
    ``import_assessments --skip-invalid``). Only an unreadable file raises, and a header
    without the required columns (or no header at all): one parse error, not a problem on
    every line."""
    lines = iter(lines)
    first = next(lines, "")
    try:
        header = next(csv.reader([first]), [])
        records = list(bulk.csv_records(itertools.chain([first], lines)))
    except csv.Error as error:
        raise bulk.BatchInvalid({}, parse_error=f"CSV parse error: {error}.") from None
    if missing := [column for column in REQUIRED_COLUMNS if column not in header]:
        raise bulk.BatchInvalid({}, parse_error=f"CSV header (line 1) lacks the column(s): {', '.join(missing)}.")
    if max_rows is not None:
        bulk.check_size(len(records), max_rows)
    return bulk.validate_records(_row, records)


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    students: int = 0
    invalid: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "students": self.students, "invalid": len(self.invalid)}


def resolve(rows: list[tuple[str, AssessmentRow]], *, actor) -> tuple[list, dict]:
    """The rows with their student's and modules' ids, and the problems of rows naming a
    student the actor may not write (said the same way as one that does not exist: no
    probing the register) or an unknown module. ``actor`` None is an operator's command:
    every student."""
    writable = Student.objects.all() if actor is None else Student.objects.taught_by(actor)
    named = {row.student for _, row in rows}
    students = dict(writable.filter(external_id__in=named).values_list("external_id", "pk"))
    codes = {code for _, row in rows for code in row.concept_modules}
    modules = dict(ConceptModule.objects.filter(code__in=codes).values_list("code", "pk"))
    invalid = {}
    if named - students.keys() or codes - modules.keys():  # else no row has a problem
        for key, row in rows:
            problems = {}
            if row.student not in students:
                problems["student"] = [f"No student {row.student!r} among those you may record assessments for."]
            if unknown := [code for code in row.concept_modules if code not in modules]:
                problems["concept_modules"] = [f"Unknown concept module: {', '.join(unknown)}."]
            if problems:
                invalid[key] = problems
    resolved = [
        (students[row.student], [modules[code] for code in dict.fromkeys(row.concept_modules)], row)
        for key, row in rows
        if key not in invalid
    ]
    return resolved, invalid


ASSESSMENT_COLUMNS = {
    "id": "int8",
    "student_id": "int8",
    "kind": "text",
    "subject": "text",
    "score": "numeric",
    "max_score": "numeric",
    "taken_at": "timestamptz",
    "recorded_by_id": "int8",
    "comment": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
LINKS = AssessmentLog.concept_modules.through._meta.db_table
_KIND_VALUE = {kind: kind.value for kind in AssessmentKind}


def write(resolved: list, *, actor, progress: Callable[[int], None] = lambda rows: None, chunk: int = MAX_ROWS) -> int:
    """COPY resolved rows in, recompute the touched records; returns how many."""
    if not resolved:
        return 0
    now = timezone.now()
    recorded_by = actor.pk if actor is not None and actor.is_authenticated else None
    table = AssessmentLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id'))) FROM generate_series(1, %s)",
            [table, len(resolved)],
        )
        (ids,) = cursor.fetchone()
        for start in range(0, len(resolved), chunk):
            part = list(zip(ids[start : start + chunk], resolved[start : start + chunk], strict=True))
            bulk.copy_rows(
                cursor,
                table,
                ASSESSMENT_COLUMNS,
                (
                    (
                        pk,
                        student_id,
                        _KIND_VALUE[row.kind],
                        row.subject,
                        row.score,
                        row.max_score,
                        row.taken_at,
                        recorded_by,
                        row.comment,
                        now,
                        now,
                    )
                    for pk, (student_id, _, row) in part
                ),
            )
            if any(modules for _, (_, modules, _) in part):
                bulk.copy_rows(
                    cursor,
                    LINKS,
                    {"assessmentlog_id": "int8", "conceptmodule_id": "int8"},
                    ((pk, module_id) for pk, (_, modules, _) in part for module_id in modules),
                )
            progress(len(part))
    performance.merge_inserted(ids, students={student_id for student_id, _, _ in resolved})
    return len(resolved)


def import_assessments(
    rows: list[tuple[str, AssessmentRow]],
    *,
    actor,
    skip_invalid: bool = False,
    invalid: dict | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> Report:
    """Resolve and write validated rows in one transaction, with one audit entry. Problems
    (``invalid`` from parsing, plus unknown students and modules) raise BatchInvalid and
    nothing is written, unless ``skip_invalid``."""
    with bulk.paused_gc():  # 100,000s of rows in hand: see veritas/bulk.py
        report = Report(rows=len(rows) + len(invalid or {}))
        resolved, unresolved = resolve(rows, actor=actor)
        report.invalid = {**(invalid or {}), **unresolved}
        if report.invalid and not skip_invalid:
            raise bulk.BatchInvalid(dict(sorted(report.invalid.items(), key=lambda item: _order(item[0]))))
        with transaction.atomic():
            report.created = write(resolved, actor=actor, progress=progress)
            report.students = len({student_id for student_id, _, _ in resolved})
            if report.created:
                audit.record("import", actor=actor, model=AssessmentLog, changes={"counts": report.counts()})
        return report


def _order(key: str) -> int:
    return int(key.removeprefix("line "))


# --- students (manage.py import_students) ------------------------------------------------------


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("Enter a valid email address.") from None
    return value


def _external_id(value: str) -> str:
    try:
        EXTERNAL_ID(value)
    except DjangoValidationError as error:
        raise ValueError(error.messages[0]) from None
    return value


class StudentRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_external_id)
    ]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
    is_active: bool = True


_student = TypeAdapter(StudentRow)


def parse_students_csv(lines: Iterable[str]) -> tuple[list[tuple[str, StudentRow]], dict]:
    try:
        return bulk.validate_records(_student, bulk.csv_records(lines))
    except csv.Error as error:
        raise bulk.BatchInvalid({}, parse_error=f"CSV parse error: {error}.") from None


def import_students(
    rows: list[tuple[str, StudentRow]],
    *,
    actor=None,
    cohort: Cohort | None = None,
    skip_invalid: bool = False,
    invalid: dict | None = None,
) -> Report:
    """Students whose external_id and email (whatever the case) are new, in the file and in
    the register; all in one transaction with one audit entry."""
    report = Report(rows=len(rows) + len(invalid or {}))
    problems = dict(invalid or {})
    taken_ids = set(
        Student.objects.filter(external_id__in={row.external_id for _, row in rows}).values_list(
            "external_id", flat=True
        )
    )
    taken_emails = set(
        Student.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in={row.email.lower() for _, row in rows})
        .values_list("email_lower", flat=True)
    )
    seen_ids, seen_emails, valid = {}, {}, []
    for key, row in rows:
        row_problems = {}
        if row.external_id in taken_ids:
            row_problems["external_id"] = [f"A student {row.external_id!r} exists already."]
        elif row.external_id in seen_ids:
            row_problems["external_id"] = [f"Repeats {seen_ids[row.external_id]}."]
        if row.email.lower() in taken_emails:
            row_problems["email"] = ["A student with this email address exists already."]
        elif row.email.lower() in seen_emails:
            row_problems["email"] = [f"Repeats {seen_emails[row.email.lower()]}."]
        seen_ids.setdefault(row.external_id, key)
        seen_emails.setdefault(row.email.lower(), key)
        if row_problems:
            problems[key] = row_problems
        else:
            valid.append(row)
    report.invalid = problems
    if problems and not skip_invalid:
        raise bulk.BatchInvalid(dict(sorted(problems.items(), key=lambda item: _order(item[0]))))
    with transaction.atomic():
        created = Student.objects.bulk_create(
            [Student(external_id=r.external_id, name=r.name, email=r.email, is_active=r.is_active) for r in valid]
        )
        if cohort is not None:
            cohort.students.add(*created)
        report.created = report.students = len(created)
        if created:
            audit.record(
                "import",
                actor=actor,
                model=Student,
                changes={"counts": report.counts(), "cohort": cohort.pk if cohort else None},
            )
    return report
