import json

import pytest

from monitoring.models import LogRollup, MonitoringLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/logs/"


def row(i=0, **overrides):
    return {"source": "api", "level": "info", "message": f"request {i}", **overrides}


def post(client, payload, content_type="application/json"):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.generic("POST", URL, body, content_type=content_type)


def test_it_stores_one_object(client_for, writer):
    response = post(client_for(writer), row(timestamp="2026-11-20T10:15:00Z", metadata={"path": "/x"}))

    assert response.status_code == 201
    assert response.json() == {"received": 1, "inserted": 1, "duplicates": 0}
    log = MonitoringLog.objects.get()
    assert (log.source, log.level, log.message, log.metadata) == ("api", "info", "request 0", {"path": "/x"})
    assert log.timestamp.isoformat() == "2026-11-20T10:15:00+00:00"
    assert log.received_at is not None


def test_it_stores_an_array_and_counts_it_in_the_rollup(client_for, writer):
    rows = [row(i, level="error" if i % 4 == 0 else "info", timestamp="2026-11-20T10:15:00Z") for i in range(20)]

    response = post(client_for(writer), rows)

    assert response.json() == {"received": 20, "inserted": 20, "duplicates": 0}
    assert MonitoringLog.objects.count() == 20
    assert dict(LogRollup.objects.values_list("level", "count")) == {"error": 5, "info": 15}


def test_a_missing_timestamp_defaults_to_receipt(client_for, writer):
    post(client_for(writer), row())

    log = MonitoringLog.objects.get()
    assert log.timestamp == log.received_at or abs((log.timestamp - log.received_at).total_seconds()) < 5


def test_levels_are_case_insensitive(client_for, writer):
    post(client_for(writer), row(level="WARNING"))

    assert MonitoringLog.objects.get().level == "warning"


def test_ndjson_is_accepted(client_for, writer):
    body = "\n".join(json.dumps(row(i)) for i in range(3)) + "\n\n"

    response = post(client_for(writer), body, content_type="application/x-ndjson")

    assert response.json()["inserted"] == 3


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"level": "loud"}, "level", "Input should be 'debug', 'info', 'warning', 'error' or 'critical'"),
        ({"source": ""}, "source", "String should have at least 1 character"),
        ({"message": 42}, "message", "Input should be a valid string"),
        ({"timestamp": "2026-11-20T10:15:00"}, "timestamp", "Input should have timezone info"),
        ({"metadata": [1, 2]}, "metadata", "Input should be an object"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_one_bad_row_rejects_the_batch_naming_row_and_field(client_for, writer, bad, field, message):
    rows = [row(0), row(1), {**row(2), **bad}, row(3)]

    response = post(client_for(writer), rows)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {"2": {field: [message]}}
    assert MonitoringLog.objects.count() == 0
    assert LogRollup.objects.count() == 0


def test_a_missing_field_is_named(client_for, writer):
    response = post(client_for(writer), [{"source": "api", "level": "info"}])

    assert response.json()["fields"] == {"0": {"message": ["Field required"]}}


def test_ndjson_errors_name_the_line(client_for, writer):
    body = json.dumps(row(0)) + "\n\n" + json.dumps({**row(1), "level": "loud"}) + "\nnot json\n"

    response = post(client_for(writer), body, content_type="application/x-ndjson")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"line 3", "line 4"}
    assert MonitoringLog.objects.count() == 0


def test_a_body_that_is_not_json_is_400(client_for, writer):
    response = post(client_for(writer), "[{not json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("payload", ["42", '"text"', "null"])
def test_a_body_that_is_not_an_object_or_array_is_400(client_for, writer, payload):
    response = post(client_for(writer), payload)

    assert response.status_code == 400


def test_more_rows_than_the_limit_is_413(client_for, writer, monkeypatch):
    from monitoring import ingest

    monkeypatch.setattr(ingest, "MAX_ROWS", 5)

    response = post(client_for(writer), [row(i) for i in range(6)])

    assert response.status_code == 413
    assert "at most 5 rows" in response.json()["detail"]
    assert MonitoringLog.objects.count() == 0


def test_a_body_over_5_mib_is_413(client_for, writer):
    rows = [row(i, message="x" * 20_000) for i in range(270)]  # about 5.4 MB

    response = post(client_for(writer), rows)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_resent_batch_inserts_nothing_new(client_for, writer):
    rows = [row(i, event_id=f"evt-{i}", timestamp="2026-11-20T10:15:00Z") for i in range(10)]
    client = client_for(writer)

    first = post(client, rows)
    second = post(client, [*rows, row(10, event_id="evt-10", timestamp="2026-11-20T10:15:00Z")])

    assert first.json() == {"received": 10, "inserted": 10, "duplicates": 0}
    assert second.json() == {"received": 11, "inserted": 1, "duplicates": 10}
    assert MonitoringLog.objects.count() == 11
    assert LogRollup.objects.get().count == 11, "duplicates are not counted"


def test_event_ids_are_unique_per_source_not_globally(client_for, writer):
    response = post(client_for(writer), [row(0, event_id="e1"), row(1, source="worker", event_id="e1")])

    assert response.json()["inserted"] == 2


def test_duplicates_within_one_batch_are_stored_once(client_for, writer):
    response = post(client_for(writer), [row(0, event_id="same"), row(1, event_id="same")])

    assert response.json() == {"received": 2, "inserted": 1, "duplicates": 1}


def test_it_needs_credentials(anon_client):
    assert post(anon_client, row()).status_code == 401


def test_it_needs_the_add_permission(client_for, reader):
    response = post(client_for(reader), row())

    assert response.status_code == 403
    assert MonitoringLog.objects.count() == 0


def test_a_writer_cannot_read(client_for, writer):
    assert client_for(writer).get(URL).status_code == 403


def test_an_empty_body_is_400(client_for, writer):
    response = client_for(writer).post(URL)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_nul_characters_are_replaced_not_fatal(client_for, writer):
    response = post(client_for(writer), row(message="nul\x00byte", metadata={"k\x00": ["v\x00"]}))

    assert response.status_code == 201
    log = MonitoringLog.objects.get()
    assert log.message == "nul\ufffdbyte"
    assert log.metadata == {"k\ufffd": ["v\ufffd"]}


def test_timestamps_are_stored_in_utc_whatever_their_offset(client_for, writer):
    response = post(client_for(writer), row(timestamp="2026-11-20T10:15:00-20:57"))

    assert response.status_code == 201
    assert MonitoringLog.objects.get().timestamp.isoformat() == "2026-11-21T07:12:00+00:00"


def test_a_timestamp_that_overflows_in_utc_is_400(client_for, writer):
    response = post(client_for(writer), row(timestamp="0001-01-01T00:30:00+01:00"))

    assert response.status_code == 400
    assert "timestamp" in response.json()["fields"]["0"]


def test_an_escaped_backslash_before_u0000_is_text_not_nul(client_for, writer):
    body = '{"source": "api", "level": "info", "message": "C:\\\\u0000dir"}'  # JSON for: C:\u0000dir

    post(client_for(writer), body)

    assert MonitoringLog.objects.get().message == "C:\\u0000dir"


def test_integers_beyond_64_bits_in_metadata_are_kept(client_for, writer):
    response = post(client_for(writer), row(metadata={"big": 2**70}))

    assert response.status_code == 201
    assert MonitoringLog.objects.get().metadata == {"big": 2**70}
