"""Reads of risk that other code needs: the latest prediction per enrolment (the API's
``students/{uuid}/risk/`` and the dashboard's badges)."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from dropout.models import DropoutPrediction, Enrollment


def latest_predictions(enrollments: QuerySet[Enrollment]) -> QuerySet[DropoutPrediction]:
    """The latest prediction of each of ``enrollments`` (any model), with its model."""
    latest = DropoutPrediction.objects.filter(enrollment=OuterRef("enrollment")).order_by("-predicted_at", "-id")
    return (
        DropoutPrediction.objects.filter(enrollment__in=enrollments, pk=Subquery(latest.values("pk")[:1]))
        .select_related("model", "enrollment__presentation__course")
        .order_by("enrollment__presentation__start_date", "enrollment_id")
    )


def latest_band_by_student(student_ids) -> dict[int, DropoutPrediction]:
    """{student id: the latest prediction of their latest enrolment that has one}: the
    dashboard's risk badge. One query."""
    predictions = latest_predictions(Enrollment.objects.filter(student_id__in=student_ids)).order_by(
        "enrollment__student_id", "-enrollment__presentation__start_date", "-predicted_at"
    )
    found: dict[int, DropoutPrediction] = {}
    for prediction in predictions.select_related("enrollment"):
        found.setdefault(prediction.enrollment.student_id, prediction)
    return found


def latest_band_subquery(field: str = "pk") -> Subquery:
    """The latest band of the enrolment whose id is ``OuterRef(field)`` (annotations)."""
    latest = DropoutPrediction.objects.filter(enrollment=OuterRef(field)).order_by("-predicted_at", "-id")
    return Subquery(latest.values("band")[:1])
