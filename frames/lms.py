"""The onboarding LMS: modules and their revisions, sections, assignments, what students do
(events, ingested in bulk with COPY) and the progress that follows from it, feedback, and the
analytics faculty read (funnel, time per section, drop-off, overdue, ratings). docs/frames.md.

Writes are checked and audited here, whichever door they came through. A student's progress
is never written directly: ``refresh_progress`` derives it from their events, set-based, so
replaying the same events always gives the same progress.
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Avg, Count, Exists, F, OuterRef, Subquery
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from frames.models import (
    Module,
    ModuleAnalyticsEvent,
    ModuleAssignment,
    ModuleFeedback,
    ModuleProgress,
    ModuleSection,
    Student,
    faculty_university_id,
    is_researcher,
)
from frames.services import Conflict, may_write_university
from veritas import audit, bulk
from veritas.utc import utc_problem

MODULE_FIELDS = ["key", "title", "category", "estimated_minutes", "university", "prerequisites", "tags"]
SECTION_FIELDS = ["module", "order", "section_type", "title", "content", "duration_minutes"]
EVENT = ModuleAnalyticsEvent._meta.db_table
PROGRESS = ModuleProgress._meta.db_table
SECTION = ModuleSection._meta.db_table
STUDENT = Student._meta.db_table
ASSIGNMENT = ModuleAssignment._meta.db_table


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def may_write_module(actor, module: Module) -> bool:
    """Faculty of the module's university; a consortium module (no university): researchers."""
    if module.university_id is None:
        return is_researcher(actor)
    return may_write_university(actor, module.university_id)


# --- locks ----------------------------------------------------------------------------------------

_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended('frames.module:' || %s, 0))"
# The assignments of these (student, module) pairs, locked in id order until the transaction
# ends: row locks (kept in the rows, not in the server's lock table, whatever the batch's size).
_LOCK_ASSIGNMENTS = f"""
SELECT student_id, module_id FROM {ASSIGNMENT}
WHERE (student_id, module_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))
ORDER BY id FOR NO KEY UPDATE
"""


def _lock_module(module: Module) -> Module:
    """Serialise the writes of one module key (its revisions, sections, status, assignments)
    until the transaction ends, and read the module as it is now."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_KEY, [module.key])
    return Module.objects.get(pk=module.pk)


def lock_assignments(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Lock the assignments of these (student, module) pairs until the transaction ends and
    return the pairs that are assigned now. The writers of a learner's events and progress
    take these locks first: a recompute then sees every event committed before it, and a
    publication that moves an assignment waits for (or is waited for by) them."""
    pairs = sorted(set(pairs))
    if not pairs:
        return set()
    students, modules = zip(*pairs, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_ASSIGNMENTS, [list(students), list(modules)])
        return set(cursor.fetchall())


# --- modules and their revisions -----------------------------------------------------------------


def _prerequisites_check(actor):
    """Prerequisites are keys of modules the actor may see, and close no cycle (a module
    that, through its prerequisites, requires itself could never be started)."""

    def check(module: Module, many) -> None:
        keys = list(dict.fromkeys(module.prerequisites))
        if module.key in keys:
            raise ValidationError({"prerequisites": ["A module cannot be its own prerequisite."]})
        with connection.cursor() as cursor:  # one change of the prerequisite graph at a time
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('frames.prerequisites', 0))")
        known = set(Module.objects.visible_to(actor).filter(key__in=keys).values_list("key", flat=True))
        if unknown := [key for key in keys if key not in known]:
            raise ValidationError({"prerequisites": [f"No module with key: {', '.join(unknown)}."]})
        requires: dict[str, set[str]] = {}
        for key, prerequisites in Module.objects.exclude(key=module.key).values_list("key", "prerequisites"):
            requires.setdefault(key, set()).update(prerequisites)
        path, stack, seen = None, [(key, [key]) for key in keys], set()
        while stack and path is None:
            key, trail = stack.pop()
            if key == module.key:
                path = trail
            elif key not in seen:
                seen.add(key)
                stack.extend((following, [*trail, following]) for following in requires.get(key, ()))
        if path:
            cycle = " \u2192 ".join([module.key, *path])
            raise ValidationError({"prerequisites": [f"This would make a cycle of prerequisites: {cycle}."]})
        module.prerequisites = keys

    return check


@transaction.atomic
def save_module(*, actor, data: Mapping[str, Any], module: Module | None = None) -> Module:
    """A new module (a draft, revision 1) or a change to a draft. A published or archived
    module's content changes only through a new revision (``new_revision``): a Conflict."""
    if module is None:
        module = Module(author=actor if actor.is_authenticated else None)
        if Module.objects.filter(key=data.get("key")).exists():
            raise ValidationError({"key": ["A module with this key exists: make a new revision of it instead."]})
    elif (module := _lock_module(module)).status != Module.Status.DRAFT:
        raise Conflict(
            f"Revision {module.revision} of {module.key} is {module.status}: its content changes only through "
            "a new revision (POST …/revise/)."
        )
    elif "key" in data and data["key"] != module.key:
        raise ValidationError({"key": ["A module's key does not change."]})
    _require_module(actor, module, data)
    check = _prerequisites_check(actor)
    return audit.write(actor=actor, instance=module, data=data, fields=MODULE_FIELDS, check=check)


def _require_module(actor, module: Module, data: Mapping[str, Any]) -> None:
    universities = {module.university_id} if module.pk is not None else set()
    if "university" in data:
        universities.add(getattr(data["university"], "pk", data["university"]))
    for university in universities:
        probe = Module(university_id=university)
        _require(may_write_module(actor, probe), "Only the university's faculty (a consortium module: researchers).")


def _require_draft(module: Module) -> None:
    if module.status != Module.Status.DRAFT:
        raise Conflict(
            f"Revision {module.revision} of {module.key} is {module.status}: its sections change only through "
            "a new revision (POST …/revise/)."
        )


@transaction.atomic
def save_section(*, actor, data: Mapping[str, Any], section: ModuleSection | None = None) -> ModuleSection:
    module = section.module if section is not None else data["module"]
    if section is not None and "module" in data and data["module"].pk != section.module_id:
        raise ValidationError({"module": ["A section stays in its module."]})
    _require(may_write_module(actor, module), "Only the module's university's faculty may edit it.")
    _require_draft(_lock_module(module))
    return audit.write(actor=actor, instance=section or ModuleSection(), data=data, fields=SECTION_FIELDS)


@transaction.atomic
def delete_section(*, actor, section: ModuleSection) -> None:
    _require(may_write_module(actor, section.module), "Only the module's university's faculty may edit it.")
    _require_draft(_lock_module(section.module))
    audit.delete(actor=actor, instance=section, fields=SECTION_FIELDS)


@transaction.atomic
def publish(*, actor, module: Module) -> Module:
    """A draft with at least one section becomes the published revision of its key; the
    revision published before it is archived. Learners who started an earlier revision keep it
    (and finish it there); the assignments of earlier revisions nobody started move to the new
    one (one per student)."""
    _require(may_write_module(actor, module), "Only the module's university's faculty may publish it.")
    module = _lock_module(module)
    if module.status != Module.Status.DRAFT:
        raise Conflict(f"Revision {module.revision} of {module.key} is {module.status}, not a draft.")
    if not module.sections.exists():
        raise Conflict("A module needs at least one section to be published.")
    now = timezone.now()
    previous = list(Module.objects.filter(key=module.key).exclude(pk=module.pk).exclude(status=Module.Status.DRAFT))
    archived = [m.revision for m in previous if m.status == Module.Status.PUBLISHED]
    Module.objects.filter(pk__in=[m.pk for m in previous]).update(status=Module.Status.ARCHIVED)
    # The earlier revisions' assignments, locked: a learner's first event waits for this, or
    # this for it; then the statements below see it.
    assignments = ModuleAssignment.objects.filter(module__in=previous)
    assignments.lock()
    unstarted = assignments.exclude(
        Exists(ModuleProgress.objects.filter(student=OuterRef("student"), module=OuterRef("module")))
    )
    # One assignment per student moves (a required one first, then the earliest due); the
    # rest, now duplicates, go.
    has_new = ModuleAssignment.objects.filter(module=module, student=OuterRef("student"))
    first = (
        unstarted.order_by("student_id", "-required", F("due_at").asc(nulls_last=True), "pk")
        .distinct("student_id")
        .values("pk")
    )
    moved = unstarted.filter(pk__in=Subquery(first)).exclude(Exists(has_new)).update(module=module)
    dropped, _ = unstarted.filter(Exists(has_new)).delete()
    module.status, module.published_at = Module.Status.PUBLISHED, now
    module.save(update_fields=["status", "published_at"])
    changes = {"after": {"revision": module.revision}, "archived": archived, "moved": moved, "dropped": dropped}
    audit.record("publish", actor=actor, obj=module, changes=changes)
    return module


@transaction.atomic
def archive(*, actor, module: Module) -> Module:
    _require(may_write_module(actor, module), "Only the module's university's faculty may archive it.")
    module = _lock_module(module)
    if module.status != Module.Status.PUBLISHED:
        raise Conflict(
            f"Revision {module.revision} of {module.key} is {module.status}: only a published one is archived."
        )
    module.assignments.lock()  # a learner's write in flight finishes first; the next sees it archived
    module.status = Module.Status.ARCHIVED
    module.save(update_fields=["status"])
    audit.record("archive", actor=actor, obj=module, changes={"after": {"status": module.status}})
    return module


@transaction.atomic
def new_revision(*, actor, module: Module) -> Module:
    """A draft copy of ``module`` and its sections as the key's next revision, to edit and
    publish. A key has at most one draft: asking again is a Conflict naming it."""
    _require(may_write_module(actor, module), "Only the module's university's faculty may revise it.")
    module = _lock_module(module)
    revisions = Module.objects.filter(key=module.key)
    if draft := revisions.filter(status=Module.Status.DRAFT).first():
        raise Conflict(f"{module.key} already has a draft: revision {draft.revision} (id {draft.pk}).")
    latest = max(revisions.values_list("revision", flat=True))
    copy = Module.objects.create(
        key=module.key, revision=latest + 1, title=module.title, category=module.category,
        estimated_minutes=module.estimated_minutes, university_id=module.university_id,
        author=actor if actor.is_authenticated else None, prerequisites=module.prerequisites, tags=module.tags,
    )  # fmt: skip
    ModuleSection.objects.bulk_create(
        ModuleSection(
            module=copy,
            order=s.order,
            section_type=s.section_type,
            title=s.title,
            content=s.content,
            duration_minutes=s.duration_minutes,
        )
        for s in module.sections.all()
    )
    audit.record("revise", actor=actor, obj=copy, changes={"after": {"from_revision": module.revision}})
    return copy


# --- assignments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assigned:
    created: int
    updated: int


@transaction.atomic
def assign(*, actor, module: Module, students: Iterable[Student], due_at: datetime | None, required: bool) -> Assigned:
    """Assign a published module to students (new ones created, existing ones given the new
    due date and flag). Faculty assign their university's students; researchers anyone's."""
    module = _lock_module(module)
    if module.status != Module.Status.PUBLISHED:
        raise Conflict(f"Revision {module.revision} of {module.key} is {module.status}: assign a published one.")
    students = list({student.pk: student for student in students}.values())  # each once
    for student in students:
        _require(may_write_university(actor, student.university_id), "Only the students' university's faculty.")
    # The existing ones are locked (in id order) before the upsert changes them, as learners'
    # writes lock theirs: taken in the request's order they could deadlock with a batch of events.
    existing = {student for student, _ in lock_assignments((s.pk, module.pk) for s in students)}
    ModuleAssignment.objects.bulk_create(
        [
            ModuleAssignment(module=module, student=s, due_at=due_at, required=required, assigned_by=actor)
            for s in students
        ],
        update_conflicts=True,
        unique_fields=["module", "student"],
        update_fields=["due_at", "required"],
    )
    result = Assigned(created=len({s.pk for s in students} - existing), updated=len(existing))
    audit.record(
        "assign",
        actor=actor,
        obj=module,
        changes={"counts": {"created": result.created, "updated": result.updated}, "required": required},
    )
    return result


# --- what students do ----------------------------------------------------------------------------


def student_of(user) -> Student:
    student = Student.objects.filter(user=user, active=True).first() if user.is_authenticated else None
    if student is None:
        raise PermissionDenied("Only students take modules: your login has no active student record.")
    return student


def missing_prerequisites(student: Student, module: Module) -> list[str]:
    """The prerequisite keys the student has not completed (any revision counts)."""
    if not module.prerequisites:
        return []
    done = set(
        ModuleProgress.objects.filter(
            student=student, module__key__in=module.prerequisites, status=ModuleProgress.Status.COMPLETED
        ).values_list("module__key", flat=True)
    )
    return [key for key in module.prerequisites if key not in done]


def _hold_assignment(student: Student, module: Module) -> None:
    """Lock the student's assignment of the module until the transaction ends, or refuse (a
    Conflict): the module is assigned to them and published, or archived and they started it
    (they finish the revision they began). The status is read once the lock is held:
    publishing and archiving take it too, so it cannot change before this write commits."""
    locked = lock_assignments([(student.pk, module.pk)])
    status = Module.objects.filter(pk=module.pk).values_list("status", flat=True).first()
    started = ModuleProgress.objects.filter(student=student, module=module).exists()
    if not locked or not (status == Module.Status.PUBLISHED or (status == Module.Status.ARCHIVED and started)):
        raise Conflict(f"{module.key} (revision {module.revision}) is not assigned to you.")


def _record(student: Student, module: Module, event_type: str, *, section=None, seconds: int = 0) -> ModuleProgress:
    """An event of the student now, and their progress recomputed (``_hold_assignment`` first)."""
    ModuleAnalyticsEvent.objects.create(
        student=student, module=module, section=section, event_type=event_type, duration_seconds=seconds,
        at=timezone.now(),
    )  # fmt: skip
    refresh_progress([(student.pk, module.pk)])
    return ModuleProgress.objects.select_related("current_section").get(student=student, module=module)


@transaction.atomic
def start(*, student: Student, module: Module) -> ModuleProgress:
    """Start (or resume) an assigned module; its prerequisites must be complete first (a
    Conflict naming those that are not)."""
    _hold_assignment(student, module)
    if missing := missing_prerequisites(student, module):
        raise Conflict(f"Complete the prerequisites first: {', '.join(missing)}.")
    started = ModuleProgress.objects.filter(student=student, module=module).exists()
    return _record(student, module, ModuleAnalyticsEvent.Type.RESUME if started else ModuleAnalyticsEvent.Type.START)


@transaction.atomic
def view_section(*, student: Student, module: Module, section: ModuleSection, seconds: int) -> ModuleProgress:
    """The student spent ``seconds`` on a section of a module they have started."""
    _hold_assignment(student, module)
    if section.module_id != module.pk:
        raise ValidationError({"section": [f"Section {section.pk} is not part of this module."]})
    if not ModuleProgress.objects.filter(student=student, module=module).exists():
        raise Conflict("Start the module first (POST …/start/).")
    return _record(student, module, ModuleAnalyticsEvent.Type.SECTION_VIEW, section=section, seconds=seconds)


@transaction.atomic
def complete(*, student: Student, module: Module) -> ModuleProgress:
    """Complete a module whose every section the student has viewed (else a Conflict naming
    the sections left)."""
    _hold_assignment(student, module)
    progress = ModuleProgress.objects.filter(student=student, module=module).first()
    if progress is None:
        raise Conflict("Start the module first (POST …/start/).")
    left = module.sections.exclude(pk__in=progress.completed_sections).order_by("order")
    if left := [f"{s.order}. {s.title}" for s in left]:
        raise Conflict(f"Sections not viewed yet: {'; '.join(left)}.")
    return _record(student, module, ModuleAnalyticsEvent.Type.COMPLETE)


@transaction.atomic
def give_feedback(*, student: Student, module: Module, rating: int, comment: str) -> ModuleFeedback:
    """The student's rating (1 to 5) and comment on an assigned module; giving it again replaces it."""
    _hold_assignment(student, module)
    feedback, created = ModuleFeedback.objects.update_or_create(
        student=student, module=module, defaults={"rating": rating, "comment": comment, "created_at": timezone.now()}
    )
    changes = {"after": {"rating": rating, "comment": comment}}
    audit.record("create" if created else "update", actor=student.user, obj=feedback, changes=changes)
    return feedback


# --- progress from events ------------------------------------------------------------------------

# Per (student, module): started at the first event, last accessed at the latest, the time
# summed, the sections viewed (in the order first viewed), the section viewed last, completed at
# the first complete event; percent = sections viewed / the module's sections (100 once
# completed). Recomputed whole for the pairs given, so a replay gives the same rows.
_REFRESH = f"""
WITH pairs AS (
    SELECT DISTINCT * FROM unnest(%s::bigint[], %s::bigint[]) AS p(student_id, module_id)
), summary AS (
    SELECT e.student_id, e.module_id,
           min(e.at) AS started_at,
           max(e.at) AS last_accessed_at,
           sum(e.duration_seconds) AS total_seconds,
           min(e.at) FILTER (WHERE e.event_type = 'complete') AS completed_at,
           (array_agg(e.section_id ORDER BY e.at DESC, e.id DESC)
                FILTER (WHERE e.event_type = 'section_view'))[1] AS current_section_id
    FROM {EVENT} e JOIN pairs USING (student_id, module_id)
    GROUP BY e.student_id, e.module_id
), viewed AS (
    SELECT student_id, module_id, array_agg(section_id ORDER BY first_at, section_id) AS sections
    FROM (
        SELECT e.student_id, e.module_id, e.section_id, min(e.at) AS first_at
        FROM {EVENT} e JOIN pairs USING (student_id, module_id)
        WHERE e.event_type = 'section_view'
        GROUP BY 1, 2, 3
    ) first_views
    GROUP BY 1, 2
), sizes AS (
    SELECT module_id, count(*) AS sections FROM {SECTION}
    WHERE module_id IN (SELECT module_id FROM pairs) GROUP BY 1
)
INSERT INTO {PROGRESS} AS p (student_id, module_id, status, percent, current_section_id, started_at, completed_at,
                             last_accessed_at, total_seconds, completed_sections)
SELECT s.student_id, s.module_id,
       CASE WHEN s.completed_at IS NULL THEN 'in_progress' ELSE 'completed' END,
       CASE WHEN s.completed_at IS NOT NULL THEN 100
            WHEN coalesce(z.sections, 0) = 0 THEN 0
            ELSE least(100, floor(100.0 * coalesce(cardinality(v.sections), 0) / z.sections))::int END,
       s.current_section_id, s.started_at, s.completed_at, s.last_accessed_at, s.total_seconds,
       coalesce(v.sections, '{{}}')
FROM summary s
LEFT JOIN viewed v USING (student_id, module_id)
LEFT JOIN sizes z USING (module_id)
ON CONFLICT (student_id, module_id) DO UPDATE SET
    status = EXCLUDED.status, percent = EXCLUDED.percent, current_section_id = EXCLUDED.current_section_id,
    started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at,
    last_accessed_at = EXCLUDED.last_accessed_at, total_seconds = EXCLUDED.total_seconds,
    completed_sections = EXCLUDED.completed_sections
"""


def refresh_progress(pairs: Iterable[tuple[int, int]]) -> int:
    """Recompute the progress of these (student id, module id) pairs from all their events:
    one statement. Returns the rows written."""
    pairs = list(pairs)
    if not pairs:
        return 0
    students, modules = zip(*pairs, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH, [list(students), list(modules)])
        return cursor.rowcount


# --- events in bulk ------------------------------------------------------------------------------

MAX_ROWS = 10_000  # per POST events/
MAX_BYTES = 4 * 1024 * 1024


class EventRow(BaseModel):
    """``POST events/``: one event of a student in a module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    student: Annotated[int, Field(ge=1, le=2**63 - 1)]
    module: Annotated[int, Field(ge=1, le=2**63 - 1)]
    section: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    event_type: Literal["start", "section_view", "pause", "resume", "complete"]
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    at: datetime


_events = TypeAdapter(list[EventRow])


def parse_events(body: bytes) -> list[EventRow]:
    """A JSON array of up to MAX_ROWS events; errors keyed by index."""
    rows = bulk.validate_json_array(_events, body, max_rows=MAX_ROWS)
    invalid = {}
    for index, row in enumerate(rows):
        problems = {}
        if problem := utc_problem(row.at):
            problems["at"] = [problem]
        if row.event_type == "section_view" and row.section is None:
            problems["section"] = ["A section_view names its section."]
        if problems:
            invalid[str(index)] = problems
    if invalid:
        raise bulk.BatchInvalid(invalid)
    return rows


EVENT_COLUMNS = {
    "student_id": "int8",
    "module_id": "int8",
    "section_id": "int8",
    "event_type": "varchar",
    "duration_seconds": "int4",
    "at": "timestamptz",
}


@dataclass(frozen=True)
class EventBatchResult:
    received: int
    inserted: int
    progress_refreshed: int


def ingest_events(rows: list[EventRow], *, actor) -> EventBatchResult:
    """Check a validated batch against the database and COPY it in, then refresh the progress
    of the (student, module) pairs it touched: one transaction, one audit entry. Each event is
    of a student the actor may write, in a module they may see that is taken (published, or
    archived), and that the student is assigned; a section is of that module. BatchInvalid
    names the rows that are not, and nothing is written."""
    student_ids = {row.student for row in rows}
    module_ids = {row.module for row in rows}
    taken = (Module.Status.PUBLISHED, Module.Status.ARCHIVED)
    with bulk.paused_gc(), transaction.atomic(), connection.cursor() as cursor:
        students = dict(Student.objects.filter(pk__in=student_ids).values_list("pk", "university_id"))
        writable = {pk for pk, university in students.items() if may_write_university(actor, university)}
        # The assignments first: the modules' status is read once publishing or archiving
        # (which lock them too) can no longer change it before this batch commits.
        assigned = lock_assignments((row.student, row.module) for row in rows if row.student in writable)
        visible = Module.objects.visible_to(actor).filter(pk__in=module_ids, status__in=taken)
        modules = dict(visible.values_list("pk", "status"))
        sections = set(ModuleSection.objects.filter(module_id__in=modules).values_list("pk", "module_id").iterator())
        archived = [pk for pk, status in modules.items() if status == Module.Status.ARCHIVED]
        started = set(  # an archived revision takes events only from learners who started it
            ModuleProgress.objects.filter(module_id__in=archived, student_id__in=writable)
            .values_list("student_id", "module_id")
            .iterator()
        )
        invalid = {}
        for index, row in enumerate(rows):
            problems = {}
            if row.student not in writable:
                problems["student"] = [f"No student {row.student} among those you may write."]
            if row.module not in modules:
                problems["module"] = [f"No module {row.module} among the published ones you may see."]
            elif row.section is not None and (row.section, row.module) not in sections:
                problems["section"] = [f"No section {row.section} in module {row.module}."]
            elif row.student not in writable:
                pass  # refused above; whether it is assigned is not theirs to learn
            elif (row.student, row.module) not in assigned:
                problems["module"] = [f"Module {row.module} is not assigned to student {row.student}."]
            elif modules[row.module] == Module.Status.ARCHIVED and (row.student, row.module) not in started:
                problems["module"] = [f"Module {row.module} is archived: student {row.student} never started it."]
            if problems:
                invalid[str(index)] = problems
        if invalid:
            raise bulk.BatchInvalid(invalid)
        inserted = bulk.copy_rows(
            cursor,
            EVENT,
            EVENT_COLUMNS,
            ((r.student, r.module, r.section, r.event_type, r.duration_seconds, r.at) for r in rows),
        )
        refreshed = refresh_progress({(row.student, row.module) for row in rows})
        audit.record(
            "import",
            actor=actor,
            model=ModuleAnalyticsEvent,
            changes={"counts": {"received": len(rows), "inserted": inserted, "progress": refreshed}},
        )
    return EventBatchResult(received=len(rows), inserted=inserted, progress_refreshed=refreshed)


# --- analytics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRow:
    module: int
    key: str
    revision: int
    title: str
    assigned: int
    started: int
    completed: int


# ``university``: the students of one university only (faculty's view), or NULL for all.
# Progress is of an assignment (a foreign key, migration 0004), so a module's started and
# completed learners are its progress rows, counted apart from its assignments: two index
# scans grouped by module, no join of the two.
_FUNNEL = f"""
WITH learners AS (SELECT id FROM {STUDENT} WHERE university_id = %(university)s),
assigned AS (
    SELECT module_id, count(*) AS n FROM {ASSIGNMENT}
    WHERE module_id = ANY(%(modules)s)
      AND (%(university)s::bigint IS NULL OR student_id IN (SELECT id FROM learners))
    GROUP BY module_id
), progressed AS (
    SELECT module_id, count(*) AS started, count(*) FILTER (WHERE status = 'completed') AS completed
    FROM {PROGRESS}
    WHERE module_id = ANY(%(modules)s)
      AND (%(university)s::bigint IS NULL OR student_id IN (SELECT id FROM learners))
    GROUP BY module_id
)
SELECT a.module_id, a.n, coalesce(p.started, 0), coalesce(p.completed, 0)
FROM assigned a LEFT JOIN progressed p USING (module_id)
"""


def scope_of(user) -> int | None:
    """Whose learners a user's analytics count: a faculty member's university's, a
    researcher's everyone's (None)."""
    return None if is_researcher(user) else faculty_university_id(user)


def funnel(modules: Iterable[Module], university: int | None = None) -> list[FunnelRow]:
    """Per module: students assigned (of ``university``, or all), of whom started, of whom
    completed. One query whatever the number of modules and students."""
    modules = list(modules)
    with connection.cursor() as cursor:
        cursor.execute(_FUNNEL, {"modules": [m.pk for m in modules], "university": university})
        counts = {module: (assigned, started, done) for module, assigned, started, done in cursor.fetchall()}
    return [FunnelRow(m.pk, m.key, m.revision, m.title, *counts.get(m.pk, (0, 0, 0))) for m in modules]


@dataclass(frozen=True)
class SectionRow:
    section: int
    order: int
    title: str
    views: int
    median_seconds: float | None
    stopped_here: int  # learners who started, did not complete, and viewed this section last


_SECTIONS = f"""
WITH learners AS (SELECT id FROM {STUDENT} WHERE %(university)s::bigint IS NULL OR university_id = %(university)s)
SELECT s.id, s."order", s.title,
       (SELECT count(*) FROM {EVENT} e
         WHERE e.section_id = s.id AND e.event_type = 'section_view' AND e.student_id IN (SELECT id FROM learners)),
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e.duration_seconds) FROM {EVENT} e
         WHERE e.section_id = s.id AND e.event_type = 'section_view' AND e.student_id IN (SELECT id FROM learners)),
       (SELECT count(*) FROM {PROGRESS} p
         WHERE p.current_section_id = s.id AND p.module_id = s.module_id AND p.status = 'in_progress'
           AND p.student_id IN (SELECT id FROM learners))
FROM {SECTION} s WHERE s.module_id = %(module)s ORDER BY s."order"
"""


@dataclass(frozen=True)
class ModuleAnalytics:
    funnel: FunnelRow
    sections: list[SectionRow]
    drop_off: SectionRow | None  # the section where most unfinished learners stopped
    feedback_count: int
    average_rating: float | None


def module_analytics(module: Module, university: int | None = None) -> ModuleAnalytics:
    """One module's funnel, median time per section (of its section views), the section where
    learners drop off, and its feedback, over the learners of ``university`` (or all). Three
    queries."""
    with connection.cursor() as cursor:
        cursor.execute(_SECTIONS, {"module": module.pk, "university": university})
        sections = [SectionRow(*row) for row in cursor.fetchall()]
    stopped = [s for s in sections if s.stopped_here]
    drop_off = max(stopped, key=lambda s: (s.stopped_here, -s.order)) if stopped else None
    feedback = ModuleFeedback.objects.filter(module=module)
    if university is not None:
        feedback = feedback.filter(student__university_id=university)
    ratings = feedback.aggregate(n=Count("id"), average=Avg("rating"))
    return ModuleAnalytics(
        funnel=funnel([module], university)[0],
        sections=sections,
        drop_off=drop_off,
        feedback_count=ratings["n"],
        average_rating=float(ratings["average"]) if ratings["average"] is not None else None,
    )


@dataclass(frozen=True)
class OverdueRow:
    university: int
    name: str
    overdue: int  # required assignments past due and not completed
    students: int  # distinct students with one


def overdue(students, now: datetime | None = None) -> list[OverdueRow]:
    """Per university: required assignments past their due date whose module (any revision
    of it) the student has not completed, among ``students`` (a queryset). One query."""
    now = now or timezone.now()
    completed = ModuleProgress.objects.filter(status=ModuleProgress.Status.COMPLETED)
    rows = (
        ModuleAssignment.objects.filter(student__in=students, required=True, due_at__lt=now)
        .exclude(Exists(completed.filter(student=OuterRef("student"), module__key=OuterRef("module__key"))))
        .values("student__university", "student__university__name")
        .annotate(overdue=Count("id"), students=Count("student", distinct=True))
        .order_by("-overdue", "student__university__name")
    )
    return [
        OverdueRow(r["student__university"], r["student__university__name"], r["overdue"], r["students"]) for r in rows
    ]
