"""Every error the API gives has one JSON shape: status, code, detail, request_id (+ fields on 400)."""

import json

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.veritas.error_urls")]


def assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_400_names_each_invalid_field(api_client):
    response = api_client.post("/api/v1/test/echo/", {"name": "far too long a name", "size": 0}, format="json")

    body = assert_error_shape(response, 400, "invalid")
    assert set(body["fields"]) == {"name", "size"}
    assert body["fields"]["size"] == ["Ensure this value is greater than or equal to 1."]


def test_400_for_a_body_that_is_not_json(api_client):
    response = api_client.post("/api/v1/test/echo/", "{not json", content_type="application/json")

    body = assert_error_shape(response, 400, "parse_error")
    assert "JSON parse error" in body["detail"]


def test_401_without_credentials(anon_client):
    assert_error_shape(anon_client.get("/api/v1/test/staff/"), 401, "not_authenticated")


def test_403_without_permission(api_client):
    assert_error_shape(api_client.get("/api/v1/test/staff/"), 403, "permission_denied")


def test_404_for_an_unknown_api_path_in_debug_too(api_client, settings):
    settings.DEBUG = True

    assert_error_shape(api_client.get("/api/v1/no/such/thing/"), 404, "not_found")


def test_405_for_a_method_not_allowed(api_client):
    assert_error_shape(api_client.delete("/api/v1/me/"), 405, "method_not_allowed")


def test_409_conflict(api_client):
    assert_error_shape(api_client.get("/api/v1/test/conflict/"), 409, "conflict")


def test_413_for_a_body_over_the_views_limit(api_client):
    big = json.dumps({"name": "x" * 2000, "size": 1})

    body = assert_error_shape(
        api_client.post("/api/v1/test/echo/", big, content_type="application/json"), 413, "payload_too_large"
    )
    assert "1024 bytes" in body["detail"]


def test_413_for_a_body_over_the_global_limit(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = api_client.post("/api/v1/test/echo-default/", {"name": "x" * 200, "size": 1}, format="json")

    body = assert_error_shape(response, 413, "payload_too_large")
    assert "100 bytes" in body["detail"]


def test_415_for_an_unsupported_media_type(api_client):
    response = api_client.post("/api/v1/test/echo/", "name=x", content_type="text/csv")

    assert_error_shape(response, 415, "unsupported_media_type")


def test_429_says_when_to_retry(api_client):
    response = api_client.get("/api/v1/test/throttled/")

    assert_error_shape(response, 429, "throttled")
    assert response["Retry-After"] == "30"


def test_503_when_the_database_fails(api_client):
    response = api_client.get("/api/v1/test/database/")

    body = assert_error_shape(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert "connection refused" not in body["detail"], "driver messages are not shown to clients"


def test_500_is_json_under_api_and_hides_the_bug(api_client):
    api_client.raise_request_exception = False

    body = assert_error_shape(api_client.get("/api/v1/test/crash/"), 500, "server_error")

    assert "a bug" not in body["detail"]


def test_a_rejected_request_writes_nothing(api_client, django_assert_num_queries):
    api_client.get("/api/v1/me/")  # the token's first use is recorded; later uses within a minute are not

    # The token comes from the cache; validation fails before anything is written. The one
    # statement is the per-user write count (veritas/ratelimit.py), which every write pays.
    with django_assert_num_queries(1) as captured:
        api_client.post("/api/v1/test/echo/", {"name": "far too long a name", "size": 0}, format="json")

    assert "veritas_rate_limit_hit(" in captured.captured_queries[0]["sql"]


@pytest.mark.urls("veritas.urls")
def test_403_names_the_missing_permission(api_client):
    response = api_client.get("/api/v1/monitoring/logs/")

    body = assert_error_shape(response, 403, "permission_denied")
    assert "monitoring.view_monitoringlog" in body["detail"]


def test_an_unknown_api_path_is_a_json_404_for_any_method_even_without_a_csrf_token(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert_error_shape(client.delete("/api/v1/no/such/thing/"), 404, "not_found")


def test_a_csrf_failure_under_the_api_is_json(rf):
    from veritas.views import csrf_failure

    response = csrf_failure(rf.post("/api/v1/anything/"), reason="CSRF cookie not set.")

    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "permission_denied"


def test_503_when_a_statement_outlives_the_statement_timeout(api_client):
    body = assert_error_shape(api_client.get("/api/v1/test/slow/"), 503, "statement_timeout")

    assert "narrow the filters" in body["detail"]
