import logging

import pytest

from veritas.request_id import RequestIDFilter, get_request_id

pytestmark = pytest.mark.django_db


def test_a_well_formed_incoming_id_is_kept(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="4f1c2a9e-trace-0001")

    assert response["X-Request-ID"] == "4f1c2a9e-trace-0001"


@pytest.mark.parametrize("incoming", [None, "", "short", "has spaces in it", "x" * 200, "<script>alert(1)</script>"])
def test_a_missing_or_malformed_id_is_replaced(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}

    response = client.get("/health/live", **headers)

    assert len(response["X-Request-ID"]) == 32
    assert response["X-Request-ID"] != incoming


def test_every_response_carries_a_fresh_id(client):
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]

    assert first != second


def test_error_bodies_carry_the_same_id(anon_client):
    response = anon_client.get("/api/v1/me/", HTTP_X_REQUEST_ID="caller-supplied-id-42")

    assert response.json()["request_id"] == "caller-supplied-id-42"


def test_log_lines_carry_the_id(anon_client, caplog):
    handler_filter = RequestIDFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.WARNING, logger="django.request"):
            anon_client.get("/api/v1/me/", HTTP_X_REQUEST_ID="caller-supplied-id-43")
    finally:
        caplog.handler.removeFilter(handler_filter)

    unauthorized = [r for r in caplog.records if r.name == "django.request"]
    assert unauthorized and unauthorized[0].request_id == "caller-supplied-id-43"
    assert get_request_id() is None, "the id does not leak past the request"
