"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis).

Bounded: a few examples per operation and no deadline, so it stays quick on two cores.
Every response must be documented, match its schema, and never be a 5xx.
"""

import contextlib
import json
import os
from datetime import UTC, datetime

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

from veritas.views import api_not_found
from veritas.wsgi import application

# The schema /api/v1/schema/ serves, built in-process (no request, no database).
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True))))
schema.app = application


# Rules no OpenAPI schema can state, documented in docs/monitoring.md and tested there:
# generated requests keep them, so that a 400 for breaking one is not "valid data rejected".
def _moment(value):
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@schema.hook
def filter_query(ctx, query):
    """`until` before `since` is a 400 (monitoring's time filters)."""
    since, until = _moment((query or {}).get("since")), _moment((query or {}).get("until"))
    try:
        return since is None or until is None or until >= since
    except OverflowError:  # compared in UTC, one of them leaves the calendar: a 400 anyway
        return True


@schema.hook
def map_body(ctx, body):
    """A log timestamp ahead of the server's clock is a 400 (POST monitoring/logs/)."""
    now = datetime.now(UTC)
    for row in body if isinstance(body, list) else [body]:
        moment = _moment(row.get("timestamp")) if isinstance(row, dict) else None
        with contextlib.suppress(OverflowError):
            if moment is not None and moment.tzinfo is not None and moment > now:
                row["timestamp"] = now.isoformat()
    return body


# derandomize: the same examples every run, so CI is repeatable; raise VERITAS_FUZZ_EXAMPLES
# (and unset derandomize with VERITAS_FUZZ_RANDOM=1) to hunt for new failures locally.
FUZZ = settings(
    max_examples=int(os.environ.get("VERITAS_FUZZ_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("VERITAS_FUZZ_RANDOM") != "1",
)


@pytest.fixture(autouse=True)
def keep_the_test_transaction():
    """Calling the WSGI app directly would close the test's connection (and so its
    transaction) on request_started/finished; Django's own test client avoids that the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, django_user_model, token_for):
    """A superuser: every operation's real logic is exercised, not just its 403."""
    admin = django_user_model.objects.create_superuser("fuzzer", "fuzzer@example.com", None)
    return {"Authorization": f"Bearer {token_for(admin)}"}


@schema.parametrize()
@FUZZ
def test_the_api_honours_its_schema(case, bearer):
    case.call_and_validate(headers=bearer)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_credentials_every_operation_is_401(case, db):
    response = case.call()

    if response.status_code == 404 and resolve(case.formatted_path).func is api_not_found:
        return  # a path parameter no route accepts (e.g. a non-numeric id): there is no operation
    assert response.status_code == 401, case.as_curl_command()
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")
