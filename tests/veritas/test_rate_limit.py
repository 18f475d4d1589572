"""Per-user write limit: atomic in PostgreSQL, 429 with Retry-After, reads never counted."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from veritas import ratelimit
from veritas.models import RateLimitCounter

pytestmark = pytest.mark.django_db


def test_it_counts_within_a_window_and_starts_again_in_the_next():
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    first = [
        ratelimit.hit("k", limit=2, window=timedelta(minutes=1), now=start + timedelta(seconds=s)) for s in (1, 2, 3)
    ]
    later = ratelimit.hit("k", limit=2, window=timedelta(minutes=1), now=start + timedelta(seconds=61))

    assert [h.allowed for h in first] == [True, True, False]
    assert first[-1].retry_after == 57
    assert later.allowed and later.count == 1
    assert RateLimitCounter.objects.filter(key="k").count() == 1, "older windows are deleted"


def test_writes_over_the_limit_are_429_with_retry_after(api_client, settings):
    settings.API_USER_WRITES_PER_MINUTE = 2

    statuses = [api_client.delete("/api/v1/tokens/999999/").status_code for _ in range(3)]
    refused = api_client.delete("/api/v1/tokens/999999/")

    assert statuses == [404, 404, 429]
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_reads_are_not_counted(api_client, settings):
    settings.API_USER_WRITES_PER_MINUTE = 1

    assert all(api_client.get("/api/v1/me/").status_code == 200 for _ in range(3))
    assert not RateLimitCounter.objects.exists()


def test_each_user_has_a_limit_of_their_own(api_client, stranger, client, settings):
    settings.API_USER_WRITES_PER_MINUTE = 1
    api_client.delete("/api/v1/tokens/999999/")
    client.force_login(stranger)

    assert client.delete("/api/v1/tokens/999999/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_never_exceed_the_limit():
    # Eight threads (eight connections) race for a limit of five: exactly five win.
    results, barrier = [], threading.Barrier(8)

    def attempt():
        barrier.wait()
        try:
            results.append(ratelimit.hit("race", limit=5, window=timedelta(hours=1)).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 3 + [True] * 5


def test_the_schema_documents_429_only_where_a_limit_applies(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    assert "429" in schema["paths"]["/api/v1/tokens/"]["post"]["responses"]
    assert "429" not in schema["paths"]["/api/v1/tokens/"]["get"]["responses"]
    assert "429" not in schema["paths"]["/api/v1/me/"]["get"]["responses"]
