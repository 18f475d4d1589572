"""Two institutions: A's key (the owner), another key of A (a colleague), B's key (a stranger)."""

import pytest
from rest_framework.test import APIClient

from research import qac, services
from research.models import Institution

API = "/api/v1/research"


@pytest.fixture(autouse=True)
def empty_graph_cache():
    qac.graphs.clear()
    yield
    qac.graphs.clear()


@pytest.fixture
def institution(db):
    return Institution.objects.create(name="Texas A&M", slug="tamu", contact_email="research@tamu.example")


@pytest.fixture
def other_institution(db):
    return Institution.objects.create(name="Other University", slug="other")


def client_with(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


@pytest.fixture
def key_for():
    """``key_for(institution)`` → the full value of a new key."""

    def issue(institution, **extra):
        return services.issue_key(institution=institution, name="test", **extra)[1]

    return issue


@pytest.fixture
def owner_client(institution, key_for):
    return client_with(key_for(institution))


@pytest.fixture
def colleague_client(institution, key_for):
    return client_with(key_for(institution))


@pytest.fixture
def stranger_client(other_institution, key_for):
    return client_with(key_for(other_institution))


def post_json(client, path, body):
    """A QAC body as JSON (the endpoints read it raw)."""
    return client.post(f"{API}/{path}", body, format="json")
