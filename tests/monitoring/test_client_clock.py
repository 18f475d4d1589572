"""Client clocks are not trusted: a log dated too far ahead is refused, and silence is judged
by when the server received a source's logs, not by the dates they carry."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from monitoring import selectors
from monitoring.ingest import LogEntry, ingest
from monitoring.models import LogRollup, MonitoringLog, Status, SystemHealth
from monitoring.services import evaluate_health
from tests.monitoring.helpers import NOW

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/logs/"


def row(i=0, ahead=None, **overrides):
    timestamp = (timezone.now() + ahead).isoformat() if ahead is not None else None
    return {"source": "api", "level": "info", "message": f"request {i}", "timestamp": timestamp, **overrides}


def post(client, body, content_type="application/json"):
    return client.generic("POST", URL, body if isinstance(body, str) else json.dumps(body), content_type=content_type)


def test_a_log_dated_too_far_ahead_is_refused_naming_row_and_field(client_for, writer):
    response = post(client_for(writer), [row(0, ahead=timedelta(0)), row(1, ahead=timedelta(minutes=10)), row(2)])

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert list(fields) == ["1"]
    assert list(fields["1"]) == ["timestamp"]
    assert "More than 300 seconds ahead of the server's clock" in fields["1"]["timestamp"][0]
    assert MonitoringLog.objects.count() == 0


def test_the_year_2099_is_refused(client_for, writer):
    response = post(client_for(writer), row(timestamp="2099-01-01T00:00:00Z"))

    assert response.status_code == 400
    assert "timestamp" in response.json()["fields"]["0"]
    assert LogRollup.objects.count() == 0


def test_ordinary_clock_skew_is_tolerated(client_for, writer):
    response = post(client_for(writer), [row(0, ahead=timedelta(minutes=4)), row(1, ahead=-timedelta(days=30))])

    assert response.status_code == 201


def test_the_tolerance_is_a_setting(client_for, writer, settings):
    settings.MONITORING_MAX_FUTURE_SECONDS = 0

    response = post(client_for(writer), row(ahead=timedelta(seconds=30)))

    assert response.status_code == 400
    assert "More than 0 seconds ahead" in response.json()["fields"]["0"]["timestamp"][0]


def test_ndjson_names_the_line(client_for, writer):
    body = "\n".join(json.dumps(r) for r in [row(0), row(1), row(2, ahead=timedelta(hours=1))])

    response = post(client_for(writer), "\n" + body, content_type="application/x-ndjson")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["line 4"]


def test_import_logs_reports_the_line_and_imports_nothing(tmp_path, capsys):
    path = tmp_path / "logs.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in [row(0), row(1, ahead=timedelta(days=365))]) + "\n")

    with pytest.raises(CommandError, match="1 invalid rows"):
        call_command("import_logs", str(path))

    assert "line 2: timestamp: More than 300 seconds ahead" in capsys.readouterr().err
    assert MonitoringLog.objects.count() == 0


def burst(timestamp, received_at):
    ingest(
        [LogEntry(source="api", level="info", message="ok", timestamp=timestamp) for _ in range(20)],
        received_at=received_at,
    )


def test_a_log_dated_in_the_future_does_not_keep_a_silent_source_alive():
    # Stored before the bound existed (or by a clock that has since gone back): dated 2099,
    # received two hours before the evaluation.
    burst(datetime(2099, 1, 1, tzinfo=UTC), received_at=NOW - timedelta(hours=2))

    evaluate_health(now=NOW)

    assert SystemHealth.objects.get().status == Status.UNKNOWN


def test_old_logs_received_now_are_a_sign_of_life():
    # A client that buffered its logs for three hours sends them now.
    burst(NOW - timedelta(hours=3), received_at=NOW - timedelta(minutes=1))

    evaluate_health(now=NOW)

    assert SystemHealth.objects.get().status != Status.UNKNOWN


def test_the_last_receipt_is_kept_per_source_by_ingestion():
    burst(NOW - timedelta(days=2), received_at=NOW - timedelta(minutes=5))
    burst(NOW - timedelta(days=3), received_at=NOW - timedelta(minutes=50))  # older receipt, other hour
    ingest(
        [LogEntry(source="db", level="info", message="ok", event_id="e1", timestamp=NOW - timedelta(days=2))],
        received_at=NOW,
    )

    assert selectors.last_received("api") == NOW - timedelta(minutes=5)
    assert selectors.last_received("db") == NOW, "the event_id path keeps it too"
    assert selectors.last_received("nothing") is None
