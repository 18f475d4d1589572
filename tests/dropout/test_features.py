"""Features at a cut-off day: a hand-computed example, and the no-leakage property (nothing
dated after the cut-off changes a feature at it)."""

from datetime import date

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.models import Student
from dropout import features
from dropout.models import (
    Assessment,
    AssessmentSubmission,
    AttemptHistory,
    Course,
    Enrollment,
    LearningActivity,
    LearningEvent,
    Presentation,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def course():
    """AAA 2014J (starts 2014-10-01, 260 days): TMAs due on days 20 (weight 10), 50 (20) and
    90 (30), a CMA due on day 30 (weight 0), an exam without a date; two sites."""
    course = Course.objects.create(code="AAA")
    earlier = Presentation.objects.create(course=course, code="2013J", start_date=date(2013, 10, 1), length_days=260)
    presentation = Presentation.objects.create(
        course=course, code="2014J", start_date=date(2014, 10, 1), length_days=260
    )
    calendar = [("TMA", 20, 10), ("CMA", 30, 0), ("TMA", 50, 20), ("TMA", 90, 30), ("Exam", None, 100)]
    assessments = [
        Assessment.objects.create(
            presentation=presentation, external_id=str(100 + i), assessment_type=kind, deadline_day=day, weight=weight
        )
        for i, (kind, day, weight) in enumerate(calendar)
    ]
    sites = [
        LearningActivity.objects.create(presentation=presentation, external_id=f"s{i}", activity_type="resource")
        for i in range(2)
    ]
    return presentation, earlier, assessments, sites


def enrol(presentation, external_id, **more) -> Enrollment:
    student = Student.objects.create(external_id=external_id, name=external_id, email=f"{external_id}@example.com")
    defaults = {
        "registered_day": -30,
        "gender": "F",
        "highest_education": "a_level",
        "imd_band": "20-30%",
        "age_band": "35-55",
        "studied_credits": 60,
        "disability": False,
        "final_result": "withdrawn",
    }
    return Enrollment.objects.create(student=student, presentation=presentation, **{**defaults, **more})


def test_a_hand_computed_example(course):
    presentation, earlier, (tma1, cma, tma2, tma3, _exam), (site, other) = course
    enrollment = enrol(presentation, "s1", previous_attempts=1)
    AttemptHistory.objects.create(
        student=enrollment.student,
        course=presentation.course,
        presentation=earlier,
        result="withdrawn",
        ended_on=date(2014, 6, 18),
    )
    submit = AssessmentSubmission.objects.create
    submit(enrollment=enrollment, assessment=tma1, submitted_day=18, score=80)  # 2 days early
    submit(enrollment=enrollment, assessment=cma, submitted_day=33, score=None)  # late, no score
    submit(enrollment=enrollment, assessment=tma2, submitted_day=71, score=40)  # after the cut-off: unseen
    submit(enrollment=enrollment, assessment=tma3, submitted_day=12, score=60, banked=True)  # early, banked
    event = LearningEvent.objects.create
    event(enrollment=enrollment, activity=site, day=-3, clicks=5)
    event(enrollment=enrollment, activity=site, day=0, clicks=2)
    event(enrollment=enrollment, activity=other, day=0, clicks=1)
    event(enrollment=enrollment, activity=site, day=60, clicks=10)
    event(enrollment=enrollment, activity=site, day=70, clicks=4)
    event(enrollment=enrollment, activity=site, day=71, clicks=99)  # after the cut-off

    table = features.compute([presentation.pk], 70)
    assert table.ids == [enrollment.pk]
    values = table.as_dicts()[0]
    weeks = 11  # weeks 0..10 up to day 70
    expected = {
        "gender_male": 0.0,
        "disability": 0.0,
        "education_level": 2.0,
        "imd_band": 0.25,
        "age_band": 1.0,
        "previous_attempts": 1.0,
        "studied_credits": 60.0,
        "registration_day": -30.0,
        "course_length_days": 260.0,
        "start_month": 10.0,
        "prev_withdrawn": 1.0,
        "prev_failed": 0.0,
        "prev_passed": 0.0,
        "n_due": 3.0,  # days 20, 30, 50
        "n_submitted_due": 2.0,  # tma1, cma (tma2 came on day 71)
        "n_missed": 1.0,
        "share_missed": 1 / 3,
        "n_late": 1.0,  # the CMA
        "weight_due": 30.0,
        "weight_missed": 20.0,
        "n_submissions": 3.0,  # tma1, cma, tma3 (early)
        "n_banked": 1.0,
        "mean_score": 70.0,  # 80 and 60; the CMA has no score
        "min_score": 60.0,
        "weighted_score": (80 * 10 + 60 * 30) / 40,
        "last_due_score": 0.0,  # tma2 (day 50) missed by day 70
        "days_since_last_submission": 70.0 - 33,
        "mean_days_early": (2 + -3) / 2,
        "clicks_total": 22.0,
        "clicks_before_start": 5.0,
        "clicks_last_14_days": 14.0,  # days 57..70
        "clicks_per_week": 17 / weeks,
        "active_days": 4.0,
        "days_since_last_activity": 0.0,
        # slope of weekly clicks (week 0: 3, week 8: 10, week 10: 4, others 0) over weeks 0..10
        "click_trend": sum((w - 5) * c for w, c in ((0, 3), (8, 10), (10, 4))) / (weeks * (weeks**2 - 1) / 12),
    }
    assert values == pytest.approx(expected)
    assert table.results == ["withdrawn"]


def test_the_population_at_the_cutoff(course):
    presentation = course[0]
    enrol(presentation, "on-time")
    enrol(presentation, "unknown-registration", registered_day=None)
    enrol(presentation, "registers-later", registered_day=71)
    enrol(presentation, "left-on-the-day", unregistered_day=70)
    enrol(presentation, "leaves-later", unregistered_day=71)
    ids = features.compute([presentation.pk], 70).ids
    names = set(Enrollment.objects.filter(pk__in=ids).values_list("student__external_id", flat=True))
    assert names == {"on-time", "unknown-registration", "leaves-later"}


CUTOFF = 70
later_day = st.integers(min_value=CUTOFF + 1, max_value=400)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_nothing_dated_after_the_cutoff_changes_a_feature(course, data):
    """Adding submissions, events or unregistrations dated after the cut-off, or a final result,
    leaves every feature at the cut-off as it was."""
    presentation, _, assessments, sites = course
    with transaction.atomic():
        enrollments = [enrol(presentation, f"p{i}", final_result="") for i in range(3)]
        AssessmentSubmission.objects.create(
            enrollment=enrollments[0], assessment=assessments[0], submitted_day=19, score=70
        )
        LearningEvent.objects.create(enrollment=enrollments[1], activity=sites[0], day=40, clicks=3)
        before = features.compute([presentation.pk], CUTOFF)

        for _ in range(data.draw(st.integers(1, 6), label="changes")):
            enrollment = data.draw(st.sampled_from(enrollments))
            change = data.draw(st.sampled_from(["submission", "event", "unregistration", "result"]))
            if change == "submission":
                assessment = data.draw(st.sampled_from(assessments))
                # a new submission (an existing one is not dated later: it happened)
                AssessmentSubmission.objects.get_or_create(
                    enrollment=enrollment,
                    assessment=assessment,
                    defaults={"submitted_day": data.draw(later_day), "score": data.draw(st.integers(0, 100))},
                )
            elif change == "event":
                LearningEvent.objects.create(
                    enrollment=enrollment,
                    activity=data.draw(st.sampled_from(sites)),
                    day=data.draw(later_day),
                    clicks=data.draw(st.integers(1, 50)),
                )
            elif change == "unregistration":
                Enrollment.objects.filter(pk=enrollment.pk).update(unregistered_day=data.draw(later_day))
            else:
                Enrollment.objects.filter(pk=enrollment.pk).update(
                    final_result=data.draw(st.sampled_from(["pass", "fail", "withdrawn", "distinction"]))
                )

        after = features.compute([presentation.pk], CUTOFF)
        assert (after.ids, after.rows) == (before.ids, before.rows)
        transaction.set_rollback(True)
