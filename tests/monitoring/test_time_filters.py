"""since/until on the logs list and the statistics: a UTC offset is required, as for log
timestamps, and until before since is a mistake, not an empty answer."""

from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.django_db
ENDPOINTS = ["/api/v1/monitoring/logs/", "/api/v1/monitoring/statistics/"]


def get(client, url, **params):
    return client.get(f"{url}?{urlencode(params)}")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_until_before_since_is_a_400_naming_until(client_for, reader, url):
    response = get(client_for(reader), url, since="2026-11-20T12:00:00Z", until="2026-11-20T11:00:00Z")

    assert response.status_code == 400
    assert response.json()["fields"] == {"until": ["Must not be before since."]}


@pytest.mark.parametrize("url", ENDPOINTS)
def test_the_order_is_compared_in_utc(client_for, reader, url):
    # 12:00+05:30 is 06:30 UTC, before 11:00 UTC.
    response = get(client_for(reader), url, since="2026-11-20T12:00:00+05:30", until="2026-11-20T11:00:00Z")

    assert response.status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_empty_range_is_not_an_error(client_for, reader, url):
    assert get(client_for(reader), url, since="2026-11-20T12:00:00Z", until="2026-11-20T12:00:00Z").status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("value", ["2026-11-20T10:00:00", "2026-11-20"])
def test_a_time_without_a_utc_offset_is_refused_as_ingestion_refuses_it(client_for, reader, url, param, value):
    response = get(client_for(reader), url, **{param: value})

    assert response.status_code == 400
    assert response.json()["fields"] == {param: ["Needs a UTC offset, e.g. 2026-11-20T10:00:00Z or +05:30."]}
