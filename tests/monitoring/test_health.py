from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import HealthTransition, MonitoringResult, Status, SystemHealth
from monitoring.services import assess, evaluate_health
from tests.monitoring.helpers import NOW, T, counts, log_burst, thresholds_setting


class TestAssess:
    def test_a_low_error_rate_is_normal(self):
        result = assess(counts(error=1, info=99), NOW, NOW, T)

        assert result.status == Status.NORMAL
        assert result.severity == pytest.approx(0.05)

    def test_the_warning_threshold(self):
        assert assess(counts(error=5, info=95), NOW, NOW, T).status == Status.WARNING

    def test_the_critical_threshold_counts_critical_logs_too(self):
        result = assess(counts(error=10, critical=10, info=80), NOW, NOW, T)

        assert result.status == Status.CRITICAL
        assert result.severity == 1.0

    def test_too_few_logs_are_not_judged(self):
        assert assess(counts(error=3), NOW, NOW, T).status == Status.NORMAL

    def test_silence_is_unknown(self):
        result = assess(counts(), NOW - timedelta(minutes=61), NOW, T)

        assert result.status == Status.UNKNOWN
        assert "no logs" in result.reason


@pytest.mark.django_db
class TestEvaluation:
    def test_it_escalates_after_the_debounce_and_records_one_transition(self, settings):
        settings.MONITORING_HEALTH = thresholds_setting()
        log_burst("worker", errors=0, ok=50, at=NOW - timedelta(minutes=5))

        for step in range(5):  # every 2.5 minutes: the last one 10 minutes after the first
            # The errors go on (a single burst would not be confirmed: test_debounce.py).
            log_burst("api", errors=30, ok=70, at=NOW + timedelta(seconds=step * 150 - 10))
            evaluate_health(now=NOW + timedelta(seconds=step * 150))

        api, worker = SystemHealth.objects.get(component="api"), SystemHealth.objects.get(component="worker")
        assert api.status == Status.CRITICAL
        assert worker.status == Status.NORMAL
        transitions = list(HealthTransition.objects.values_list("component", "old_status", "new_status"))
        assert ("api", "UNKNOWN", "CRITICAL") in transitions
        assert ("worker", "UNKNOWN", "NORMAL") in transitions
        assert len(transitions) == 2, "transitions only on change"
        assert MonitoringResult.objects.filter(source="api").count() == 5
        first = MonitoringResult.objects.filter(source="api").last()  # newest first
        assert (first.total, first.counts["error"], first.error_rate) == (100, 30, 0.3)

    def test_a_source_gone_silent_becomes_unknown(self, settings):
        settings.MONITORING_HEALTH = thresholds_setting()
        log_burst("api", errors=0, ok=20, at=NOW - timedelta(minutes=5))
        evaluate_health(now=NOW)

        evaluate_health(now=NOW + timedelta(hours=2))

        api = SystemHealth.objects.get(component="api")
        assert api.status == Status.UNKNOWN
        assert HealthTransition.objects.filter(new_status="UNKNOWN").count() == 1


HEALTH = "/api/v1/monitoring/health/"


@pytest.mark.django_db
class TestHealthApi:
    def test_overall_is_the_worst_component(self, client_for, reader):
        SystemHealth.objects.create(component="api", status=Status.WARNING, severity=0.4)
        SystemHealth.objects.create(component="db", status=Status.NORMAL, severity=0.1)

        body = client_for(reader).get(HEALTH).json()

        assert (body["status"], body["severity"]) == ("WARNING", 0.4)
        assert [c["component"] for c in body["components"]] == ["api", "db"]

    def test_with_no_components_it_is_unknown(self, client_for, reader):
        assert client_for(reader).get(HEALTH).json()["status"] == "UNKNOWN"

    def test_history_lists_transitions_newest_first(self, client_for, reader):
        for minute in range(3):
            HealthTransition.objects.create(
                component="api",
                old_status="NORMAL",
                new_status="WARNING",
                severity=0.3,
                at=NOW + timedelta(minutes=minute),
            )

        body = client_for(reader).get(HEALTH + "history/?component=api").json()

        assert [row["at"] for row in body["results"]] == sorted((row["at"] for row in body["results"]), reverse=True)
        assert len(body["results"]) == 3

    def test_results_are_listed(self, client_for, reader, staff):
        log_burst("api", errors=0, ok=20, at=datetime.now(UTC))
        client_for(staff).post(HEALTH + "evaluate/")

        body = client_for(reader).get("/api/v1/monitoring/results/?source=api").json()

        assert body["results"][0]["source"] == "api"
        assert body["results"][0]["total"] == 20

    def test_evaluate_is_for_staff_only(self, client_for, reader, staff):
        log_burst("api", errors=0, ok=20, at=datetime.now(UTC))

        refused = client_for(reader).post(HEALTH + "evaluate/")
        accepted = client_for(staff).post(HEALTH + "evaluate/")

        assert refused.status_code == 403
        assert accepted.status_code == 200
        assert accepted.json()["evaluated"] == 1
        assert accepted.json()["transitions"][0]["new_status"] == "NORMAL"

    def test_health_needs_the_view_permission(self, client_for, writer):
        assert client_for(writer).get(HEALTH).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["health/", "health/history/", "results/"])
def test_health_lists_cost_one_query(client_for, reader, path, django_assert_num_queries):
    for i in range(5):
        SystemHealth.objects.create(component=f"c{i}", status=Status.NORMAL)
        HealthTransition.objects.create(component=f"c{i}", old_status="UNKNOWN", new_status="NORMAL", severity=0)
    log_burst("api", errors=0, ok=20, at=datetime.now(UTC))
    evaluate_health()
    client = client_for(reader)
    client.get(HEALTH)  # the token's first use is looked up, recorded and cached

    with django_assert_num_queries(1):
        response = client.get(f"/api/v1/monitoring/{path}")

    assert response.status_code == 200
