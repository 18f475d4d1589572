"""Per-user write limit: atomic in PostgreSQL, 429 with Retry-After, reads never counted."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from tests.helpers import synchronous_commit
from veritas import ratelimit
from veritas.models import RateLimitCounter

pytestmark = pytest.mark.django_db


def test_it_counts_within_a_window_and_starts_again_in_the_next():
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    minute = [ratelimit.Window(2, timedelta(minutes=1))]
    first = [ratelimit.hit("k", minute, now=start + timedelta(seconds=s)) for s in (1, 2, 3)]
    later = ratelimit.hit("k", minute, now=start + timedelta(seconds=61))

    assert [h.allowed for h in first] == [True, True, False]
    assert [h.remaining for h in first] == [1, 0, 0]
    assert first[-1].retry_after == 57
    assert first[-1].reset_at == start + timedelta(minutes=1)
    assert later.allowed and later.count == 1
    assert RateLimitCounter.objects.filter(key="k").count() == 1, "one row per key"


def test_a_request_is_admitted_only_when_every_window_has_room_and_only_admitted_ones_count():
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    windows = [ratelimit.Window(2, timedelta(hours=1)), ratelimit.Window(3, timedelta(days=1))]

    def at(minutes):
        return ratelimit.hit("i", windows, now=start + timedelta(minutes=minutes))

    first_hour = [at(m) for m in (1, 2, 3, 4)]
    second_hour = [at(m) for m in (61, 62)]
    next_day = at(24 * 60 + 1)

    assert [h.allowed for h in first_hour] == [True, True, False, False]
    # The refused ones did not spend the daily limit: one more fits in the next hour.
    assert [h.allowed for h in second_hour] == [True, False]
    assert first_hour[2].retry_after == 57 * 60, "until the hour ends"
    assert second_hour[1].limit == 3 and second_hour[1].remaining == 0, "the day is now the binding window"
    assert second_hour[1].retry_after == (14 * 60 - 62) * 60, "until the day (UTC midnight) ends"
    assert next_day.allowed and next_day.count == 1
    assert RateLimitCounter.objects.get(key="i").counts == [1, 1]


def test_the_headers_name_the_binding_window():
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    result = ratelimit.hit("h", [ratelimit.Window(5, timedelta(hours=1))], now=start)

    assert result.headers() == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": str(int((start + timedelta(hours=1)).timestamp())),
    }


def test_a_window_needs_a_limit():
    with pytest.raises(ValueError, match="at least 1"):
        ratelimit.hit("z", [ratelimit.Window(0, timedelta(hours=1))])


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
            results.append(ratelimit.hit("race", [ratelimit.Window(5, timedelta(hours=1))]).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 3 + [True] * 5


@pytest.mark.django_db(transaction=True)
def test_a_count_skips_the_wal_flush_only_when_it_is_its_own_transaction(request):
    window, hour = [ratelimit.Window(5, timedelta(hours=1))], timedelta(hours=1)
    now = datetime.now(UTC)

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = remote_write")  # the session's own, not the default
        request.addfinalizer(lambda: connection.cursor().execute("RESET synchronous_commit"))
        assert ratelimit.commits_alone() is True
        ratelimit.hit("a", window, now=now)
        assert synchronous_commit(cursor) == "remote_write"  # SET LOCAL: the session keeps its setting
        with transaction.atomic():
            assert ratelimit.commits_alone() is False
            ratelimit.hit("a", window, now=now)
            assert synchronous_commit(cursor) == "remote_write"  # the block's other writes: as ever
        with transaction.atomic():  # what the function does to the transaction it is told is its own
            start = ratelimit.window_start(now, hour)
            cursor.execute("SELECT counts FROM veritas_rate_limit_hit('a', %s, '{5}', true)", [[start]])
            assert synchronous_commit(cursor) == "off"

    assert RateLimitCounter.objects.get(key="a").counts == [3]


def test_the_schema_documents_429_only_where_a_limit_applies(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    assert "429" in schema["paths"]["/api/v1/tokens/"]["post"]["responses"]
    assert "429" not in schema["paths"]["/api/v1/tokens/"]["get"]["responses"]
    assert "429" not in schema["paths"]["/api/v1/me/"]["get"]["responses"]
