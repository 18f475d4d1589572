"""Severity means the same thing as the status it accompanies: 0 for a source nobody judged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Status, SystemHealth
from monitoring.services import assess, overall_status
from tests.monitoring.helpers import NOW, T, counts, log_burst

HEALTH = "/api/v1/monitoring/health/"


def test_too_few_logs_to_judge_is_normal_with_severity_zero():
    result = assess(counts(error=3), NOW, NOW, T)

    assert (result.status, result.severity) == (Status.NORMAL, 0.0)
    assert "not judged" in result.reason


def test_silence_has_severity_zero():
    assert assess(counts(error=50), NOW - timedelta(hours=2), NOW, T).severity == 0.0


@pytest.mark.parametrize(
    ("errors", "status", "severity"),
    [(0, Status.NORMAL, 0.0), (4, Status.NORMAL, 0.2), (5, Status.WARNING, 0.25), (19, Status.WARNING, 0.95)],
)
def test_a_judged_severity_stays_within_its_status(errors, status, severity):
    result = assess(counts(error=errors, info=100 - errors), NOW, NOW, T)

    assert (result.status, result.severity) == (status, pytest.approx(severity))


def test_the_overall_severity_comes_from_judged_components_only():
    components = [
        SystemHealth(component="old", status=Status.UNKNOWN, severity=0.9),  # e.g. stored before this rule
        SystemHealth(component="api", status=Status.WARNING, severity=0.4),
    ]

    assert overall_status(components) == (Status.WARNING, 0.4)


def test_with_no_judged_component_the_overall_severity_is_zero():
    assert overall_status([SystemHealth(component="old", status=Status.UNKNOWN, severity=0.9)]) == (
        Status.UNKNOWN,
        0.0,
    )


@pytest.mark.django_db
def test_a_source_with_a_few_errors_does_not_make_the_answer_severe(client_for, reader, staff):
    log_burst("batch", errors=3, ok=0, at=timezone.now() - timedelta(minutes=1))
    client_for(staff).post(HEALTH + "evaluate/")

    body = client_for(reader).get(HEALTH).json()

    assert (body["status"], body["severity"]) == ("NORMAL", 0.0)
    assert body["components"][0]["severity"] == 0.0


def test_the_reason_reads_in_words_that_agree_with_the_numbers():
    one = assess(counts(info=0, error=1), NOW, NOW, T)
    many = assess(counts(info=28, error=2), NOW, NOW, T)

    assert one.reason.startswith("1 error in 1 log ")
    assert many.reason.startswith("2 errors in 30 logs ")
