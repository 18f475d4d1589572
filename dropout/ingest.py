"""Learning data in bulk: ``manage.py import_oulad DIR`` (the OULAD CSV files) and
``POST /api/v1/dropout/events/`` (click batches).

Each file is imported in its own transaction, all or nothing: every row is validated first
(veritas/bulk.py, pydantic; problems keyed ``line N`` with the file's column names), copied
into a temporary staging table with COPY, checked set-based (unknown presentations, students,
assessments; keys repeated in the file), then upserted, so running the import twice changes
nothing. One audit entry per file records its counts.

Files are read in dependency order (courses, assessments, vle, studentInfo,
studentRegistration, studentAssessment, studentVle); a file may rely on rows an earlier run
imported. OULAD's quirks: ``?`` for a missing score, empty ``imd_band``, ``date``,
``date_registration`` and ``date_unregistration``, the band ``10-20`` without its ``%``, the age
band ``55<=``, quoted and unquoted files.

The click stream (studentVle.csv, 10.6 million rows for all of OULAD) is not staged: rows are
resolved to their enrolment and activity from maps held in memory (one query per
presentation) and copied straight into the events table. Events have no natural key (OULAD
repeats a student, site and day), so a presentation's clicks are imported as a unit: a
presentation that has no events gets the file's; one whose stored events have the file's
count and total of clicks is left alone (already imported); any other is refused.
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from django.db import connection, transaction
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter

from dashboard.models import Student
from dropout.models import (
    AgeBand,
    Assessment,
    AssessmentSubmission,
    AssessmentType,
    AttemptHistory,
    Course,
    Education,
    Enrollment,
    LearningActivity,
    LearningEvent,
    Presentation,
    Result,
    is_support_staff,
)
from veritas import audit, bulk

MAX_ROWS = 10_000  # per POST events/
MAX_BYTES = 5 * 1024 * 1024
MAX_PROBLEMS = 1_000  # kept per file; the count is exact

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=45, pattern=CODE_PATTERN)]
PresentationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^\d{4}[A-L]$")
]  # the letter is the starting month: B February, J October
Day = Annotated[int, Field(ge=-999, le=9999)]


def _missing(value: Any) -> Any:
    """OULAD writes ``?`` for a missing value."""
    return None if isinstance(value, str) and value.strip() == "?" else value


def _choice(mapping: dict[str, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            if key in mapping:
                return mapping[key]
            raise ValueError(f"Expected one of: {', '.join(sorted({k for k in mapping if k}))}.")
        return value

    return convert


EDUCATION = {
    "no formal quals": Education.NONE,
    "lower than a level": Education.BELOW_A_LEVEL,
    "a level or equivalent": Education.A_LEVEL,
    "he qualification": Education.HE,
    "post graduate qualification": Education.POSTGRADUATE,
}
AGE = {"0-35": AgeBand.UNDER_35, "35-55": AgeBand.FROM_35_TO_55, "55<=": AgeBand.OVER_55, "55+": AgeBand.OVER_55}
IMD = {f"{low}-{low + 10}{suffix}": f"{low}-{low + 10}%" for low in range(0, 100, 10) for suffix in ("%", "")}
RESULT = {result.value: result for result in Result}
YES_NO = {"y": True, "n": False, "1": True, "0": False}
GENDER = {"m": "M", "f": "F"}
TYPE = {kind.value.lower(): kind for kind in AssessmentType}

Maybe = BeforeValidator(_missing)


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CourseRow(Row):
    code_module: Code
    code_presentation: PresentationCode
    module_presentation_length: Annotated[int, Field(ge=1, le=9999)]


class AssessmentRow(Row):
    code_module: Code
    code_presentation: PresentationCode
    id_assessment: Code
    assessment_type: Annotated[str, BeforeValidator(_choice(TYPE))]
    date: Annotated[Day | None, Maybe] = None
    weight: Annotated[float, Field(ge=0, le=100)]


class ActivityRow(Row):
    id_site: Code
    code_module: Code
    code_presentation: PresentationCode
    activity_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=45)]
    week_from: Annotated[Annotated[int, Field(ge=-99, le=999)] | None, Maybe] = None
    week_to: Annotated[Annotated[int, Field(ge=-99, le=999)] | None, Maybe] = None


class StudentInfoRow(Row):
    code_module: Code
    code_presentation: PresentationCode
    id_student: Code
    gender: Annotated[str, BeforeValidator(_choice(GENDER))] = ""
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    highest_education: Annotated[str, BeforeValidator(_choice(EDUCATION))] = ""
    imd_band: Annotated[str, BeforeValidator(_choice(IMD))] = ""
    age_band: Annotated[str, BeforeValidator(_choice(AGE))] = ""
    num_of_prev_attempts: Annotated[int, Field(ge=0, le=99)] = 0
    studied_credits: Annotated[int, Field(ge=0, le=9999)] = 0
    disability: Annotated[bool | None, BeforeValidator(_choice(YES_NO))] = None
    final_result: Annotated[str, BeforeValidator(_choice({**RESULT, "": ""}))] = ""


class RegistrationRow(Row):
    code_module: Code
    code_presentation: PresentationCode
    id_student: Code
    date_registration: Annotated[Day | None, Maybe] = None
    date_unregistration: Annotated[Day | None, Maybe] = None


class SubmissionRow(Row):
    id_student: Code
    id_assessment: Code
    date_submitted: Day
    is_banked: Annotated[bool, BeforeValidator(_choice(YES_NO))] = False
    score: Annotated[Annotated[float, Field(ge=0, le=100)] | None, Maybe] = None


class EventRow(Row):
    """A click count, as studentVle.csv has it and ``POST events/`` takes it."""

    code_module: Code
    code_presentation: PresentationCode
    id_student: Code
    id_site: Code
    date: Day
    sum_click: Annotated[int, Field(ge=1, le=2_000_000_000)]


class FileRejected(Exception):
    """A file was not imported; ``problems`` maps ``line N`` (or ``file``) to field messages."""

    def __init__(self, name: str, problems: dict[str, dict[str, list[str]]], total: int | None = None):
        self.name = name
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(f"{name}: {self.total} invalid rows")


@dataclass
class FileReport:
    name: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    students_created: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.name}: {self.rows} rows, {self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        )
        if self.students_created:
            text += f", {self.students_created} students created"
        return text + "".join(f"; {note}" for note in self.notes)


def _table(model) -> str:
    return model._meta.db_table


COURSE, PRESENTATION, STUDENT = _table(Course), _table(Presentation), _table(Student)
ENROLLMENT, ATTEMPT, ASSESSMENT = _table(Enrollment), _table(AttemptHistory), _table(Assessment)
SUBMISSION, ACTIVITY, EVENT = _table(AssessmentSubmission), _table(LearningActivity), _table(LearningEvent)
STAGE = "dropout_import_stage"

# The join from a staged row's (code_module, code_presentation) to its presentation.
JOIN_PRESENTATION = f"""
    LEFT JOIN {COURSE} c ON c.code = s.code_module
    LEFT JOIN {PRESENTATION} p ON p.course_id = c.id AND p.code = s.code_presentation
"""


def start_date(code: str) -> date:
    """A presentation's start: its year, the month its letter says (A January … L December),
    the first day."""
    return date(int(code[:4]), ord(code[4]) - ord("A") + 1, 1)


# --- reading files ------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A binary file that reports the bytes read (the progress bar)."""

    def __init__(self, raw, progress: Callable[[int], None]):
        self.raw, self.progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        if count:
            self.progress(count)
        return count


def _records(path: Path, required: Iterable[str], progress: Callable[[int], None]) -> Iterator[tuple[int, dict]]:
    """(line number, {column: value}) of each record; empty cells left out."""
    raw = path.open("rb", buffering=0)
    try:
        text = io.TextIOWrapper(io.BufferedReader(_Counting(raw, progress), 1 << 20), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = [name.strip() for name in next(reader, [])]
        if missing := [name for name in required if name not in header]:
            raise FileRejected(path.name, {"file": {"header": [f"Missing column(s): {', '.join(missing)}."]}})
        width = len(header)
        for cells in reader:
            if not cells:
                continue
            row = {name: value for name, value in zip(header, cells, strict=False) if value != ""}
            if len(cells) > width:
                row["__extra__"] = cells[width:]
            yield reader.line_num, row
    except UnicodeDecodeError as error:
        raise FileRejected(
            path.name, {"file": {"encoding": [f"Not UTF-8 ({error.reason} at byte {error.start})."]}}
        ) from None
    finally:
        raw.close()


def _validated(name: str, model: type[Row], records, invalid: dict) -> Iterator[tuple[int, Row]]:
    """The valid rows; once they are all read, FileRejected if any was not (or, for the
    click stream, did not resolve): no set-based check runs on a file with bad rows."""
    adapter = TypeAdapter(model)
    for key, row in bulk.validated_records(adapter, ((f"line {n}", r) for n, r in records), invalid):
        yield int(key[5:]), row
    _check(name, invalid)


def _check(name: str, invalid: dict) -> None:
    if invalid:
        ordered = dict(sorted(invalid.items(), key=lambda item: int(item[0][5:]))[:MAX_PROBLEMS])
        raise FileRejected(name, ordered, total=len(invalid))


def _problems(cursor, sql: str, params: list, message: Callable[[tuple], dict]) -> None:
    """Rows found by ``sql`` (line first, then what ``message`` needs) reject the file."""
    cursor.execute(sql + f" ORDER BY 1 LIMIT {MAX_PROBLEMS}", params)
    rows = cursor.fetchall()
    if rows:
        cursor.execute(f"SELECT count(*) FROM ({sql}) q", params)
        raise FileRejected(STAGE, {f"line {row[0]}": message(row) for row in rows}, total=cursor.fetchone()[0])


def _duplicates(cursor, keys: str, what: str) -> None:
    _problems(
        cursor,
        f"SELECT line, first FROM (SELECT line, min(line) OVER (PARTITION BY {keys}) AS first FROM {STAGE}) d "
        "WHERE line <> first",
        [],
        lambda row: {"row": [f"The same {what} as line {row[1]}."]},
    )


def _unknown_presentations(cursor) -> None:
    _problems(
        cursor,
        f"SELECT s.line, s.code_module, s.code_presentation FROM {STAGE} s {JOIN_PRESENTATION} WHERE p.id IS NULL",
        [],
        lambda row: {"code_presentation": [f"No presentation {row[1]} {row[2]}: import courses.csv with it first."]},
    )


def _upsert_counts(cursor, sql: str, params=()) -> tuple[int, int]:
    """(created, updated) of an ``INSERT … ON CONFLICT DO UPDATE … WHERE changed`` whose
    RETURNING gives ``xmax = 0`` (true for a new row)."""
    cursor.execute(
        f"WITH up AS ({sql} RETURNING (xmax = 0) AS created) "
        "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up",
        params,
    )
    created, updated = cursor.fetchone()
    return created, updated


def _update_changed(table: str, columns: Sequence[str]) -> str:
    """``DO UPDATE`` of ``columns`` from the proposed row, only where one differs (so an
    unchanged row is not rewritten, and RETURNING counts only real updates)."""
    return (
        f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)} "
        f"WHERE ({', '.join(f'{table}.{c}' for c in columns)}) "
        f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in columns)})"
    )


def _stage(cursor, columns: dict[str, str], rows: Iterable[tuple]) -> int:
    """A temporary table (dropped at commit) holding the rows, each with its line number."""
    definition = ", ".join(f"{name} {kind}" for name, kind in {"line": "int4", **columns}.items())
    cursor.execute(f"CREATE TEMP TABLE {STAGE} ({definition}) ON COMMIT DROP")
    count = bulk.copy_rows(cursor, STAGE, {"line": "int4", **columns}, rows)
    cursor.execute(f"ANALYZE {STAGE}")
    return count


# --- one function per file ----------------------------------------------------------------


def import_courses(cursor, rows: Iterator[tuple[int, CourseRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {"code_module": "text", "code_presentation": "text", "length_days": "int4", "start_date": "date"},
        (
            (n, r.code_module, r.code_presentation, r.module_presentation_length, start_date(r.code_presentation))
            for n, r in rows
        ),
    )
    _duplicates(cursor, "code_module, code_presentation", "module and presentation")
    cursor.execute(
        f"INSERT INTO {COURSE} (code, title) SELECT DISTINCT code_module, '' FROM {STAGE} ON CONFLICT (code) DO NOTHING"
    )
    report.created, report.updated = _upsert_counts(
        cursor,
        f"""INSERT INTO {PRESENTATION} (course_id, code, start_date, length_days)
        SELECT c.id, s.code_presentation, s.start_date, s.length_days
        FROM {STAGE} s JOIN {COURSE} c ON c.code = s.code_module
        ON CONFLICT (course_id, code) {_update_changed(PRESENTATION, ("start_date", "length_days"))}""",
    )


def import_assessments(cursor, rows: Iterator[tuple[int, AssessmentRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {
            "code_module": "text",
            "code_presentation": "text",
            "external_id": "text",
            "assessment_type": "text",
            "deadline_day": "int4",
            "weight": "float8",
        },
        (
            (n, r.code_module, r.code_presentation, r.id_assessment, r.assessment_type, r.date, r.weight)
            for n, r in rows
        ),
    )
    _duplicates(cursor, "external_id", "id_assessment")
    _unknown_presentations(cursor)
    report.created, report.updated = _upsert_counts(
        cursor,
        f"""INSERT INTO {ASSESSMENT} (presentation_id, external_id, assessment_type, deadline_day, weight)
        SELECT p.id, s.external_id, s.assessment_type, s.deadline_day, s.weight FROM {STAGE} s {JOIN_PRESENTATION}
        ON CONFLICT (external_id)
        {_update_changed(ASSESSMENT, ("presentation_id", "assessment_type", "deadline_day", "weight"))}""",
    )


def import_activities(cursor, rows: Iterator[tuple[int, ActivityRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {
            "code_module": "text",
            "code_presentation": "text",
            "external_id": "text",
            "activity_type": "text",
            "week_from": "int2",
            "week_to": "int2",
        },
        ((n, r.code_module, r.code_presentation, r.id_site, r.activity_type, r.week_from, r.week_to) for n, r in rows),
    )
    _duplicates(cursor, "code_module, code_presentation, external_id", "id_site")
    _unknown_presentations(cursor)
    report.created, report.updated = _upsert_counts(
        cursor,
        f"""INSERT INTO {ACTIVITY} (presentation_id, external_id, activity_type, week_from, week_to)
        SELECT p.id, s.external_id, s.activity_type, s.week_from, s.week_to FROM {STAGE} s {JOIN_PRESENTATION}
        ON CONFLICT (presentation_id, external_id)
        {_update_changed(ACTIVITY, ("activity_type", "week_from", "week_to"))}""",
    )


ENROLLMENT_BACKGROUND = (
    "final_result",
    "gender",
    "region",
    "highest_education",
    "imd_band",
    "age_band",
    "previous_attempts",
    "studied_credits",
    "disability",
)


def import_student_info(cursor, rows: Iterator[tuple[int, StudentInfoRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {
            "code_module": "text",
            "code_presentation": "text",
            "student": "text",
            "final_result": "text",
            "gender": "text",
            "region": "text",
            "highest_education": "text",
            "imd_band": "text",
            "age_band": "text",
            "previous_attempts": "int2",
            "studied_credits": "int2",
            "disability": "bool",
        },
        (
            (
                n,
                r.code_module,
                r.code_presentation,
                r.id_student,
                r.final_result,
                r.gender,
                r.region,
                r.highest_education,
                r.imd_band,
                r.age_band,
                r.num_of_prev_attempts,
                r.studied_credits,
                r.disability,
            )
            for n, r in rows
        ),
    )
    _duplicates(cursor, "code_module, code_presentation, student", "student, module and presentation")
    _unknown_presentations(cursor)
    # Students the register does not have yet: OULAD gives only an id.
    cursor.execute(
        f"""WITH new AS (
            INSERT INTO {STUDENT} (uuid, external_id, name, email, is_active, created_at, updated_at)
            SELECT gen_random_uuid(), student, 'OULAD student ' || student, 'oulad-' || student || '@students.invalid',
                   true, now(), now()
            FROM (SELECT DISTINCT student FROM {STAGE}) s
            ON CONFLICT DO NOTHING RETURNING 1
        ) SELECT count(*) FROM new"""
    )
    report.students_created = cursor.fetchone()[0]
    _problems(
        cursor,
        f"SELECT s.line, s.student FROM {STAGE} s LEFT JOIN {STUDENT} st ON st.external_id = s.student "
        "WHERE st.id IS NULL",
        [],
        lambda row: {"id_student": [f"Student {row[1]} could not be created: another student has its email address."]},
    )
    columns = ", ".join(ENROLLMENT_BACKGROUND)
    report.created, report.updated = _upsert_counts(
        cursor,
        f"""INSERT INTO {ENROLLMENT} (student_id, presentation_id, {columns})
        SELECT st.id, p.id, {", ".join(f"s.{c}" for c in ENROLLMENT_BACKGROUND)}
        FROM {STAGE} s {JOIN_PRESENTATION} JOIN {STUDENT} st ON st.external_id = s.student
        ON CONFLICT (student_id, presentation_id) {_update_changed(ENROLLMENT, ENROLLMENT_BACKGROUND)}""",
    )
    refresh_attempts(cursor, f"SELECT DISTINCT p.id FROM {STAGE} s {JOIN_PRESENTATION}")


def refresh_attempts(cursor, presentations_sql: str) -> None:
    """AttemptHistory of the presentations ``presentations_sql`` selects, from their
    enrolments' final results."""
    cursor.execute(
        f"""DELETE FROM {ATTEMPT} a USING {ENROLLMENT} e
        WHERE a.presentation_id IN ({presentations_sql}) AND e.presentation_id = a.presentation_id
          AND e.student_id = a.student_id AND e.final_result = ''"""
    )
    cursor.execute(
        f"""INSERT INTO {ATTEMPT} (student_id, course_id, presentation_id, result, ended_on)
        SELECT e.student_id, p.course_id, p.id, e.final_result, p.start_date + p.length_days
        FROM {ENROLLMENT} e JOIN {PRESENTATION} p ON p.id = e.presentation_id
        WHERE p.id IN ({presentations_sql}) AND e.final_result <> ''
        ON CONFLICT (student_id, presentation_id) {_update_changed(ATTEMPT, ("result", "ended_on"))}"""
    )


def _unknown_enrollments(cursor) -> None:
    _problems(
        cursor,
        f"""SELECT s.line, s.student, s.code_module, s.code_presentation FROM {STAGE} s {JOIN_PRESENTATION}
        LEFT JOIN {STUDENT} st ON st.external_id = s.student
        LEFT JOIN {ENROLLMENT} e ON e.student_id = st.id AND e.presentation_id = p.id
        WHERE e.id IS NULL""",
        [],
        lambda row: {
            "id_student": [f"Student {row[1]} has no enrolment on {row[2]} {row[3]}: import studentInfo.csv first."]
        },
    )


def import_registrations(cursor, rows: Iterator[tuple[int, RegistrationRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {
            "code_module": "text",
            "code_presentation": "text",
            "student": "text",
            "registered_day": "int4",
            "unregistered_day": "int4",
        },
        (
            (n, r.code_module, r.code_presentation, r.id_student, r.date_registration, r.date_unregistration)
            for n, r in rows
        ),
    )
    _duplicates(cursor, "code_module, code_presentation, student", "student, module and presentation")
    _unknown_enrollments(cursor)
    cursor.execute(
        f"""UPDATE {ENROLLMENT} e SET registered_day = s.registered_day, unregistered_day = s.unregistered_day
        FROM {STAGE} s {JOIN_PRESENTATION} JOIN {STUDENT} st ON st.external_id = s.student
        WHERE e.student_id = st.id AND e.presentation_id = p.id
          AND (e.registered_day, e.unregistered_day) IS DISTINCT FROM (s.registered_day, s.unregistered_day)"""
    )
    report.updated = cursor.rowcount


def import_submissions(cursor, rows: Iterator[tuple[int, SubmissionRow]], report: FileReport) -> None:
    report.rows = _stage(
        cursor,
        {"student": "text", "assessment": "text", "submitted_day": "int4", "banked": "bool", "score": "float8"},
        ((n, r.id_student, r.id_assessment, r.date_submitted, r.is_banked, r.score) for n, r in rows),
    )
    _duplicates(cursor, "student, assessment", "student and assessment")
    resolved = f"""FROM {STAGE} s LEFT JOIN {ASSESSMENT} a ON a.external_id = s.assessment
        LEFT JOIN {STUDENT} st ON st.external_id = s.student
        LEFT JOIN {ENROLLMENT} e ON e.student_id = st.id AND e.presentation_id = a.presentation_id"""

    def problem(row):
        if row[3]:
            return {"id_assessment": [f"No assessment {row[2]}: import assessments.csv with it first."]}
        return {
            "id_student": [
                f"Student {row[1]} has no enrolment on the presentation of assessment {row[2]}: "
                "import studentInfo.csv first."
            ]
        }

    _problems(
        cursor, f"SELECT s.line, s.student, s.assessment, a.id IS NULL {resolved} WHERE e.id IS NULL", [], problem
    )
    report.created, report.updated = _upsert_counts(
        cursor,
        f"""INSERT INTO {SUBMISSION} (enrollment_id, assessment_id, submitted_day, banked, score)
        SELECT e.id, a.id, s.submitted_day, s.banked, s.score {resolved}
        ON CONFLICT (enrollment_id, assessment_id)
        {_update_changed(SUBMISSION, ("submitted_day", "banked", "score"))}""",
    )


# --- events (studentVle.csv and POST events/) --------------------------------------------------

EVENT_COLUMNS = {"enrollment_id": "int8", "activity_id": "int8", "day": "int4", "clicks": "int4"}


class EventResolver:
    """Maps (module, presentation, student, site) to (enrolment id, activity id) from maps
    held in memory: those of the presentations given, loaded with one query for enrolments and
    one for activities (a file's rows are resolved while COPY holds the connection, so nothing
    can be looked up then)."""

    def __init__(self, presentations: dict[tuple[str, str], int], *, students=None):
        enrollments = Enrollment.objects.filter(presentation_id__in=presentations.values())
        if students is not None:  # a queryset of the students the writer may write
            enrollments = enrollments.filter(student__in=students)
        self.scoped = students is not None
        self.enrollments: dict[int, dict[str, int]] = {pk: {} for pk in presentations.values()}
        for presentation, student, pk in enrollments.values_list("presentation_id", "student__external_id", "pk"):
            self.enrollments[presentation][student] = pk
        self.activities: dict[int, dict[str, int]] = {pk: {} for pk in presentations.values()}
        activities = LearningActivity.objects.filter(presentation_id__in=presentations.values())
        for presentation, site, pk in activities.values_list("presentation_id", "external_id", "pk"):
            self.activities[presentation][site] = pk
        self.presentations = presentations

    @classmethod
    def named(cls, keys: set[tuple[str, str]], **options) -> EventResolver:
        """For the presentations (module code, presentation code) named by a batch."""
        found = Presentation.objects.filter(course__code__in={module for module, _ in keys}).values_list(
            "course__code", "code", "pk"
        )
        return cls({(module, code): pk for module, code, pk in found if (module, code) in keys}, **options)

    @classmethod
    def everything(cls) -> EventResolver:
        return cls(
            {(module, code): pk for module, code, pk in Presentation.objects.values_list("course__code", "code", "pk")}
        )

    def resolve(self, row: EventRow) -> tuple[int, tuple[int, int, int, int]] | dict[str, list[str]]:
        """(presentation id, the event's columns), or the row's problems."""
        presentation = self.presentations.get((row.code_module, row.code_presentation))
        if presentation is None:
            return {"code_presentation": [f"No presentation {row.code_module} {row.code_presentation}."]}
        problems = {}
        if (enrollment := self.enrollments[presentation].get(row.id_student)) is None:
            problems["id_student"] = [
                f"No enrolment of student {row.id_student} on {row.code_module} {row.code_presentation}"
                + (" among those you may write." if self.scoped else ".")
            ]
        if (activity := self.activities[presentation].get(row.id_site)) is None:
            problems["id_site"] = [f"No site {row.id_site} on {row.code_module} {row.code_presentation}."]
        if problems:
            return problems
        return presentation, (enrollment, activity, row.date, row.sum_click)


def stored_event_totals(cursor) -> dict[int, tuple[int, int]]:
    """{presentation id: (events, clicks)} of the presentations that have events."""
    cursor.execute(
        f"""SELECT e.presentation_id, count(*), sum(v.clicks)
        FROM {EVENT} v JOIN {ENROLLMENT} e ON e.id = v.enrollment_id
        GROUP BY 1"""
    )
    return {presentation: (count, int(clicks)) for presentation, count, clicks in cursor.fetchall()}


def import_events(cursor, rows: Iterator[tuple[int, EventRow]], report: FileReport, invalid: dict) -> None:
    resolver = EventResolver.everything()
    stored = stored_event_totals(cursor)
    in_file: dict[int, list[int]] = {}  # presentation id → [rows, clicks] of the file
    names: dict[int, str] = {}

    def fresh() -> Iterator[tuple[int, int, int, int]]:
        for line, row in rows:
            report.rows += 1
            resolved = resolver.resolve(row)
            if isinstance(resolved, dict):
                invalid[f"line {line}"] = resolved  # reported when the rows are read
                continue
            presentation, event = resolved
            totals = in_file.get(presentation)
            if totals is None:
                totals = in_file[presentation] = [0, 0]
                names[presentation] = f"{row.code_module} {row.code_presentation}"
            totals[0] += 1
            totals[1] += event[3]
            if presentation not in stored and not invalid:
                yield event

    report.created = bulk.copy_rows(cursor, EVENT, EVENT_COLUMNS, fresh())
    already = []
    for presentation, (count, clicks) in in_file.items():
        if presentation not in stored:
            continue
        if stored[presentation] == (count, clicks):
            already.append(names[presentation])
        else:
            raise FileRejected(
                report.name,
                {
                    "file": {
                        "code_presentation": [
                            f"{names[presentation]} already has {stored[presentation][0]} events "
                            f"({stored[presentation][1]} clicks) and the file has {count} ({clicks}): "
                            "a presentation's click stream is imported once, as a whole."
                        ]
                    }
                },
            )
    if already:
        report.notes.append(f"already imported, left alone: {', '.join(sorted(already))}")


@dataclass(frozen=True)
class EventBatchResult:
    received: int
    inserted: int


_event = TypeAdapter(EventRow)
_events = TypeAdapter(list[EventRow])


def parse_events(body: bytes) -> list[EventRow]:
    """``POST events/``: a JSON array of up to MAX_ROWS click rows; errors keyed by index."""
    return bulk.validate_json_array(_events, body, max_rows=MAX_ROWS)


def parse_events_csv(text) -> list[EventRow]:
    """``POST events/`` as CSV (studentVle.csv's columns); errors keyed ``line N``."""
    header = next(csv.reader([text.readline()]), [])
    if missing := [name for name in EventRow.model_fields if name not in header]:
        raise bulk.BatchInvalid({"header": [f"Missing column(s): {', '.join(missing)}."]})
    text.seek(0)
    valid, invalid = bulk.validate_records(_event, bulk.csv_records(text))
    bulk.check_size(len(valid) + len(invalid), MAX_ROWS)
    if invalid:
        raise bulk.BatchInvalid(invalid)
    return [row for _, row in valid]


def ingest_events(rows: list[EventRow], *, actor) -> EventBatchResult:
    """Resolve a validated batch (a student the actor may not write reads as unknown) and COPY
    it in, in one transaction with one audit entry; BatchInvalid names the rows that do not
    resolve, and nothing is written."""
    students = None if is_support_staff(actor) else Student.objects.taught_by(actor)
    with bulk.paused_gc(), transaction.atomic(), connection.cursor() as cursor:
        resolver = EventResolver.named({(row.code_module, row.code_presentation) for row in rows}, students=students)
        events, invalid = [], {}
        for index, row in enumerate(rows):
            resolved = resolver.resolve(row)
            if isinstance(resolved, dict):
                invalid[str(index)] = resolved
            else:
                events.append(resolved[1])
        if invalid:
            raise bulk.BatchInvalid(invalid)
        inserted = bulk.copy_rows(cursor, EVENT, EVENT_COLUMNS, events)
        audit.record("import", actor=actor, model=LearningEvent, changes={"counts": {"rows": inserted}})
    return EventBatchResult(received=len(rows), inserted=inserted)


# --- the files, in order ------------------------------------------------------------------------


@dataclass(frozen=True)
class OuladFile:
    name: str
    model: type[Row]
    load: Callable
    audited: type


FILES = (
    OuladFile("courses.csv", CourseRow, import_courses, Presentation),
    OuladFile("assessments.csv", AssessmentRow, import_assessments, Assessment),
    OuladFile("vle.csv", ActivityRow, import_activities, LearningActivity),
    OuladFile("studentInfo.csv", StudentInfoRow, import_student_info, Enrollment),
    OuladFile("studentRegistration.csv", RegistrationRow, import_registrations, Enrollment),
    OuladFile("studentAssessment.csv", SubmissionRow, import_submissions, AssessmentSubmission),
    OuladFile("studentVle.csv", EventRow, import_events, LearningEvent),
)


def import_file(spec: OuladFile, path: Path, *, progress: Callable[[int], None] = lambda n: None) -> FileReport:
    """Import one OULAD file, all or nothing (FileRejected says why, by line)."""
    report = FileReport(spec.name)
    invalid: dict[str, dict[str, list[str]]] = {}
    required = [name for name, info in spec.model.model_fields.items() if info.is_required()]
    try:
        with bulk.paused_gc(), transaction.atomic(), connection.cursor() as cursor:
            rows = _validated(spec.name, spec.model, _records(path, required, progress), invalid)
            if spec.load is import_events:
                import_events(cursor, rows, report, invalid)
            else:
                spec.load(cursor, rows, report)
            # Dropped at commit, but also now: the import may run inside an outer transaction.
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            report.unchanged = report.rows - report.created - report.updated
            audit.record(
                "import",
                actor=None,
                model=spec.audited,
                changes={
                    "file": spec.name,
                    "counts": {"rows": report.rows, "created": report.created, "updated": report.updated},
                },
            )
    except FileRejected as rejected:
        rejected.name = spec.name
        raise
    return report


def files_in(directory: Path) -> list[tuple[OuladFile, Path]]:
    """The OULAD files present in ``directory``, in import order."""
    return [(spec, directory / spec.name) for spec in FILES if (directory / spec.name).is_file()]
