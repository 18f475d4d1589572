"""Staff retire a component that no longer exists: it leaves the overall status and the
evaluations, recorded as a transition, until it sends logs again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import HealthTransition, MonitoringResult, Status, SystemHealth
from monitoring.services import evaluate_health
from tests.monitoring.conftest import grant
from tests.monitoring.helpers import log_burst

pytestmark = pytest.mark.django_db
HEALTH = "/api/v1/monitoring/health/"


@pytest.fixture
def operator(make_user):
    """May look at health and retire components."""
    user = make_user("operator")
    grant(user, "view_systemhealth", "change_systemhealth")
    return user


@pytest.fixture
def components():
    """api sends logs; api-gatway (a typo, since fixed) went silent two hours ago."""
    now = timezone.now()
    log_burst("api-gatway", errors=0, ok=20, at=now - timedelta(hours=2))
    log_burst("api", errors=0, ok=20, at=now - timedelta(minutes=1))
    evaluate_health()


def retire(client, component):
    return client.post(f"{HEALTH}{component}/retire/")


@pytest.mark.usefixtures("components")
def test_a_silent_component_keeps_the_overall_status_unknown_until_retired(client_for, operator):
    client = client_for(operator)
    assert client.get(HEALTH).json()["status"] == "UNKNOWN"

    response = retire(client, "api-gatway")

    assert response.status_code == 200
    assert response.json()["status"] == "RETIRED"
    assert client.get(HEALTH).json()["status"] == "NORMAL"


@pytest.mark.usefixtures("components")
def test_retiring_is_recorded_as_a_transition(client_for, operator):
    retire(client_for(operator), "api-gatway")

    transition = HealthTransition.objects.get(new_status=Status.RETIRED)
    assert (transition.component, transition.old_status, transition.severity) == ("api-gatway", "UNKNOWN", 0.0)
    assert transition.reason == "retired by operator"


@pytest.mark.usefixtures("components")
def test_retiring_twice_changes_nothing(client_for, operator):
    client = client_for(operator)
    retire(client, "api-gatway")

    again = retire(client, "api-gatway")

    assert again.status_code == 200
    assert HealthTransition.objects.filter(new_status=Status.RETIRED).count() == 1


@pytest.mark.usefixtures("components")
def test_a_retired_component_is_not_evaluated(client_for, operator):
    retire(client_for(operator), "api-gatway")
    results = MonitoringResult.objects.filter(source="api-gatway").count()

    evaluation = evaluate_health(now=timezone.now() + timedelta(minutes=1))

    assert [r.source for r in evaluation.results] == ["api"]
    assert MonitoringResult.objects.filter(source="api-gatway").count() == results
    assert SystemHealth.objects.get(component="api-gatway").status == Status.RETIRED


@pytest.mark.usefixtures("components")
def test_a_retired_component_that_sends_logs_again_is_evaluated_again(client_for, operator):
    retire(client_for(operator), "api-gatway")
    log_burst("api-gatway", errors=0, ok=20, at=timezone.now())

    evaluation = evaluate_health(now=timezone.now() + timedelta(minutes=1))

    moves = [(t.old_status, t.new_status) for t in evaluation.transitions if t.component == "api-gatway"]
    assert moves == [("RETIRED", "UNKNOWN"), ("UNKNOWN", "NORMAL")]
    assert SystemHealth.objects.get(component="api-gatway").status == Status.NORMAL


def test_a_component_name_may_hold_a_slash(client_for, operator):
    SystemHealth.objects.create(component="eu/api", status=Status.UNKNOWN)

    assert retire(client_for(operator), "eu/api").json()["status"] == "RETIRED"


def test_an_unknown_component_is_404(client_for, operator):
    response = retire(client_for(operator), "nothing")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.usefixtures("components")
def test_it_needs_the_change_permission(client_for, reader, anon_client):
    refused = retire(client_for(reader), "api-gatway")

    assert refused.status_code == 403
    assert "monitoring.change_systemhealth" in refused.json()["detail"]
    assert retire(anon_client, "api-gatway").status_code == 401
    assert SystemHealth.objects.get(component="api-gatway").status == Status.UNKNOWN


@pytest.mark.usefixtures("components")
def test_the_admin_action_retires_through_the_same_service(admin_client):
    health = SystemHealth.objects.get(component="api-gatway")

    response = admin_client.post(
        "/admin/monitoring/systemhealth/", {"action": "retire", "_selected_action": [health.pk]}, follow=True
    )

    assert response.status_code == 200
    assert SystemHealth.objects.get(component="api-gatway").status == Status.RETIRED
    assert HealthTransition.objects.get(new_status=Status.RETIRED).reason == "retired by admin"
