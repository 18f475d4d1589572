"""A worse status needs its condition to persist for the debounce time, however often the
evaluation runs; a better one is adopted at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import HealthTransition, Status, SystemHealth
from monitoring.services import Assessment, apply_assessment, evaluate_health
from tests.monitoring.helpers import NOW, T, log_burst, thresholds_setting

CRITICAL = Assessment(Status.CRITICAL, 1.0, "bad")
WARNING = Assessment(Status.WARNING, 0.5, "meh")
NORMAL = Assessment(Status.NORMAL, 0.1, "fine")


def health(status=Status.NORMAL, severity=0.1):
    return SystemHealth(
        component="api", status=status, severity=severity, since=NOW - timedelta(hours=1), evaluated_at=NOW
    )


def evaluate(h, proposal, *, after: timedelta):
    return apply_assessment(h, proposal, NOW + after, T)


def test_a_single_blip_does_not_escalate():
    h = health()

    assert evaluate(h, CRITICAL, after=timedelta(minutes=1)) is None
    assert evaluate(h, NORMAL, after=timedelta(minutes=2)) is None

    assert h.status == Status.NORMAL
    assert (h.pending_status, h.pending_since) == ("", None)


def test_rapid_evaluations_do_not_confirm_a_spike():
    h = health()

    changes = [evaluate(h, CRITICAL, after=timedelta(milliseconds=300 * i)) for i in range(10)]

    assert changes == [None] * 10
    assert h.status == Status.NORMAL
    assert h.pending_status == Status.CRITICAL


def test_a_condition_that_persists_for_the_debounce_time_escalates():
    h = health()

    changes = [evaluate(h, CRITICAL, after=timedelta(minutes=minute)) for minute in range(1, 12)]

    assert changes == [None] * 10 + [Status.NORMAL], "confirmed 10 minutes after it was first proposed"
    assert h.status == Status.CRITICAL
    assert h.since == NOW + timedelta(minutes=11)


def test_two_evaluations_a_debounce_apart_are_enough():
    h = health()

    evaluate(h, CRITICAL, after=timedelta(minutes=1))
    changed = evaluate(h, CRITICAL, after=timedelta(minutes=11))

    assert changed == Status.NORMAL
    assert h.status == Status.CRITICAL


def test_a_single_proposal_after_a_long_gap_does_not_confirm():
    h = health()
    evaluate(h, CRITICAL, after=timedelta(minutes=1))

    # The next evaluation comes two hours later: nobody saw the logs in between.
    changed = evaluate(h, CRITICAL, after=timedelta(hours=2))

    assert changed is None
    assert h.status == Status.NORMAL
    assert h.pending_since == NOW + timedelta(hours=2), "the streak restarted"


def test_a_gap_within_the_window_keeps_the_streak():
    h = health()
    evaluate(h, CRITICAL, after=timedelta(minutes=1))

    changed = evaluate(h, CRITICAL, after=timedelta(minutes=1 + T.window_minutes))

    assert changed == Status.NORMAL


def test_what_is_confirmed_is_what_persisted():
    h = health()
    for minute in range(0, 5):
        evaluate(h, WARNING, after=timedelta(minutes=minute))
    for minute in range(5, 10):
        evaluate(h, CRITICAL, after=timedelta(minutes=minute))

    changed = evaluate(h, CRITICAL, after=timedelta(minutes=10))

    assert changed == Status.NORMAL
    assert (h.status, h.severity) == (Status.WARNING, 0.5), "critical only for five minutes"


def test_while_pending_the_status_keeps_its_own_severity():
    h = health(Status.NORMAL, severity=0.1)

    evaluate(h, CRITICAL, after=timedelta(minutes=1))

    assert (h.status, h.severity) == (Status.NORMAL, 0.1)
    assert "CRITICAL pending" in h.reason


def test_recovery_is_immediate():
    h = health(Status.CRITICAL, severity=1.0)

    assert evaluate(h, NORMAL, after=timedelta(seconds=1)) == Status.CRITICAL
    assert (h.status, h.severity) == (Status.NORMAL, 0.1)


def test_silence_is_immediate():
    h = health(Status.WARNING)

    evaluate(h, Assessment(Status.UNKNOWN, 0.0, "silent"), after=timedelta(seconds=1))

    assert (h.status, h.severity) == (Status.UNKNOWN, 0.0)


def test_no_debounce_escalates_at_once():
    h = health()

    changed = apply_assessment(h, CRITICAL, NOW, T.__class__(**{**T.as_dict(), "debounce_minutes": 0}))

    assert changed == Status.NORMAL


@pytest.mark.django_db
def test_three_manual_evaluations_in_a_row_do_not_confirm_a_spike(client_for, staff):
    log_burst("api", errors=30, ok=20, at=timezone.now() - timedelta(minutes=1))
    client = client_for(staff)

    bodies = [client.post("/api/v1/monitoring/health/evaluate/").json() for _ in range(3)]

    assert [body["transitions"] for body in bodies] == [[], [], []]
    api = SystemHealth.objects.get()
    assert (api.status, api.pending_status) == (Status.UNKNOWN, Status.CRITICAL)
    assert not HealthTransition.objects.exists()


@pytest.mark.django_db
def test_a_spike_that_lasts_is_confirmed_by_the_periodic_evaluation(settings):
    settings.MONITORING_HEALTH = thresholds_setting()
    for minute in range(12):
        log_burst("api", errors=3, ok=7, at=NOW + timedelta(minutes=minute))

    for minute in range(1, 13):
        evaluate_health(now=NOW + timedelta(minutes=minute))

    transitions = list(HealthTransition.objects.values_list("old_status", "new_status", "at"))
    assert transitions == [("UNKNOWN", "CRITICAL", NOW + timedelta(minutes=11))]


@pytest.mark.django_db
def test_one_burst_seen_by_every_evaluation_of_its_window_is_not_confirmed(settings):
    # A one-second burst stays in the 15-minute window for 15 minutes, longer than the
    # 10-minute debounce: every evaluation in between proposes CRITICAL.
    settings.MONITORING_HEALTH = thresholds_setting()
    start = timezone.now() - timedelta(minutes=20)
    log_burst("api", errors=30, ok=20, at=start)
    for minute in range(1, 17):
        log_burst("api", errors=0, ok=10, at=start + timedelta(minutes=minute, seconds=30))
        evaluate_health(now=start + timedelta(minutes=minute, seconds=45))

    escalations = HealthTransition.objects.filter(component="api", new_status__in=[Status.WARNING, Status.CRITICAL])
    assert list(escalations.values_list("new_status", flat=True)) == []
    assert SystemHealth.objects.get(component="api").status == Status.NORMAL


@pytest.mark.django_db
def test_errors_that_go_on_are_confirmed_after_the_debounce_time(settings):
    settings.MONITORING_HEALTH = thresholds_setting()
    start = timezone.now() - timedelta(minutes=20)
    for minute in range(0, 12):
        log_burst("api", errors=10, ok=10, at=start + timedelta(minutes=minute, seconds=30))
        evaluate_health(now=start + timedelta(minutes=minute, seconds=45))

    assert SystemHealth.objects.get(component="api").status == Status.CRITICAL
