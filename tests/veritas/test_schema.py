import pytest
import yaml
from django.core.management import call_command
from openapi_spec_validator import validate


@pytest.fixture(scope="module")
def schema_text(django_db_blocker, tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    with django_db_blocker.unblock():
        # --fail-on-warn: any warning drf-spectacular emits makes this raise.
        call_command("spectacular", "--file", str(path), "--validate", "--fail-on-warn")
    return path.read_text()


def test_the_schema_generates_without_warnings_and_is_valid_openapi(schema_text):
    schema = yaml.safe_load(schema_text)

    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_the_schema_documents_the_bearer_scheme(schema_text):
    schema = yaml.safe_load(schema_text)

    scheme = schema["components"]["securitySchemes"]["bearerToken"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "<prefix>.<secret>",
        "description": scheme["description"],
    }
    assert {"bearerToken": []} in schema["paths"]["/api/v1/me/"]["get"]["security"]


def test_the_schema_and_docs_are_public_like_health(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower() and b"https://" not in docs.content, "served offline"
