"""/api/v1/tokens/: an owner's tokens, a colleague's are a 404, a stranger sees nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from veritas.models import PersonalToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_token(owner):
    return PersonalToken.issue(user=owner, name="owner's")[0]


def test_it_lists_only_the_callers_tokens(api_client, owner_token, stranger, django_assert_num_queries):
    PersonalToken.issue(user=stranger, name="stranger's")
    PersonalToken.issue(user=owner_token.user, name="owner's second")
    api_client.get("/api/v1/me/")  # the client's token is now cached and its use recorded

    with django_assert_num_queries(2):  # count + page (the token itself is cached)
        response = api_client.get("/api/v1/tokens/")

    names = [row["name"] for row in response.json()["results"]]
    assert response.status_code == 200
    assert sorted(names) == ["owner's", "owner's second", "test"]  # "test": the client's own
    assert "secret_hash" not in response.json()["results"][0]
    assert "token" not in response.json()["results"][0]


def test_another_users_token_is_a_404_to_read_and_to_revoke(client, owner_token, stranger):
    client.force_login(stranger)

    assert client.get(f"/api/v1/tokens/{owner_token.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{owner_token.pk}/").status_code == 404
    owner_token.refresh_from_db()
    assert owner_token.revoked_at is None


def test_delete_revokes_and_keeps_the_record(client, owner, owner_token, anon_client):
    _token, value = PersonalToken.issue(user=owner, name="to revoke")
    token = PersonalToken.objects.get(name="to revoke")
    assert anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {value}").status_code == 200
    client.force_login(owner)

    response = client.delete(f"/api/v1/tokens/{token.pk}/")

    assert response.status_code == 204
    assert client.get(f"/api/v1/tokens/{token.pk}/").json()["state"] == "revoked"
    assert anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {value}").status_code == 401


def test_it_needs_credentials(anon_client):
    assert anon_client.get("/api/v1/tokens/").status_code == 401
    assert anon_client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scope": "all"}, "scope"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_issues_nothing(client, owner, body, field):
    client.force_login(owner)

    response = client.post("/api/v1/tokens/", body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not PersonalToken.objects.exists()


def test_a_superuser_naming_an_unknown_user_gets_a_400(client, make_user):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))

    response = client.post("/api/v1/tokens/", {"name": "x", "user": "ghost"}, content_type="application/json")

    assert response.status_code == 400
    assert "user" in response.json()["fields"]


def test_it_issues_an_expiring_token(client, owner):
    client.force_login(owner)
    expires = timezone.now() + timedelta(days=7)

    response = client.post(
        "/api/v1/tokens/", {"name": "week", "expires_at": expires.isoformat()}, content_type="application/json"
    )

    assert response.status_code == 201
    assert PersonalToken.objects.get(name="week").expires_at == expires


def test_tokens_cannot_be_changed_in_place(client, owner, owner_token):
    client.force_login(owner)

    assert client.put(f"/api/v1/tokens/{owner_token.pk}/", {}, content_type="application/json").status_code == 405


def test_a_non_superuser_cannot_probe_which_usernames_exist(client, owner, stranger):
    client.force_login(owner)

    real = client.post("/api/v1/tokens/", {"name": "x", "user": "stranger"}, content_type="application/json")
    ghost = client.post("/api/v1/tokens/", {"name": "x", "user": "ghost"}, content_type="application/json")

    assert real.status_code == ghost.status_code == 403
    assert real.json()["detail"] == ghost.json()["detail"]


def test_an_expiry_without_a_utc_offset_is_refused(client, owner):
    client.force_login(owner)

    response = client.post(
        "/api/v1/tokens/", {"name": "x", "expires_at": "2099-01-01T00:00:00"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "UTC offset" in response.json()["fields"]["expires_at"][0]
