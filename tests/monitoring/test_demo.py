import pytest
from django.core.management import call_command

from monitoring import demo
from monitoring.models import HealthTransition, MonitoringLog, MonitoringResult

pytestmark = pytest.mark.django_db


def test_the_demo_has_logs_an_incident_and_health_history(monkeypatch, capsys):
    monkeypatch.setattr(demo, "DAYS", 1)

    call_command("seed_demo", "monitoring")
    logs = MonitoringLog.objects.count()
    call_command("seed_demo", "monitoring")

    assert logs == 4 * 2 * 60 * 24
    assert MonitoringLog.objects.count() == logs, "idempotent"
    assert set(MonitoringLog.objects.values_list("source", flat=True).distinct()) == set(demo.SOURCES)
    assert MonitoringResult.objects.exists()
    critical = HealthTransition.objects.filter(new_status="CRITICAL")
    assert set(critical.values_list("component", flat=True)) == {"database", "api-gateway"}
