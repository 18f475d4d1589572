"""Point: revoking, expiring or deleting a token, or deactivating or deleting its user, takes
effect at once in this process, whatever route did it (the token is cached per process)."""

import warnings
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import CacheKeyWarning
from django.test import override_settings
from django.utils import timezone

from veritas.models import PersonalToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(owner, anon_client):
    """A token that has authenticated once, so it sits in the cache."""
    token, value = PersonalToken.issue(user=owner, name="cached")
    assert anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {value}").status_code == 200
    token.value = value
    return token


def me(anon_client, token):
    return anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token.value}").status_code


def test_the_admins_bulk_revoke(client, cached, make_user, anon_client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    client.post(
        "/admin/veritas/personaltoken/", {"action": "revoke", "_selected_action": [cached.pk], "index": 0}, follow=True
    )

    cached.refresh_from_db()
    assert cached.revoked_at is not None
    assert me(anon_client, cached) == 401


def test_the_admins_bulk_delete(client, cached, make_user, anon_client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    client.post(
        "/admin/veritas/personaltoken/",
        {"action": "delete_selected", "_selected_action": [cached.pk], "post": "yes"},
    )

    assert not PersonalToken.objects.exists()
    assert me(anon_client, cached) == 401


def test_a_queryset_update_that_expires_it(cached, anon_client):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    PersonalToken.objects.filter(pk=cached.pk).update(created_at=an_hour_ago, expires_at=an_hour_ago + timedelta(1))
    PersonalToken.objects.filter(pk=cached.pk).update(expires_at=an_hour_ago + timedelta(seconds=1))

    assert me(anon_client, cached) == 401


def test_deactivating_the_user_in_the_admin_form_or_with_save(cached, owner, anon_client):
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert me(anon_client, cached) == 401


def test_deactivating_users_in_bulk(cached, owner, anon_client):
    get_user_model().objects.filter(pk=owner.pk).update(is_active=False)

    assert me(anon_client, cached) == 401


def test_deleting_the_user(cached, owner, anon_client):
    owner.delete()

    assert me(anon_client, cached) == 401


def test_deleting_users_in_bulk(cached, owner, anon_client):
    get_user_model().objects.filter(pk=owner.pk).delete()

    assert me(anon_client, cached) == 401


def test_a_login_does_not_drop_the_cache(cached, owner, django_assert_num_queries):
    # Every admin login saves last_login: that must not cost a query per token.
    with django_assert_num_queries(1):
        owner.save(update_fields=["last_login"])


@pytest.mark.parametrize(
    "value",
    [
        "vtp_" + "a" * 300 + ".x",
        "vtp_abc def.secret with spaces",
        "vtp_\x01\x02.\x7f",
        "vtp_0123456789ab." + "é" * 43,
        "../../etc/passwd.x",
    ],
)
def test_a_malformed_bearer_value_is_a_401_before_it_reaches_the_cache(anon_client, value):
    # memcached refuses keys with spaces, control characters or over 250 bytes: Django warns
    # (CacheKeyWarning) for any backend, and memcached backends raise. Here a warning fails.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        response = anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {value}".encode().decode("latin-1"))

    assert response.status_code == 401
    assert "Malformed" in response.json()["detail"]


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
def test_with_another_cache_backend_a_malformed_value_is_still_a_401(anon_client):
    response = anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer vtp_x y.z")

    assert response.status_code == 401
    assert "Malformed" in response.json()["detail"], "refused on its form, not after a lookup"


def test_the_token_scheme_gets_a_hint_to_use_bearer(anon_client, cached):
    response = anon_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {cached.value}")

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_losing_a_permission_is_seen_at_once(cached, owner, anon_client):
    view_logs = Permission.objects.get(codename="view_monitoringlog")
    owner.user_permissions.add(view_logs)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {cached.value}"}
    assert anon_client.get("/api/v1/monitoring/logs/", **headers).status_code == 200

    owner.user_permissions.remove(view_logs)

    assert anon_client.get("/api/v1/monitoring/logs/", **headers).status_code == 403


def test_losing_superuser_status_in_bulk_is_seen_at_once(cached, owner, anon_client):
    get_user_model().objects.filter(pk=owner.pk).update(is_superuser=True)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {cached.value}"}
    assert anon_client.get("/api/v1/monitoring/logs/", **headers).status_code == 200

    get_user_model().objects.filter(pk=owner.pk).update(is_superuser=False)

    assert anon_client.get("/api/v1/monitoring/logs/", **headers).status_code == 403
