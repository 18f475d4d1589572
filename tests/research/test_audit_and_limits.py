"""Every request to /api/v1/research/ is audited (200/400/401/429/500, secrets redacted at any
depth, no Authorization header) and counted in usage; limits are exact and announced."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request

from research import audit, views
from research.auth import InstitutionRateThrottle
from research.models import AuditLog, Institution, InstitutionAPIKey, UsageMetrics
from tests.helpers import synchronous_commit
from tests.research.conftest import API, client_with, post_json
from veritas import keys
from veritas.models import RateLimitCounter

pytestmark = pytest.mark.django_db
TRACE = re.compile(r"^tamu_\d{8}_[0-9a-f]{8}$")
SMALL = {"embedding": [[0.0], [1.0], [3.0]], "params": {"k_nn": 1}}


def test_a_successful_request_is_audited_with_its_trace_id(owner_client, institution):
    response = owner_client.get(f"{API}/qac/models/", HTTP_USER_AGENT="pipeline/1.0", REMOTE_ADDR="10.1.2.3")

    entry = AuditLog.objects.get()
    assert TRACE.match(response["X-Trace-ID"]) and entry.trace_id == response["X-Trace-ID"]
    assert response["X-Request-ID"] == entry.request_id
    assert (entry.institution_id, entry.method, entry.route, entry.status) == (
        institution.pk,
        "GET",
        "qac/models/",
        200,
    )
    assert entry.key_prefix.startswith("vri_") and entry.user_agent == "pipeline/1.0"
    assert entry.client_address == "10.1.2.3" and entry.duration_ms > 0


def test_the_route_is_the_url_pattern_not_the_path(owner_client):
    owner_client.get(f"{API}/qac/models/0b0e7a58-3d1c-4a55-9a53-1c3b0f0e9f11/")

    assert AuditLog.objects.get().route == "qac/models/{pk}/"


def test_secrets_are_redacted_at_any_depth_and_the_authorization_header_never_stored(owner_client, institution):
    body = {
        **SMALL,
        "name": "m",
        "params": {"k_nn": 1, "nested": {"api_key": "k-1", "deeper": [{"Client-Secret": "s-2", "ok": 1}]}},
        "password": "p-3",
        "access_token": {"value": "t-4"},
    }

    response = post_json(owner_client, "qac/fit", body)

    assert response.status_code == 400  # unknown fields; audited all the same
    stored = AuditLog.objects.get().body
    for secret in ("k-1", "s-2", "p-3", "t-4"):
        assert secret not in stored
    assert stored.count("[redacted]") == 4 and '"ok":1' in stored
    authorization = owner_client._credentials["HTTP_AUTHORIZATION"]
    assert authorization.split()[1].split(".")[1] not in str(list(AuditLog.objects.values()))


def test_a_large_body_is_cut_at_10_kb(owner_client):
    rows = [[float(i), float(i) / 3] for i in range(3000)]

    post_json(owner_client, "qac/fit", {"embedding": rows, "params": {"k_nn": 2}, "name": "big"})

    entry = AuditLog.objects.get()
    assert entry.status == 201 and entry.body_truncated and len(entry.body) == 10 * 1024
    assert entry.body.startswith('{"embedding":[[0.0,0.0],[1.0,0.3333333333333333]') and entry.body_bytes > 10 * 1024


def test_failed_authentication_is_audited_without_an_institution(db):
    response = client_with("vri_000000000000." + "A" * 43).get(f"{API}/jobs/")

    entry = AuditLog.objects.get()
    assert response.status_code == 401 and entry.status == 401 and entry.institution_id is None
    assert entry.trace_id.startswith("unknown_") and entry.key_prefix == "vri_000000000000"
    assert not UsageMetrics.objects.exists(), "usage is per institution"


def test_a_server_error_is_audited_and_counted(owner_client, institution, monkeypatch):
    from research import views

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.QACViewSet, "get_queryset", broken)
    owner_client.raise_request_exception = False

    response = owner_client.get(f"{API}/qac/models/")

    assert response.status_code == 500 and AuditLog.objects.get().status == 500
    usage = UsageMetrics.objects.get()
    assert (usage.requests, usage.errors) == (1, 1)


def test_usage_counts_requests_errors_and_times_per_route_and_day(owner_client, institution):
    for _ in range(3):
        owner_client.get(f"{API}/qac/models/")
    post_json(owner_client, "qac/fit", {"embedding": "nonsense"})

    rows = {row.route: row for row in UsageMetrics.objects.filter(institution=institution)}
    assert rows["qac/models/"].requests == 3 and rows["qac/models/"].errors == 0
    assert rows["qac/fit"].requests == 1 and rows["qac/fit"].errors == 1
    listed = rows["qac/models/"]
    assert listed.max_ms > 0 and listed.total_ms >= listed.max_ms


def test_audit_entries_are_append_only(owner_client):
    owner_client.get(f"{API}/jobs/")
    entry = AuditLog.objects.get()

    with pytest.raises(Exception, match="append-only"):
        entry.save()
    with pytest.raises(Exception, match="append-only"):
        AuditLog.objects.update(status=200)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE research_auditlog SET status = 200")


def test_every_response_carries_the_rate_limit_and_429_says_when_to_retry(owner_client, institution):
    institution.requests_per_hour = 2
    institution.save()

    responses = [owner_client.get(f"{API}/jobs/") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["1", "0", "0"]
    assert all(r["X-RateLimit-Limit"] == "2" and int(r["X-RateLimit-Reset"]) > 0 for r in responses)
    refused = responses[-1]
    assert refused.json()["code"] == "throttled" and 1 <= int(refused["Retry-After"]) <= 3600
    assert AuditLog.objects.filter(status=429).count() == 1


def test_the_daily_limit_applies_too(owner_client, institution):
    institution.requests_per_day = 1
    institution.save()

    assert [owner_client.get(f"{API}/jobs/").status_code for _ in range(2)] == [200, 429]


def test_institutions_have_limits_of_their_own(owner_client, stranger_client, institution):
    institution.requests_per_hour = 1
    institution.save()
    owner_client.get(f"{API}/jobs/")

    assert owner_client.get(f"{API}/jobs/").status_code == 429
    assert stranger_client.get(f"{API}/jobs/").status_code == 200


def _counts(institution) -> list[int] | None:
    counter = RateLimitCounter.objects.filter(key=institution.rate_key).first()
    return counter and counter.counts


def test_the_query_that_reads_the_key_counts_the_request(owner_client, institution):
    owner_client.get(f"{API}/jobs/")  # the key's first use is recorded; later ones within a minute are not

    with CaptureQueriesContext(connection) as captured:
        assert owner_client.get(f"{API}/jobs/").status_code == 200

    counting = [query["sql"] for query in captured.captured_queries if "veritas_rate_limit_hit(" in query["sql"]]
    assert len(counting) == 1 and "research_institutionapikey" in counting[0]
    assert _counts(institution) == [2, 2]


@pytest.mark.parametrize("spoiled", ["wrong secret", "revoked", "expired", "suspended"])
def test_a_refused_key_spends_nothing_of_the_limit(institution, key_for, spoiled):
    value = key_for(institution)
    client_with(value).get(f"{API}/jobs/")
    prefix, _secret = keys.split(value)
    now = timezone.now()
    if spoiled == "wrong secret":
        value = f"{prefix}.{'A' * 43}"
    elif spoiled == "revoked":
        InstitutionAPIKey.objects.get().revoke()
    elif spoiled == "expired":
        InstitutionAPIKey.objects.update(created_at=now - timedelta(days=2), expires_at=now - timedelta(days=1))
    else:
        Institution.objects.update(active=False)

    assert client_with(value).get(f"{API}/jobs/").status_code == 401
    assert _counts(institution) == [1, 1]


def test_a_view_without_the_limit_counts_nothing(owner_client, institution, monkeypatch):
    monkeypatch.setattr(views.JobViewSet, "throttle_classes", [])

    response = owner_client.get(f"{API}/jobs/")

    assert response.status_code == 200 and "X-RateLimit-Limit" not in response
    assert _counts(institution) is None


def test_the_throttle_counts_a_request_its_authentication_did_not(institution, rf):
    # Used on its own (no counting lookup before it), the throttle still counts.
    request = Request(rf.get(f"{API}/jobs/"))
    request._request.institution = institution

    assert InstitutionRateThrottle().allow_request(request, view=None)
    assert _counts(institution) == [1, 1] and request._request.research_rate.remaining == 999


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_admit_exactly_the_limit(key_for):
    # Eight clients, eight threads, eight database connections, racing real requests.
    institution = Institution.objects.create(name="Race U", slug="race", requests_per_hour=30)
    value = key_for(institution)
    statuses, barrier = [], threading.Barrier(8)

    def client_run():
        client = Client(HTTP_AUTHORIZATION=f"Bearer {value}")
        barrier.wait()
        try:
            statuses.extend(client.get(f"{API}/jobs/").status_code for _ in range(10))
        finally:
            connection.close()

    threads = [threading.Thread(target=client_run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses.count(200) == 30 and statuses.count(429) == 50
    assert AuditLog.objects.filter(status=429).count() == 50


@pytest.mark.parametrize(
    ("pattern", "route"),
    [
        ("api/v1/research/^qac/models/(?P<pk>[0-9a-f]{8}-?(?:[0-9a-f]{4}))/$", "qac/models/{pk}/"),
        ("api/v1/research/^qac/fit/?$", "qac/fit"),
        ("api/v1/research/^jobs/(?P<pk>[^/.]+)/cancel/$", "jobs/{pk}/cancel/"),
    ],
)
def test_routes_read_as_people_write_them(pattern, route):
    assert audit.route_of(pattern) == route


def test_secret_key_names():
    assert all(map(audit.is_secret_key, ["password", "API-Key", "apikey", "client_secret", "x_auth_token"]))
    assert not any(map(audit.is_secret_key, ["author", "name", "k_nn", "weight", "authority"]))


def _entry(institution, status=200, route="jobs/") -> audit.Entry:
    return audit.Entry(
        trace_id="tamu_20261123_0123abcd", request_id="r1", institution_id=institution.pk, key_prefix="vri_x",
        method="GET", route=route, status=status, duration_ms=2.5, body="", body_bytes=0, body_truncated=False,
        client_address="192.0.2.7", user_agent="pytest",
    )  # fmt: skip


def test_record_writes_the_entry_and_the_usage_of_its_utc_day(institution):
    from datetime import UTC, datetime

    late = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    audit.record(_entry(institution), late)
    audit.record(_entry(institution, status=404), late + timedelta(seconds=2))

    assert [(e.at, e.status, e.client_address) for e in AuditLog.objects.order_by("at")] == [
        (late, 200, "192.0.2.7"),
        (late + timedelta(seconds=2), 404, "192.0.2.7"),
    ]
    days = {u.day.isoformat(): (u.requests, u.errors, u.total_ms, u.max_ms) for u in UsageMetrics.objects.all()}
    assert days == {"2026-11-23": (1, 0, 2.5, 2.5), "2026-11-24": (1, 1, 2.5, 2.5)}


@pytest.mark.django_db(transaction=True)
def test_an_entry_skips_the_wal_flush_only_when_it_is_its_own_transaction(institution, request, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = remote_write")  # the session's own, not the default
        request.addfinalizer(lambda: connection.cursor().execute("RESET synchronous_commit"))
        audit.record(_entry(institution), timezone.now())
        assert synchronous_commit(cursor) == "remote_write"  # SET LOCAL: the session keeps its setting
        with transaction.atomic():
            audit.record(_entry(institution), timezone.now())
            assert synchronous_commit(cursor) == "remote_write"  # the block's other writes: as ever
        with transaction.atomic():  # what the function does to a transaction it is told is its own
            monkeypatch.setattr(audit.ratelimit, "commits_alone", lambda: True)
            audit.record(_entry(institution), timezone.now())
            assert synchronous_commit(cursor) == "off"

    assert AuditLog.objects.count() == 3 and UsageMetrics.objects.get().requests == 3
