"""Performance records are exact: after any sequence of creates, corrections (score, maximum,
date, subject, concept modules), deletions, bulk imports (JSON and CSV) and back-fills, every
stored record equals a recomputation written here, independently of dashboard/performance.py's
SQL, from the assessment rows; and a group without rows has no record.

Hypothesis draws the sequences (over 3 students, 2 subjects, 3 concept modules, dates that
often tie so that the (taken_at, id) order matters; imports of rows that all come after the
others, which extend the records rather than recompute them); every example runs in a transaction
that is rolled back, and the records are compared after every step.
"""

import csv
import io
import json
import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dashboard import ingest, performance, services
from dashboard.models import AssessmentLog, ConceptModule, PerformanceRecord, Student

from .conftest import T0

pytestmark = pytest.mark.django_db

SUBJECTS = ["Math", "Physics"]
MODULES = [("ALG1", "Math"), ("ALG2", "Math"), ("MEC1", "Physics")]
STUDENTS = 3
REL = 1e-9  # relative tolerance of floats (sums depend on the order of addition)
ABS = 1e-9  # for values that are zero but for rounding (a flat trend)

# --- the independent recomputation -------------------------------------------------------------


def percentage(score: Decimal, max_score: Decimal) -> float:
    return float(score) / float(max_score) * 100


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (two-pass, centred); None without spread in x."""
    if len(points) < 2:
        return None
    mean_x = math.fsum(x for x, _ in points) / len(points)
    mean_y = math.fsum(y for _, y in points) / len(points)
    sxx = math.fsum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return math.fsum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def summarise(rows: list[dict], mastery: dict) -> dict:
    """One group's record from its rows, by the definitions (dashboard/performance.py's
    docstring) computed the plain way: the decaying average by its recurrence."""
    rows = sorted(rows, key=lambda row: (row["taken_at"], row["id"]))
    scores = [percentage(row["score"], row["max_score"]) for row in rows]
    weight = float(mastery["DECAYING_WEIGHT"])
    decaying = scores[0]
    for score in scores[1:]:
        decaying = (1 - weight) * decaying + weight * score
    reached = [score for score in scores if score >= float(mastery["THRESHOLD"])]
    return {
        "count": len(rows),
        "mean": math.fsum(scores) / len(scores),
        "last": scores[-1],
        "best": max(scores),
        "decaying": decaying,
        "n_mastery": math.fsum(reached) / len(reached) if len(reached) >= int(mastery["N"]) else None,
        "trend": slope([(row["taken_at"].timestamp() / 86400, s) for row, s in zip(rows, scores, strict=True)]),
        "first_at": rows[0]["taken_at"],
        "last_at": rows[-1]["taken_at"],
    }


def expected_records(rows: list[dict], mastery: dict) -> dict[tuple, dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(("overall", row["student_id"], "", None), []).append(row)
        groups.setdefault(("subject", row["student_id"], row["subject"], None), []).append(row)
        for module_id in row["modules"]:
            groups.setdefault(("concept", row["student_id"], "", module_id), []).append(row)
    return {key: summarise(group, mastery) for key, group in groups.items()}


def stored_records() -> dict[tuple, dict]:
    fields = ["count", "mean", "last", "best", "decaying", "n_mastery", "trend", "first_at", "last_at"]
    return {
        (r["scope"], r["student_id"], r["subject"], r["concept_module_id"]): {name: r[name] for name in fields}
        for r in PerformanceRecord.objects.values("scope", "student_id", "subject", "concept_module_id", *fields)
    }


def assessment_rows() -> dict[int, dict]:
    rows = {
        row["id"]: {**row, "modules": frozenset()}
        for row in AssessmentLog.objects.values("id", "student_id", "subject", "score", "max_score", "taken_at")
    }
    links = AssessmentLog.concept_modules.through.objects.values_list("assessmentlog_id", "conceptmodule_id")
    for assessment_id, module_id in links:
        rows[assessment_id]["modules"] |= {module_id}
    return rows


def close(expected, stored) -> bool:
    if expected is None or stored is None:
        return expected is stored
    if isinstance(expected, float):
        return math.isclose(stored, expected, rel_tol=REL, abs_tol=ABS)
    return expected == stored


def assert_exact(mastery: dict) -> None:
    expected = expected_records(list(assessment_rows().values()), mastery)
    stored = stored_records()
    assert set(stored) == set(expected), {
        "records without rows": sorted(set(stored) - set(expected), key=str),
        "groups without a record": sorted(set(expected) - set(stored), key=str),
    }
    for key, values in expected.items():
        got = stored[key]
        wrong = {name: (value, got[name]) for name, value in values.items() if not close(value, got[name])}
        assert not wrong, f"{key}: (expected, stored) {wrong}"


# --- the operations ----------------------------------------------------------------------------

moments = st.builds(
    lambda day, hour: T0 + timedelta(days=day, hours=hour), st.integers(0, 20), st.sampled_from([0, 6, 12])
)
max_scores = st.sampled_from([Decimal("10"), Decimal("37.50"), Decimal("100")])


@st.composite
def scores(draw) -> tuple[Decimal, Decimal]:
    maximum = draw(max_scores)
    cents = draw(st.integers(0, int(maximum * 100)))
    return Decimal(cents) / 100, maximum


rows = st.fixed_dictionaries(
    {
        "student": st.integers(0, STUDENTS - 1),
        "subject": st.sampled_from(SUBJECTS),
        "score": scores(),
        "taken_at": moments,
        "modules": st.sets(st.integers(0, len(MODULES) - 1), max_size=2),
    }
)
CORRECTABLE = {
    "score": scores(),
    "max_score": max_scores,
    "taken_at": moments,
    "subject": st.sampled_from(SUBJECTS),
    "modules": st.sets(st.integers(0, len(MODULES) - 1), max_size=2),
}


@st.composite
def corrections(draw) -> dict:
    """One or more fields of an assessment, new values."""
    names = draw(st.sets(st.sampled_from(sorted(CORRECTABLE)), min_size=1))
    return {name: draw(CORRECTABLE[name]) for name in sorted(names)}


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), rows),
        st.tuples(st.just("correct"), st.integers(0, 10**6), corrections()),
        st.tuples(st.just("delete"), st.integers(0, 10**6)),
        st.tuples(st.just("bulk"), st.lists(rows, min_size=1, max_size=8), st.sampled_from(["json", "csv"])),
        st.tuples(st.just("later"), st.lists(rows, min_size=1, max_size=8)),
    ),
    min_size=3,
    max_size=20,
)


class World:
    """The cast, and what each operation does through the services or the bulk path."""

    def __init__(self, teacher, students, modules):
        self.teacher, self.students, self.modules = teacher, students, modules

    def data(self, row: dict) -> dict:
        score, maximum = row["score"]
        return {
            "kind": "quiz",
            "subject": row["subject"],
            "score": score,
            "max_score": maximum,
            "taken_at": row["taken_at"],
            "concept_modules": [self.modules[i] for i in sorted(row["modules"])],
        }

    def create(self, row: dict) -> None:
        services.record_assessment(actor=self.teacher, student=self.students[row["student"]], data=self.data(row))

    def correct(self, pick: int, change: dict) -> None:
        assessment = self.pick(pick)
        if assessment is None:
            return
        data = {}
        if "score" in change:
            data["score"], data["max_score"] = change["score"]
        elif "max_score" in change:
            data["max_score"] = change["max_score"]
            data["score"] = min(assessment.score, change["max_score"])
        for name in ("taken_at", "subject"):
            if name in change:
                data[name] = change[name]
        if "modules" in change:
            data["concept_modules"] = [self.modules[i] for i in sorted(change["modules"])]
        services.correct_assessment(actor=self.teacher, assessment=assessment, data=data)

    def delete(self, pick: int) -> None:
        assessment = self.pick(pick)
        if assessment is not None:
            services.delete_assessment(actor=self.teacher, assessment=assessment)

    def bulk(self, batch: list[dict], form: str) -> None:
        records = [
            {
                "student": self.students[row["student"]].external_id,
                "kind": "exam",
                "subject": row["subject"],
                "score": str(row["score"][0]),
                "max_score": str(row["score"][1]),
                "taken_at": row["taken_at"].isoformat(),
                "concept_modules": [self.modules[i].code for i in sorted(row["modules"])],
            }
            for row in batch
        ]
        if form == "json":
            parsed = ingest.parse_json(json.dumps(records).encode())
        else:
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows({**r, "concept_modules": ";".join(r["concept_modules"])} for r in records)
            parsed = ingest.parse_csv(io.StringIO(text.getvalue()))
        report = ingest.import_assessments(parsed, actor=self.teacher)
        assert report.created == len(batch) and not report.invalid

    def later(self, batch: list[dict]) -> None:
        """A bulk import of rows all after the latest one: the records are extended."""
        latest = AssessmentLog.objects.aggregate(latest=Max("taken_at"))["latest"] or T0
        shift = latest - T0 + timedelta(hours=1)
        self.bulk([{**row, "taken_at": row["taken_at"] + shift} for row in batch], "json")

    def pick(self, index: int) -> AssessmentLog | None:
        ids = sorted(AssessmentLog.objects.values_list("pk", flat=True))
        return AssessmentLog.objects.get(pk=ids[index % len(ids)]) if ids else None


@pytest.fixture
def world(teacher, cohort):
    students = []
    for number in range(STUDENTS):
        student = Student.objects.create(
            external_id=f"p{number}", name=f"Pupil {number}", email=f"p{number}@example.com"
        )
        cohort.students.add(student)
        students.append(student)
    modules = [
        ConceptModule.objects.create(code=code, subject=subject, name=code, order=i)
        for i, (code, subject) in enumerate(MODULES)
    ]
    return World(teacher, students, modules)


def run_sequence(world: World, sequence: list[tuple]) -> None:
    mastery = settings.DASHBOARD_MASTERY
    with transaction.atomic():
        for name, *arguments in sequence:
            getattr(world, name)(*arguments)
            assert_exact(mastery)
        assert performance.differences() == []
        transaction.set_rollback(True)  # the next example starts from no assessments


EXAMPLES = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(sequence=operations)
def test_records_equal_a_recomputation_after_any_sequence_of_writes(world, sequence):
    run_sequence(world, sequence)


@hypothesis_settings(parent=EXAMPLES, max_examples=20)
@given(sequence=operations)
@override_settings(DASHBOARD_MASTERY={"DECAYING_WEIGHT": 0.3, "THRESHOLD": 75.0, "N": 2})
def test_and_with_other_mastery_settings(world, sequence):
    run_sequence(world, sequence)


def test_long_groups_extended_by_long_imports(world, monkeypatch):
    """Past the cap of the decaying average's exponent (658 rows at w = 0.65) the earlier
    rows weigh nothing, in both ways of computing a record; nothing underflows."""
    day = [
        {
            "student": 0,
            "subject": "Math",
            "score": (Decimal(i % 100), Decimal(100)),
            "modules": {0},
            "taken_at": T0 + timedelta(minutes=i),
        }
        for i in range(700)
    ]
    world.bulk(day, "json")
    with monkeypatch.context() as patched:  # extended, never recomputed from the rows
        patched.setattr(performance, "_recompute", lambda *args: pytest.fail("recomputed"))
        world.later(day[:50])
        world.later(day)

    assert_exact(settings.DASHBOARD_MASTERY)
    assert performance.differences() == []
    assert PerformanceRecord.objects.get(scope="overall").count == 1450


class TestTheRecomputationItself:
    """The reference above must be right for the comparison to mean anything."""

    def test_a_hand_computed_group(self):
        rows = [
            {"id": 2, "taken_at": T0 + timedelta(days=2), "score": Decimal(80), "max_score": Decimal(100)},
            {"id": 1, "taken_at": T0, "score": Decimal(5), "max_score": Decimal(10)},
            {"id": 3, "taken_at": T0 + timedelta(days=2), "score": Decimal(35), "max_score": Decimal(50)},
        ]
        mastery = {"DECAYING_WEIGHT": 0.5, "THRESHOLD": 60, "N": 2}

        record = summarise(rows, mastery)

        # In order: 50 (day 0), 80 (day 2, id 2), 70 (day 2, id 3).
        assert record["count"] == 3
        assert record["mean"] == pytest.approx(200 / 3)
        assert record["last"] == pytest.approx(70)  # the tie on day 2 goes to the higher id
        assert record["best"] == pytest.approx(80)
        assert record["decaying"] == pytest.approx(0.5 * (0.5 * 50 + 0.5 * 80) + 0.5 * 70)
        assert record["n_mastery"] == pytest.approx(75)
        # Least squares through (0, 50), (2, 80), (2, 70): slope 300/24 = 12.5 points a day.
        assert record["trend"] == pytest.approx(12.5)
        assert record["first_at"] == T0 and record["last_at"] == T0 + timedelta(days=2)

    def test_n_mastery_needs_n_scores_at_the_threshold_and_a_trend_two_moments(self):
        rows = [
            {"id": 1, "taken_at": T0, "score": Decimal(60), "max_score": Decimal(100)},
            {"id": 2, "taken_at": T0, "score": Decimal(59), "max_score": Decimal(100)},
        ]

        record = summarise(rows, {"DECAYING_WEIGHT": 0.65, "THRESHOLD": 60, "N": 2})

        assert record["n_mastery"] is None
        assert record["trend"] is None

    def test_it_catches_a_stale_record(self, world, teacher):
        world.create(
            {"student": 0, "subject": "Math", "score": (Decimal(5), Decimal(10)), "taken_at": T0, "modules": {0}}
        )
        PerformanceRecord.objects.filter(scope="concept").update(mean=49.0)

        with pytest.raises(AssertionError, match="mean"):
            assert_exact(settings.DASHBOARD_MASTERY)

    def test_it_catches_a_record_left_behind(self, world):
        world.create(
            {"student": 0, "subject": "Math", "score": (Decimal(5), Decimal(10)), "taken_at": T0, "modules": set()}
        )
        AssessmentLog.objects.all().delete()  # around the services: the records stay

        with pytest.raises(AssertionError, match="records without rows"):
            assert_exact(settings.DASHBOARD_MASTERY)
