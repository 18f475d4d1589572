"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis).

Bounded: a few examples per operation and no deadline, so it stays quick on two cores.
Every response must be documented, match its schema, and never be a 5xx.
"""

import contextlib
import itertools
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from veritas.views import api_not_found
from veritas.wsgi import application

# The schema /api/v1/schema/ serves, built in-process (no request, no database).
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True))))
schema.app = application


# Rules no OpenAPI schema can state, documented in docs/monitoring.md and tested there:
# generated requests keep them, so that a 400 for breaking one is not "valid data rejected".
def _moment(value):
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@schema.hook
def filter_query(ctx, query):
    """`until` before `since` is a 400 (monitoring's time filters)."""
    since, until = _moment((query or {}).get("since")), _moment((query or {}).get("until"))
    try:
        return since is None or until is None or until >= since
    except OverflowError:  # compared in UTC, one of them leaves the calendar: a 400 anyway
        return True


@schema.hook
def map_body(ctx, body):
    """A log timestamp ahead of the server's clock is a 400 (POST monitoring/logs/)."""
    now = datetime.now(UTC)
    for row in body if isinstance(body, list) else [body]:
        moment = _moment(row.get("timestamp")) if isinstance(row, dict) else None
        with contextlib.suppress(OverflowError):
            if moment is not None and moment.tzinfo is not None and moment > now:
                row["timestamp"] = now.isoformat()
    return body


# The dashboard's rules no schema states (docs/dashboard.md, tested in tests/dashboard/): bodies
# name objects that must exist (a student, cohorts, modules, users), some values must be unique
# (external ids, emails, cohort names in a term, module codes), a score is at most max_score,
# and prerequisites may not form a cycle. Generated bodies are mapped onto DASHBOARD's rows
# (made by the `dashboard_data` fixture) and made unique, so that their real logic runs.
DASHBOARD: dict = {}
DROPOUT: dict = {}
RESEARCH: dict = {}
FRAMES: dict = {}
_unique = itertools.count(1)


def _decimal(value, default):
    try:
        return Decimal(str(value if value is not None else default))
    except InvalidOperation:
        return Decimal(default)


def _score_within_max(body, stored_max="100"):
    if "score" in body or "max_score" in body:
        score, maximum = _decimal(body.get("score"), "0"), _decimal(body.get("max_score"), stored_max)
        if score > maximum:
            score, maximum = maximum, score
        body["score"], body["max_score"] = str(score), str(max(maximum, Decimal(1)))


def _dashboard_body(path, method, body):
    n = next(_unique)
    if path.endswith("/assessments/bulk/"):
        if isinstance(body, str):  # text/csv
            row = f"{DASHBOARD['external_id']},quiz,Math,{n % 100},2026-10-01T09:00:00Z"
            return f"student,kind,subject,score,taken_at\n{row}\n"
        for row in body if isinstance(body, list) else []:
            row.update(student=DASHBOARD["external_id"], concept_modules=[])
            _score_within_max(row)
        return body
    if not isinstance(body, dict):
        return body
    if "external_id" in body:
        body["external_id"] = f"{body['external_id'][:50]}-{n}"
    if "email" in body:
        body["email"] = f"fuzz{n}@example.com"
    if "code" in body:
        body["code"] = f"{body['code'][:40]}-{n}"
    if "/cohorts/" in path and "name" in body:
        body["name"] = f"{body['name'][:180]} {n}"
    for key, value in [("user", None), ("cohorts", [DASHBOARD["cohort"]]), ("staff", ["fuzzer"]),
                       ("students", [DASHBOARD["uuid"]]), ("prerequisites", []), ("concept_modules", [])]:  # fmt: skip
        if key in body:
            body[key] = value
    if "/assessments/" in path:
        if method == "POST":
            body["student"] = DASHBOARD["uuid"]
        _score_within_max(body)
    return body


def _dropout_body(path, body):
    """Dropout bodies name presentations, students and sites that exist (DROPOUT's)."""
    if path.endswith("/events/"):
        if isinstance(body, str):  # text/csv
            return (
                "code_module,code_presentation,id_student,id_site,date,sum_click\n"
                f"AAA,2013B,{DASHBOARD['external_id']},{DROPOUT['site']},12,3\n"
            )
        for row in body if isinstance(body, list) else []:
            if isinstance(row, dict):
                row.update(
                    code_module="AAA", code_presentation="2013B", id_student=DASHBOARD["external_id"],
                    id_site=DROPOUT["site"],
                )  # fmt: skip
        return body
    if path.endswith("/models/train/") and isinstance(body, dict):
        body.update(train_presentations=["2013B"], validation_presentations=["2013J"])
        if isinstance(body.get("cutoff_day"), int):
            body["cutoff_day"] %= 240
    return body


def _vector_store_body(path: str, body):
    """Vectors of the fuzzed store's dimension (3), not all zeros, ids unique in a batch, and
    an expiry in the future (no schema can say so)."""
    if isinstance(body, dict) and "expires_at" in body:
        body["expires_at"] = "2999-01-01T00:00:00Z"
    if path.endswith("/search/") and isinstance(body, dict):
        body["vector"] = [1.0, 2.0, 3.0]
    if path.endswith("/items/") and isinstance(body, list):
        body = body or [{"id": "fz"}]
        for index, item in enumerate(body):
            if isinstance(item, dict):
                item.update(id=f"fz{index}", vector=[1.0, 2.0, 3.0])
    return body


def _frames_case(case) -> None:
    """FRAMES requests name rows that exist (FRAMES's), names unique where they must be, an
    interface between two entities not yet linked, values within their decimal places, and
    no second lead for a team (docs/frames.md)."""
    from frames.models import Team

    path, n = case.operation.path, next(_unique)
    parameters = case.path_parameters or {}
    if "id" in parameters:
        resource = path.removeprefix("/api/v1/frames/").split("/")[0]
        parameters["id"] = FRAMES["ids"].get(resource, parameters["id"])
    for key in ("model", "a", "b"):
        if isinstance(case.query, dict) and key in case.query:
            case.query[key] = "baseline_v1"
    body = case.body
    if path.endswith("/frames/events/") and isinstance(body, list):
        for row in body:
            if isinstance(row, dict):
                viewed = row.get("event_type") == "section_view"
                row.update(
                    student=FRAMES["student"], module=FRAMES["module"], section=FRAMES["section"] if viewed else None
                )
        return
    if not isinstance(body, dict):
        return
    if "key" in body:
        body["key"] = f"fz-{n}"
    if "order" in body:
        body["order"] = n
    body.update({key: [] for key in ("prerequisites",) if key in body})
    if "students" in body:
        body["students"] = [FRAMES["student"]]
    if "section" in body:
        body["section"] = FRAMES["section"]
    if "name" in body:
        body["name"] = f"{str(body['name'])[:40]}-{n}"
    for key in ("university", "project", "team", "factor", "value"):
        if key in body:
            body[key] = FRAMES[key]
    if "module" in body:  # a section is written into a draft
        body["module"] = FRAMES["draft"] if "/sections/" in path else FRAMES["module"]
    if "from_kind" in body:
        fresh = Team.objects.create(university_id=FRAMES["university"], name=f"Fuzz team {n}")
        body.update(from_kind="team", from_id=fresh.pk, to_kind="project", to_id=FRAMES["project"])
    if "weights" in body:
        body["weights"] = [{"factor": "bond_strength", "weight": 1.5, "enabled": True}]
    body.update({key: 0.5 for key in ("contribution", "threshold") if key in body})
    if "is_lead" in body:
        body["is_lead"] = False
    if "cohort_year" in body and body["cohort_year"] is not None:
        body["cohort_year"] = 2024


def address_dashboard_rows(case):
    """Schema-valid dashboard requests address DASHBOARD's rows (a random id is only ever a
    404), with their bodies mapped as above. Invalid ones are left as generated: they must
    fail. (Done when the case runs, not in a hook: the coverage phase builds its cases when
    the tests are collected, before any row exists.)"""
    path = case.operation.path
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    if not negative and path.startswith("/api/v1/chat/") and isinstance(case.body, dict) and "file" in case.body:
        # An upload of text: a random file is no type the chat reads (415) or has no text (400).
        case.body["file"] = f"Fuzz document {next(_unique)} about wind tunnels.".encode()
        return
    if not negative and path.startswith("/api/v1/dropout/"):
        parameters = case.path_parameters or {}
        if "uuid" in parameters:
            parameters["uuid"] = DASHBOARD["uuid"]
        if "id" in parameters and path.startswith("/api/v1/dropout/enrollments/"):
            parameters["id"] = DROPOUT["enrollment"]
        if case.body is not None:
            case.body = _dropout_body(path, case.body)
        return
    if not negative and path.startswith("/api/v1/research/qac/") and isinstance(case.body, dict):
        # A matrix's rows are of one length and outnumber k_nn (no schema can say so).
        case.body["embedding"] = [[float(i), float(i % 3)] for i in range(20)]
        params = case.body.get("params")
        if isinstance(params, dict) and isinstance(params.get("k_nn"), int):
            params["k_nn"] = min(params["k_nn"], 19)
        return
    if not negative and path.startswith("/api/v1/research/vector-stores/"):
        if "public_id" in (case.path_parameters or {}):
            case.path_parameters["public_id"] = RESEARCH["store"]
        case.body = _vector_store_body(path, case.body)
        return
    if not negative and path.startswith("/api/v1/frames/"):
        _frames_case(case)
        return
    if negative or not path.startswith("/api/v1/dashboard/"):
        return
    parameters = case.path_parameters or {}
    if "uuid" in parameters:
        parameters["uuid"] = DASHBOARD["uuid"]
    if "id" in parameters:
        resource = path.removeprefix("/api/v1/dashboard/").split("/")[0]
        parameters["id"] = DASHBOARD["ids"].get(resource, parameters["id"])
    if case.body is not None:
        case.body = _dashboard_body(path, case.operation.method.upper(), case.body)


# derandomize: the same examples every run, so CI is repeatable; raise VERITAS_FUZZ_EXAMPLES
# (and unset derandomize with VERITAS_FUZZ_RANDOM=1) to hunt for new failures locally.
FUZZ = settings(
    max_examples=int(os.environ.get("VERITAS_FUZZ_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("VERITAS_FUZZ_RANDOM") != "1",
)


@pytest.fixture(autouse=True)
def keep_the_test_transaction():
    """Calling the WSGI app directly would close the test's connection (and so its
    transaction) on request_started/finished; Django's own test client avoids that the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, django_user_model, token_for):
    """A superuser: every operation's real logic is exercised, not just its 403."""
    admin = django_user_model.objects.create_superuser("fuzzer", "fuzzer@example.com", None)
    return {"Authorization": f"Bearer {token_for(admin)}"}


@pytest.fixture
def dashboard_data(bearer, django_user_model):
    """One of each dashboard object, the fuzzing superuser on the cohort's staff."""
    from dashboard import services
    from dashboard.models import Cohort, ConceptModule, Student
    from veritas.models import ActionLog

    fuzzer = django_user_model.objects.get(username="fuzzer")
    pupil = django_user_model.objects.create_user("fuzzpupil", password=None)
    cohort = services.save_cohort(actor=fuzzer, data={"name": "Fuzz", "term": "2026", "staff": [fuzzer]})
    student = services.create_student(
        actor=fuzzer,
        data={"external_id": "fz001", "name": "F", "email": "fz@example.com", "user": pupil},
        cohorts=[cohort],
    )
    module = services.save_module(actor=fuzzer, data={"subject": "Math", "code": "FZ1", "name": "F"})
    assessment = services.record_assessment(
        actor=fuzzer,
        student=student,
        data={"kind": "quiz", "subject": "Math", "score": 50, "taken_at": datetime.now(UTC)},
    )
    draft = services.create_draft(actor=pupil, student=student, title="Fuzz")
    services.submit_draft(actor=pupil, draft=draft)
    DASHBOARD.update(
        uuid=str(student.uuid),
        external_id=student.external_id,
        cohort=cohort.pk,
        ids={
            "cohorts": cohort.pk,
            "concept-modules": module.pk,
            "assessments": assessment.pk,
            "drafts": draft.pk,
            "actions": ActionLog.objects.filter(object_type__startswith="dashboard.").earliest("at").pk,
        },
    )
    assert Student.objects.count() == Cohort.objects.count() == ConceptModule.objects.count() == 1
    # The dropout app's: a course with two presentations, the student on both, a site.
    from dropout.models import Course, Enrollment, LearningActivity, Presentation

    course = Course.objects.create(code="AAA")
    earlier, later = (
        Presentation.objects.create(course=course, code=code, start_date=date(year, month, 1), length_days=240)
        for code, year, month in (("2013B", 2013, 2), ("2013J", 2013, 10))
    )
    enrollment = Enrollment.objects.create(student=student, presentation=earlier, registered_day=-10)
    Enrollment.objects.create(student=student, presentation=later, registered_day=-10)
    site = LearningActivity.objects.create(presentation=earlier, external_id="fz-site", activity_type="resource")
    DROPOUT.update(enrollment=enrollment.pk, site=site.external_id)
    yield
    DASHBOARD.clear()
    DROPOUT.clear()


@pytest.fixture
def institution_key(db):
    """Research endpoints are fuzzed as an institution (their real logic, not a 403)."""
    from research import services, vectors
    from research.models import Institution

    institution = Institution.objects.create(name="Fuzz University", slug="fuzz", requests_per_hour=100_000)
    RESEARCH["store"] = str(vectors.create_store(institution=institution, name="fuzz", dimension=3).public_id)
    return {"Authorization": f"Bearer {services.issue_key(institution=institution, name='fuzz')[1]}"}


@pytest.fixture
def frames_data(bearer, django_user_model):
    """One of each FRAMES row, for the fuzzing superuser (a researcher: every operation's logic)."""
    from frames import lms, services
    from frames.models import (
        FactorModel,
        FactorValue,
        Interface,
        Module,
        ModuleAssignment,
        ModuleFeedback,
        ModuleSection,
        Outcome,
        Project,
        RiskFactor,
        Student,
        Team,
        University,
    )
    from veritas.models import ActionLog

    fuzzer = django_user_model.objects.get(username="fuzzer")
    university = University.objects.create(code="fz", name="Fuzz University")
    project = Project.objects.create(university=university, name="Fuzz project")
    team = Team.objects.create(university=university, project=project, name="Fuzz team")
    student = Student.objects.create(university=university, team=team, name="Fuzz student")
    interface = Interface.between(team, project, "concurrent")
    interface.save()
    outcome = Outcome.objects.create(
        university=university, project=project, outcome_type="mission_success", success=True
    )
    factor = RiskFactor.objects.get(name="bond_strength")
    value = FactorValue.objects.get(factor=factor, name="weak")
    services.assign_factor_value(actor=fuzzer, interface=interface, value=value)
    advance = services.advance_term(actor=fuzzer, university=university)  # an audit entry, and no departure
    assert advance.graduated == 0
    module = Module.objects.create(key="fz-published", title="Fuzz", university=university)
    section = ModuleSection.objects.create(module=module, order=1, title="Only")
    lms.publish(actor=fuzzer, module=module)
    draft = Module.objects.create(key="fz-draft", title="Draft", university=university)
    draft_section = ModuleSection.objects.create(module=draft, order=1, title="Draft part")
    assignment = ModuleAssignment.objects.create(module=module, student=student)
    feedback = ModuleFeedback.objects.create(module=module, student=student, rating=4)
    FRAMES.update(
        university=university.pk, project=project.pk, team=team.pk, factor=factor.pk, value=value.pk,
        student=student.pk, module=module.pk, section=section.pk, draft=draft.pk,
        ids={
            "modules": module.pk, "sections": draft_section.pk, "assignments": assignment.pk,
            "feedback": feedback.pk,
            "universities": university.pk, "projects": project.pk, "teams": team.pk, "students": student.pk,
            "interfaces": interface.pk, "outcomes": outcome.pk, "factors": factor.pk, "factor-values": value.pk,
            "models": FactorModel.objects.get(name="baseline_v1").pk,
            "actions": ActionLog.objects.filter(object_type__startswith="frames.").earliest("at").pk,
        },
    )  # fmt: skip
    yield
    FRAMES.clear()


@schema.parametrize()
@FUZZ
def test_the_api_honours_its_schema(case, bearer, institution_key, dashboard_data, frames_data):
    address_dashboard_rows(case)
    research = case.operation.path.startswith("/api/v1/research/") and not case.operation.path.endswith("/usage/")
    case.call_and_validate(headers=institution_key if research else bearer)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_credentials_every_operation_is_401(case, db):
    if case.operation.path == "/api/v1/research/health/":
        return  # anonymous, as documented
    response = case.call()

    if response.status_code == 404 and resolve(case.formatted_path).func is api_not_found:
        return  # a path parameter no route accepts (e.g. a non-numeric id): there is no operation
    assert response.status_code == 401, case.as_curl_command()
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")
