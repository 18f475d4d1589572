"""Point: only a superuser may issue a token for someone else, by any route."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from veritas.models import PersonalToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def clerk(make_user):
    """Staff with the token permissions, and nothing else."""
    user = make_user("clerk", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_personaltoken", "view_personaltoken"]))
    return user


def issued_value(response) -> str | None:
    match = re.search(r"vtp_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", response.content.decode())
    return match[0] if match else None


def test_the_model_refuses_to_issue_for_another_user_unless_the_actor_is_a_superuser(clerk, root, owner):
    with pytest.raises(PermissionDenied):
        PersonalToken.issue(user=root, name="mine now", actor=clerk)

    assert PersonalToken.issue(user=clerk, name="own", actor=clerk)[0].user == clerk
    assert PersonalToken.issue(user=owner, name="for owner", actor=root)[0].user == owner


def test_the_admin_add_form_issues_only_for_oneself_even_when_another_user_is_posted(client, clerk, root):
    client.force_login(clerk)

    form = client.get("/admin/veritas/personaltoken/add/")
    response = client.post(
        "/admin/veritas/personaltoken/add/", {"user": root.pk, "name": "escalate", "expires_at": ""}, follow=True
    )

    assert b'name="user"' not in form.content, "no owner field for non-superusers"
    assert b"Revoked at" not in form.content and b"Prefix" not in form.content
    assert not PersonalToken.objects.filter(user=root).exists()
    token = PersonalToken.objects.get(name="escalate")
    assert token.user == clerk
    assert issued_value(response) is not None


def test_a_superuser_issues_a_token_for_another_user_in_the_admin(client, root, owner):
    client.force_login(root)

    response = client.post(
        "/admin/veritas/personaltoken/add/", {"user": owner.pk, "name": "for owner", "expires_at": ""}, follow=True
    )

    assert PersonalToken.objects.get(name="for owner").user == owner
    assert issued_value(response) is not None


def test_staff_see_only_their_own_tokens_in_the_admin(client, clerk, root):
    PersonalToken.issue(user=root, name="root's")
    own, _ = PersonalToken.issue(user=clerk, name="clerk's")
    client.force_login(clerk)

    listing = client.get("/admin/veritas/personaltoken/")
    others = PersonalToken.objects.get(name="root's")

    assert b"clerk&#x27;s" in listing.content
    assert b"root&#x27;s" not in listing.content
    assert client.get(f"/admin/veritas/personaltoken/{others.pk}/change/").status_code == 302  # "does not exist"
    assert client.get(f"/admin/veritas/personaltoken/{own.pk}/change/").status_code == 200


def test_staff_who_may_change_users_cannot_take_over_a_superuser(client, make_user, root):
    manager = make_user("manager", is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(codename__in=["change_user", "view_user"]))
    client.force_login(manager)

    client.post(
        f"/admin/veritas/user/{root.pk}/password/", {"password1": "Takeover-123!", "password2": "Takeover-123!"}
    )
    own_form = client.get(f"/admin/veritas/user/{manager.pk}/change/")

    root.refresh_from_db()
    assert not root.check_password("Takeover-123!")
    assert b'name="is_superuser"' not in own_form.content, "nor promote themselves"


def test_the_api_issues_only_for_oneself(client, clerk, root):
    client.force_login(clerk)

    refused = client.post("/api/v1/tokens/", {"name": "escalate", "user": "root"}, content_type="application/json")
    own = client.post("/api/v1/tokens/", {"name": "script"}, content_type="application/json")

    assert refused.status_code == 403
    assert not PersonalToken.objects.filter(user=root).exists()
    assert own.status_code == 201
    assert own.json()["user"] == "clerk"
    assert own.json()["token"].startswith(own.json()["prefix"] + ".")


def test_a_superuser_issues_for_another_user_through_the_api(client, root, owner):
    client.force_login(root)

    response = client.post("/api/v1/tokens/", {"name": "for owner", "user": "owner"}, content_type="application/json")

    assert response.status_code == 201
    assert PersonalToken.objects.get(name="for owner").user == owner


def test_a_token_cannot_mint_tokens(api_client):
    response = api_client.post("/api/v1/tokens/", {"name": "successor"}, format="json")

    assert response.status_code == 403
    assert "session" in response.json()["detail"]


def test_the_token_list_shows_each_tokens_state_and_filters_by_it(client, root, owner):
    PersonalToken.issue(user=owner, name="in use")
    revoked, _ = PersonalToken.issue(user=owner, name="old")
    revoked.revoke()
    expired, _ = PersonalToken.issue(user=owner, name="lapsed", expires_at=timezone.now() + timedelta(seconds=1))
    PersonalToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    client.force_login(root)

    listing = client.get("/admin/veritas/personaltoken/").content.decode()
    only_revoked = client.get("/admin/veritas/personaltoken/?state=revoked").content.decode()

    assert ">active<" in listing and ">revoked<" in listing and ">expired<" in listing
    assert "old" in only_revoked and "in use" not in only_revoked and "lapsed" not in only_revoked
