"""Institution keys: hashed like personal tokens, refused when revoked, expired, malformed,
unknown or of a suspended institution; issued by a command (audited)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from research.models import InstitutionAPIKey
from tests.research.conftest import API, client_with
from veritas import keys
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_secret_is_stored(institution, key_for):
    value = key_for(institution)
    prefix, secret = keys.split(value)
    key = InstitutionAPIKey.objects.get()

    assert prefix.startswith("vri_") and key.prefix == prefix
    assert secret not in key.secret_hash and key.secret_hash == keys.hash_secret(secret)
    assert client_with(value).get(f"{API}/qac/models/").status_code == 200
    assert InstitutionAPIKey.objects.get().last_used_at is not None


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_a_revoked_or_expired_key_is_refused(institution, key_for, state):
    value = key_for(institution)
    now = timezone.now()
    if state == "revoked":
        InstitutionAPIKey.objects.get().revoke()
    else:
        InstitutionAPIKey.objects.update(created_at=now - timedelta(days=2), expires_at=now - timedelta(days=1))

    response = client_with(value).get(f"{API}/qac/models/")

    assert response.status_code == 401 and response.json()["detail"] == "Token expired or revoked."


def test_a_wrong_secret_an_unknown_prefix_and_a_malformed_value_are_refused(institution, key_for):
    value = key_for(institution)
    prefix, secret = keys.split(value)
    wrong_secret = f"{prefix}.{'A' * 43}"
    unknown = f"vri_{'0' * 12}.{secret}"

    for presented in (wrong_secret, unknown, "vri_nothex.short"):
        response = client_with(presented).get(f"{API}/qac/models/")
        assert response.status_code == 401, presented
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_suspended_institution_is_refused(institution, key_for):
    value = key_for(institution)
    institution.active = False
    institution.save()

    response = client_with(value).get(f"{API}/qac/models/")

    assert response.status_code == 401 and "suspended" in response.json()["detail"]


def test_a_personal_token_is_not_an_institution_key(client_for, owner):
    response = client_for(owner).get(f"{API}/qac/models/")

    assert response.status_code == 403 and "institution API key" in response.json()["detail"]


def test_without_credentials_it_is_401(anon_client, db):
    assert anon_client.get(f"{API}/qac/models/").status_code == 401


def test_the_command_prints_the_key_once_and_records_it(institution):
    out, err = StringIO(), StringIO()

    call_command("create_institution_key", "tamu", "--name", "pipeline", "--expires-days", "30", stdout=out, stderr=err)

    value = out.getvalue().strip()
    key = InstitutionAPIKey.objects.get()
    assert keys.split(value)[0] == key.prefix and key.name == "pipeline"
    assert key.expires_at > timezone.now() + timedelta(days=29)
    assert "shown once" in err.getvalue()
    entry = ActionLog.objects.get(object_type="research.institutionapikey")
    assert entry.via == "command" and entry.verb == "issue key" and value not in str(entry.changes)
    assert client_with(value).get(f"{API}/qac/models/").status_code == 200


def test_the_command_names_the_known_institutions(institution):
    with pytest.raises(CommandError, match="known: tamu"):
        call_command("create_institution_key", "mit", stdout=StringIO(), stderr=StringIO())
