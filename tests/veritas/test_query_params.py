"""An unknown query parameter is a 400 naming it, on lists, detail views and plain views."""

import pytest

from veritas.models import PersonalToken

pytestmark = pytest.mark.django_db


def test_a_list_refuses_a_parameter_that_is_neither_a_filter_nor_pagination(api_client):
    response = api_client.get("/api/v1/tokens/?page_size=10&sorce=api")

    assert response.status_code == 400
    assert response.json()["fields"] == {"sorce": ["Unknown query parameter."]}


def test_a_list_accepts_its_pagination_parameters(api_client):
    assert api_client.get("/api/v1/tokens/?page=1&page_size=10&format=json").status_code == 200


def test_a_detail_view_refuses_unknown_parameters(api_client, owner):
    token = PersonalToken.objects.get(user=owner)

    response = api_client.get(f"/api/v1/tokens/{token.pk}/?expand=user")

    assert response.status_code == 400
    assert "expand" in response.json()["fields"]


def test_a_plain_view_refuses_unknown_parameters(api_client):
    response = api_client.get("/api/v1/me/?verbose=1")

    assert response.status_code == 400
    assert "verbose" in response.json()["fields"]


def test_credentials_are_checked_before_parameters(anon_client):
    assert anon_client.get("/api/v1/me/?verbose=1").status_code == 401


def test_a_write_refuses_query_parameters(client, owner):
    client.force_login(owner)

    response = client.post("/api/v1/tokens/?sorce=x", {"name": "n"}, content_type="application/json")

    assert response.status_code == 400
    assert "sorce" in response.json()["fields"]
    assert not PersonalToken.objects.filter(name="n").exists()


def test_a_method_the_view_lacks_stays_a_405_whatever_the_parameters(api_client):
    assert api_client.delete("/api/v1/me/?verbose=1").status_code == 405
    assert api_client.put("/api/v1/tokens/?x=1", {}, format="json").status_code == 405
