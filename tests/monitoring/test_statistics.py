import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db.models import Count, Max, Min

from monitoring import selectors
from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/statistics/"
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
LEVELS = ["debug", "info", "warning", "error", "critical"]


@pytest.fixture
def logs():
    """1,500 logs at random seconds over ~30 hours, three sources, in several batches."""
    rng = random.Random(7)  # noqa: S311 (test data, not secrets)
    for _batch in range(3):
        ingest(
            [
                LogEntry(
                    source=rng.choice(["api", "worker", "db"]),
                    level=rng.choice(LEVELS),
                    message="m",
                    timestamp=T0 + timedelta(seconds=rng.randrange(30 * 3600)),
                )
                for _ in range(500)
            ]
        )


def direct(**filters):
    """What a naive GROUP BY over the raw table says."""
    qs = MonitoringLog.objects.filter(**filters)
    by_level = dict(qs.values_list("level").annotate(n=Count("id")).order_by())
    by_source = dict(qs.values_list("source").annotate(n=Count("id")).order_by())
    bounds = qs.aggregate(oldest=Min("timestamp"), newest=Max("timestamp"))
    return {
        "total": qs.count(),
        "by_level": {level: by_level.get(level, 0) for level in LEVELS},
        "by_source": dict(sorted(by_source.items())),
        **bounds,
    }


def computed(**kwargs):
    stats = selectors.statistics(**kwargs)
    return {
        "total": stats.total,
        "by_level": stats.by_level,
        "by_source": stats.by_source,
        "oldest": stats.oldest,
        "newest": stats.newest,
    }


@pytest.mark.usefixtures("logs")
def test_totals_match_a_direct_count():
    assert computed() == direct()


@pytest.mark.usefixtures("logs")
@pytest.mark.parametrize(
    ("since", "until"),
    [
        (timedelta(hours=3, minutes=17, seconds=5), timedelta(hours=20, minutes=41)),  # partial hours at both ends
        (timedelta(hours=4), timedelta(hours=9)),  # whole hours only
        (timedelta(hours=5, minutes=10), timedelta(hours=5, minutes=50)),  # inside one hour
        (timedelta(hours=5, minutes=10), timedelta(hours=6, minutes=50)),  # two partial hours, none whole
        (None, timedelta(hours=12, minutes=30)),
        (timedelta(hours=12, minutes=30), None),
    ],
)
def test_ranges_match_a_direct_count(since, until):
    kwargs, filters = {}, {}
    if since is not None:
        kwargs["since"] = filters["timestamp__gte"] = T0 + since
    if until is not None:
        kwargs["until"] = filters["timestamp__lt"] = T0 + until

    assert computed(**kwargs) == direct(**filters)


@pytest.mark.usefixtures("logs")
def test_source_and_level_filters_match_a_direct_count():
    since, until = T0 + timedelta(hours=2, minutes=30), T0 + timedelta(hours=25, minutes=5)

    result = computed(sources=["api", "db"], levels=["error", "critical"], since=since, until=until)

    assert result == direct(
        source__in=["api", "db"], level__in=["error", "critical"], timestamp__gte=since, timestamp__lt=until
    )


@pytest.mark.usefixtures("logs")
def test_hourly_buckets_add_up():
    stats = selectors.statistics(hourly=True, since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=6))

    direct_hours = Counter(
        (ts.replace(minute=0, second=0, microsecond=0), level)
        for ts, level in MonitoringLog.objects.filter(
            timestamp__gte=T0 + timedelta(minutes=30), timestamp__lt=T0 + timedelta(hours=6)
        ).values_list("timestamp", "level")
    )
    assert [b["hour"] for b in stats.hourly] == sorted({hour for hour, _ in direct_hours})
    for bucket in stats.hourly:
        for level in LEVELS:
            assert bucket[level] == direct_hours[(bucket["hour"], level)]


@pytest.mark.usefixtures("logs")
@pytest.mark.parametrize(
    ("since", "until"),
    [
        (timedelta(hours=5, minutes=10), timedelta(hours=5, minutes=50)),  # inside one hour: no rollup part
        (timedelta(hours=5, minutes=10), timedelta(hours=6, minutes=50)),  # two partial hours
    ],
)
def test_hourly_counts_of_a_range_without_a_whole_hour(since, until):
    stats = selectors.statistics(since=T0 + since, until=T0 + until, hourly=True)

    assert sum(sum(bucket[level] for level in LEVELS) for bucket in stats.hourly) == stats.total > 0


@pytest.mark.usefixtures("logs")
def test_a_reversed_range_is_empty():
    stats = selectors.statistics(since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=2), hourly=True)

    assert (stats.total, stats.hourly) == (0, [])


def test_an_empty_table_has_zero_counts():
    stats = selectors.statistics()

    assert (stats.total, stats.oldest, stats.newest) == (0, None, None)
    assert stats.by_level == dict.fromkeys(LEVELS, 0)


@pytest.mark.usefixtures("logs")
def test_the_endpoint_answers_in_the_legacy_shape(client_for, reader):
    query = urlencode({"source": ["api", "worker"], "level": "error", "hourly": "true"}, doseq=True)

    body = client_for(reader).get(f"{URL}?{query}").json()

    expected = direct(source__in=["api", "worker"], level="error")
    assert body["total_logs"] == expected["total"]
    assert body["status_distribution"]["error"] == expected["total"]
    assert body["source_distribution"] == expected["by_source"]
    assert body["oldest_log"] and body["newest_log"]
    assert sum(bucket["error"] for bucket in body["hourly"]) == expected["total"]


@pytest.mark.usefixtures("logs")
def test_the_endpoint_costs_two_queries(client_for, reader, django_assert_num_queries):
    client = client_for(reader)
    client.get(URL)

    with django_assert_num_queries(2):  # counts, then oldest/newest
        assert client.get(URL + "?since=2026-11-20T03:30:00Z").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [("level=loud", "level"), ("since=soon", "since"), ("until=", "until"), ("hourly=maybe", "hourly")],
)
def test_bad_parameters_are_400_naming_the_field(client_for, reader, query, field):
    response = client_for(reader).get(f"{URL}?{query}")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_an_unknown_parameter_is_400_naming_it(client_for, reader):
    response = client_for(reader).get(f"{URL}?sorce=api")

    assert response.status_code == 400
    assert response.json()["fields"] == {"sorce": ["Unknown query parameter."]}


def test_statistics_need_the_view_permission(client_for, writer):
    assert client_for(writer).get(URL).status_code == 403
