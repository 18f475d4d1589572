import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.veritas.pagination_urls")]


@pytest.fixture
def users(owner):
    get_user_model().objects.bulk_create(get_user_model()(username=f"user{i:03}") for i in range(120))


@pytest.mark.usefixtures("users")
def test_page_numbers_default_to_50_per_page(api_client):
    body = api_client.get("/api/v1/test/pages/").json()

    assert body["count"] == 121
    assert len(body["results"]) == 50
    assert body["next"].endswith("/api/v1/test/pages/?page=2")


@pytest.mark.usefixtures("users")
def test_a_page_size_up_to_the_cap_is_honoured(api_client):
    body = api_client.get("/api/v1/test/pages/?page_size=500").json()

    assert len(body["results"]) == 121


@pytest.mark.parametrize("query", ["page_size=100000", "page_size=0", "page_size=ten", "page=0", "page=first"])
def test_a_page_or_page_size_that_cannot_exist_is_a_400_naming_it(api_client, query):
    # DRF would silently serve its default page size instead: a caller asking for 100,000
    # rows must learn that it gets 500 at most, not believe it has them all.
    response = api_client.get(f"/api/v1/test/pages/?{query}")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [query.split("=")[0]]


@pytest.mark.usefixtures("users")
def test_an_out_of_range_page_is_404(api_client):
    response = api_client.get("/api/v1/test/pages/?page=99")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.usefixtures("users")
def test_the_cursor_walks_every_row_once_with_a_bounded_number_of_queries(api_client, django_assert_max_num_queries):
    seen, url = [], "/api/v1/test/cursor/?page_size=40"
    api_client.get(url)  # the token's first use: looked up and recorded, then cached
    while url:
        with django_assert_max_num_queries(1):
            body = api_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == 121
    assert "count" not in body, "no COUNT(*) over a high-volume table"
