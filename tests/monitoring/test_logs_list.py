from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from monitoring.ingest import LogEntry, ingest

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/logs/"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def logs():
    """250 logs over 250 minutes, sources api/worker, levels cycling; many share a timestamp."""
    levels = ["debug", "info", "warning", "error", "critical"]
    entries = [
        LogEntry(
            source="api" if i % 2 else "worker",
            level=levels[i % 5],
            message=f"event {i} {'timeout' if i % 7 == 0 else 'ok'}",
            timestamp=T0 + timedelta(minutes=i // 3),
        )
        for i in range(250)
    ]
    ingest(entries)


def all_pages(client, url):
    rows = []
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


@pytest.mark.usefixtures("logs")
def test_it_lists_newest_first_and_pages_through_every_row_once(client_for, reader):
    rows = all_pages(client_for(reader), URL + "?page_size=40")

    assert len(rows) == 250
    assert len({r["id"] for r in rows}) == 250
    keys = [(r["timestamp"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.usefixtures("logs")
def test_filters_combine(client_for, reader):
    client = client_for(reader)
    since, until = (T0 + timedelta(minutes=10)).isoformat(), (T0 + timedelta(minutes=40)).isoformat()

    query = urlencode(
        {"source": "api", "level": ["error", "critical"], "since": since, "until": until, "page_size": 7}, doseq=True
    )
    rows = all_pages(client, f"{URL}?{query}")

    assert rows
    for r in rows:
        assert r["source"] == "api" and r["level"] in ("error", "critical")
        assert since <= r["timestamp"].replace("Z", "+00:00") < until
    expected = [i for i in range(250) if i % 2 and i % 5 in (3, 4) and 10 <= i // 3 < 40]
    assert len(rows) == len(expected)


@pytest.mark.usefixtures("logs")
def test_search_finds_text_in_messages(client_for, reader):
    rows = all_pages(client_for(reader), URL + "?search=TIMEOUT&page_size=100")

    assert len(rows) == len([i for i in range(250) if i % 7 == 0])


@pytest.mark.usefixtures("logs")
def test_a_page_with_filters_costs_one_query(client_for, reader, django_assert_num_queries):
    client = client_for(reader)
    client.get(URL)  # the token's first use is looked up, recorded and cached

    with django_assert_num_queries(1):
        response = client.get(URL + "?source=api&level=error&page_size=100")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("level=loud", "level"),
        ("since=yesterday", "since"),
        ("page_size=abc", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(client_for, reader, query, field):
    response = client_for(reader).get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


@pytest.mark.usefixtures("logs")
def test_an_invalid_cursor_is_404_as_in_drf(client_for, reader):
    response = client_for(reader).get(f"{URL}?cursor=not-a-cursor")

    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid cursor."


@pytest.mark.usefixtures("logs")
def test_one_log_by_id(client_for, reader):
    client = client_for(reader)
    first = client.get(URL + "?page_size=1").json()["results"][0]

    response = client.get(f"{URL}{first['id']}/")

    assert response.status_code == 200
    assert response.json() == first


def test_an_unknown_id_is_404(client_for, reader):
    response = client_for(reader).get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reading_needs_the_view_permission(client_for, make_user):
    assert client_for(make_user("nobody")).get(URL).status_code == 403


def test_logs_cannot_be_changed_or_deleted(client_for, reader, writer):
    assert client_for(writer).delete(f"{URL}1/").status_code == 405
    assert client_for(writer).put(f"{URL}1/", {}, format="json").status_code == 405


def test_an_empty_filter_value_is_400_not_ignored(client_for, reader):
    response = client_for(reader).get(f"{URL}?until=")

    assert response.status_code == 400
    assert response.json()["fields"] == {"until": ["May not be empty."]}


@pytest.mark.parametrize(
    ("value", "status"),
    [("2026-11-20T10:00:00-19:40", 200), ("0001-01-01T00:10:00+05:00", 400)],
)
def test_time_filters_are_taken_in_utc(client_for, reader, value, status):
    response = client_for(reader).get(f"{URL}?{urlencode({'since': value})}")

    assert response.status_code == status
