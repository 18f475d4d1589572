"""Institution keys in the admin: issued with the secret shown once (audited), revoked in bulk."""

import pytest
from django.contrib.messages import get_messages

from research.models import InstitutionAPIKey
from tests.research.conftest import API, client_with
from veritas import keys
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", None))
    return client


def test_a_key_issued_in_the_admin_is_shown_once_and_works(admin_client, institution):
    response = admin_client.post(
        "/admin/research/institutionapikey/add/", {"institution": institution.pk, "name": "pipeline"}, follow=True
    )

    shown = [str(m) for m in get_messages(response.wsgi_request)] or [str(m) for m in response.context["messages"]]
    value = next(text for text in shown if "Copy the key now" in text).rsplit(" ", 1)[1]
    key = InstitutionAPIKey.objects.get()
    assert keys.split(value)[0] == key.prefix and key.name == "pipeline"
    assert ActionLog.objects.get(object_type="research.institutionapikey").actor_name == "root"
    assert client_with(value).get(f"{API}/jobs/").status_code == 200


def test_the_revoke_action_revokes_the_active_keys(admin_client, institution, key_for):
    value = key_for(institution)
    key_for(institution)

    response = admin_client.post(
        "/admin/research/institutionapikey/",
        {"action": "revoke", "_selected_action": list(InstitutionAPIKey.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert "Revoked 2 keys." in response.content.decode()
    assert client_with(value).get(f"{API}/jobs/").status_code == 401
