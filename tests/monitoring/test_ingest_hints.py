"""POST logs/ says what it accepts: one object or an array (in the schema), and NDJSON sent
under the JSON content type gets a hint."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from monitoring.models import MonitoringLog

URL = "/api/v1/monitoring/logs/"
ROW = {"source": "api", "level": "info", "message": "ok"}


@pytest.mark.django_db
def test_ndjson_sent_as_json_suggests_the_ndjson_content_type(client_for, writer):
    body = "\n".join(json.dumps({**ROW, "message": f"line {i}"}) for i in range(3)) + "\n"

    response = client_for(writer).generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "Content-Type: application/x-ndjson" in response.json()["detail"]
    assert MonitoringLog.objects.count() == 0


@pytest.mark.django_db
def test_broken_json_gets_no_ndjson_hint(client_for, writer):
    response = client_for(writer).generic("POST", URL, '[{"source": "api",', content_type="application/json")

    assert response.status_code == 400
    assert "ndjson" not in response.json()["detail"]


def test_the_schema_accepts_one_object_or_an_array():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    content = schema["paths"][URL]["post"]["requestBody"]["content"]
    batch = schema["components"]["schemas"][content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    row = {"$ref": "#/components/schemas/LogEntryInRequest"}

    assert batch["oneOf"] == [row, {"type": "array", "items": row}]
    assert schema["paths"][URL]["post"]["requestBody"]["required"] is True
    assert content["application/x-ndjson"]["schema"] == row
