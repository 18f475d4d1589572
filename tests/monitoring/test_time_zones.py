"""Statistics, charts and cursors take any UTC offset and count in UTC hours."""

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from django.contrib import admin

from monitoring import selectors
from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringLog
from veritas.utc import ceil_hour, floor_hour, to_utc, utc_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/statistics/"
IST = timezone(timedelta(hours=5, minutes=30))  # +05:30
NST = timezone(-timedelta(hours=3, minutes=30))  # -03:30
OUT_OF_RANGE = "Out of range once converted to UTC."
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

# Half-hour offsets put these bounds in the middle of UTC hours.
SINCE = datetime(2026, 11, 20, 8, 30, tzinfo=IST)  # 03:00 UTC
UNTIL = datetime(2026, 11, 20, 5, 30, tzinfo=NST)  # 09:00 UTC
SINCE_ODD = datetime(2026, 11, 20, 9, 15, tzinfo=IST)  # 03:45 UTC
UNTIL_ODD = datetime(2026, 11, 20, 4, 45, tzinfo=NST)  # 08:15 UTC


@pytest.fixture
def logs():
    """A log every 5 minutes from 00:00 to 12:00 UTC, so some fall exactly on each bound, and
    h more at hh:33 in hour h, so that no two hours hold the same number."""
    grid = [T0 + timedelta(minutes=5 * i) for i in range(12 * 12)]
    extra = [T0 + timedelta(hours=h, minutes=33) for h in range(12) for _ in range(h)]
    ingest([LogEntry(source="api", level="info", message="m", timestamp=moment) for moment in grid + extra])


def direct(since, until) -> int:
    return MonitoringLog.objects.filter(timestamp__gte=since, timestamp__lt=until).count()


def direct_hourly(since, until) -> dict[datetime, int]:
    hours = Counter(
        moment.replace(minute=0, second=0)
        for moment in MonitoringLog.objects.filter(timestamp__gte=since, timestamp__lt=until).values_list(
            "timestamp", flat=True
        )
    )
    return dict(sorted(hours.items()))


@pytest.mark.usefixtures("logs")
@pytest.mark.parametrize(("since", "until"), [(SINCE, UNTIL), (SINCE_ODD, UNTIL_ODD), (UNTIL_ODD, None)])
def test_it_counts_ranges_given_at_half_hour_offsets_exactly(since, until):
    stats = selectors.statistics(since=since, until=until, hourly=True)

    until = until or T0 + timedelta(days=1)
    assert stats.total == direct(since, until)
    assert {bucket["hour"]: bucket["info"] for bucket in stats.hourly} == direct_hourly(since, until)


@pytest.mark.usefixtures("logs")
def test_a_log_exactly_on_since_is_in_and_one_exactly_on_until_is_out():
    on_since = selectors.statistics(since=SINCE_ODD, until=SINCE_ODD + timedelta(minutes=5)).total
    on_until = selectors.statistics(since=UNTIL_ODD - timedelta(minutes=5), until=UNTIL_ODD).total

    assert (on_since, on_until) == (1, 1)  # the logs at 03:45 and at 08:10 UTC, not 08:15


@pytest.mark.usefixtures("logs")
def test_the_endpoint_takes_offsets_in_the_query_string(client_for, reader):
    query = urlencode({"since": SINCE_ODD.isoformat(), "until": UNTIL_ODD.isoformat()})

    body = client_for(reader).get(f"{URL}?{query}").json()

    assert body["total_logs"] == direct(SINCE_ODD, UNTIL_ODD)


def test_the_admin_chart_starts_on_a_utc_hour():
    model_admin = admin.site._registry[MonitoringLog]

    start = model_admin._chart_start(datetime(2026, 11, 20, 10, 50, tzinfo=IST))  # 05:20 UTC

    assert start == datetime(2026, 11, 13, 6, 0, tzinfo=UTC)


class TestTheHourBucket:
    def test_it_floors_and_ceils_in_utc(self):
        moment = datetime(2026, 11, 20, 10, 50, tzinfo=NST)  # 14:20 UTC

        assert floor_hour(moment) == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
        assert ceil_hour(moment) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
        assert ceil_hour(floor_hour(moment)) == floor_hour(moment)

    def test_a_naive_moment_is_refused(self):
        with pytest.raises(ValueError, match="needs a UTC offset"):
            to_utc(datetime(2026, 11, 20, 10, 0))

    def test_a_moment_that_leaves_the_calendar_in_utc_is_refused(self):
        with pytest.raises(ValueError, match="out of range"):
            to_utc(datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))

    @pytest.mark.parametrize(
        ("moment", "problem"),
        [
            (datetime(2026, 11, 20, 10, 0, tzinfo=NST), None),
            (datetime(2, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=23, minutes=59))), None),
            (datetime(9998, 12, 31, 23, 0, tzinfo=timezone(-timedelta(hours=23, minutes=59))), None),
            (datetime(1, 1, 2, 0, 30, tzinfo=timezone(timedelta(hours=1))), None),
            (datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), OUT_OF_RANGE),
            (datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-10))), OUT_OF_RANGE),
            (datetime(2026, 11, 20, 10, 0), "Needs a UTC offset, e.g. 2026-11-20T10:00:00Z or +05:30."),
        ],
    )
    def test_a_clients_moment_is_refused_only_when_it_cannot_be_taken_in_utc(self, moment, problem):
        assert utc_problem(moment) == problem

    def test_the_last_hour_of_the_calendar_has_no_next_hour(self):
        assert ceil_hour(datetime(9999, 12, 31, 23, 30, tzinfo=UTC)) == datetime.max.replace(tzinfo=UTC)


def cursor(moment: str, key=1) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment, key]).encode()).decode()


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-20T10:00:00+99:00",  # an offset Python refuses
        "9999-12-31T23:00:00-10:00",  # past the calendar once in UTC
        "0001-01-01T00:30:00+01:00",  # before it
        "2026-11-20T10:00:00",  # no offset
    ],
)
def test_a_cursor_whose_time_cannot_be_taken_in_utc_is_a_400_naming_it(client_for, reader, moment):
    response = client_for(reader).get(f"/api/v1/monitoring/logs/?cursor={cursor(moment)}")

    assert response.status_code == 400
    assert response.json()["fields"] == {"cursor": ["Invalid cursor: its time has no UTC offset or is out of range."]}


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(hours=5, minutes=30),
        timedelta(hours=20),  # Python accepts it; PostgreSQL refuses offsets past 15:59 (was a 500)
    ],
)
def test_a_cursor_with_an_offset_pages_on_from_the_same_moment(client_for, reader, logs, offset):
    moment = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    last = MonitoringLog.objects.filter(timestamp=moment).get()
    crafted = cursor(moment.astimezone(timezone(offset)).isoformat(), last.id)

    response = client_for(reader).get(f"/api/v1/monitoring/logs/?cursor={crafted}")

    assert response.status_code == 200
    assert response.json()["results"][0]["timestamp"] == "2026-11-20T03:25:00Z"
