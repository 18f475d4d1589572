"""Jobs through a real worker, cancelling, usage for institutions and staff, health, and
isolation: every endpoint with the owner, a colleague (another key of the same institution)
and a stranger (another institution's key)."""

from datetime import date

import numpy as np
import pytest
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

from research.models import JobStatus, QACModel, UsageMetrics
from tests.research.conftest import API, post_json

pytestmark = pytest.mark.django_db
EMBEDDING = np.random.default_rng(0).standard_normal((30, 2)).tolist()


@pytest.fixture
def worker_queue(database_task_backend, settings, monkeypatch):
    """Jobs queued in django-tasks-db and run by `db_worker --batch`, as `make worker` runs them."""
    settings.RESEARCH_QAC_INLINE_MAX_VALUES = 10
    # The worker closes "old" connections between tasks: inside a test that is the test's own.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run():
        call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)

    return run


def test_a_job_waits_for_the_worker_then_succeeds(owner_client, worker_queue):
    job = post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}}).json()
    assert owner_client.get(job["url"]).json()["status"] == "queued"

    worker_queue()

    done = owner_client.get(job["url"]).json()
    assert done["status"] == "succeeded" and done["started_at"] and done["finished_at"]
    assert QACModel.objects.filter(pk=done["result"]["model"]).exists()


def test_a_failing_job_says_why(owner_client, worker_queue):
    job = post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}}).json()
    JobStatus.objects.filter(pk=job["id"]).update(params={"params": {"k_nn": 3, "engine": "gone"}, "name": ""})

    worker_queue()

    failed = owner_client.get(job["url"]).json()
    assert (
        failed["status"] == "failed" and failed["error"] == "params.engine: Unknown engine 'gone': available: laplace."
    )


def test_a_queued_job_can_be_cancelled_and_the_worker_skips_it(owner_client, worker_queue):
    job = post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}}).json()

    cancelled = owner_client.post(f"{job['url']}cancel/")
    worker_queue()

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert owner_client.get(job["url"]).json()["status"] == "cancelled" and not QACModel.objects.exists()
    again = owner_client.post(f"{job['url']}cancel/")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_jobs_are_listed_without_their_results(owner_client, settings, django_assert_max_num_queries):
    settings.RESEARCH_QAC_INLINE_MAX_VALUES = 10
    for _ in range(3):
        post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}})

    with django_assert_max_num_queries(6):
        listed = owner_client.get(f"{API}/jobs/").json()

    assert listed["count"] == 3 and "result" not in listed["results"][0]


def test_usage_lists_the_institutions_own_days_and_staff_see_all(
    owner_client, stranger_client, institution, other_institution, client_for, staff, owner
):
    UsageMetrics.objects.create(institution=institution, route="jobs/", day=date(2026, 1, 5), requests=4, total_ms=8)
    stranger_client.get(f"{API}/jobs/")

    own = owner_client.get(f"{API}/usage/", {"since": "2026-01-01", "until": "2026-01-31"}).json()
    everything = client_for(staff).get(f"{API}/usage/").json()
    one = client_for(staff).get(f"{API}/usage/", {"institution": "other"}).json()

    assert [(row["institution"], row["route"], row["requests"], row["mean_ms"]) for row in own["results"]] == [
        ("tamu", "jobs/", 4, 2.0)
    ]
    assert {row["institution"] for row in everything["results"]} == {"tamu", "other"}
    assert {row["institution"] for row in one["results"]} == {"other"}
    refused = owner_client.get(f"{API}/usage/", {"institution": "other"})
    assert refused.status_code == 400 and "institution" in refused.json()["fields"]
    assert client_for(owner).get(f"{API}/usage/").status_code == 403, "not staff, no institution key"
    assert owner_client.get(f"{API}/usage/", {"since": "yesterday"}).status_code == 400


def test_health_is_anonymous_and_says_nothing_secret(anon_client, db):
    response = anon_client.get(f"{API}/health")

    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["database"]["status"] == "ready" and body["database"]["latency_ms"] >= 0
    assert body["pgvector"] and body["engines"] == ["laplace"]
    assert "postgres" not in str(body).lower() and "host" not in str(body)


def test_another_institutions_objects_are_404(owner_client, colleague_client, stranger_client, settings):
    model = post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}}).json()
    settings.RESEARCH_QAC_INLINE_MAX_VALUES = 10
    job = post_json(owner_client, "qac/fit", {"embedding": EMBEDDING, "params": {"k_nn": 3}}).json()
    JobStatus.objects.filter(pk=job["id"]).update(status="queued")
    settings.RESEARCH_QAC_INLINE_MAX_VALUES = 250_000
    model_url = f"{API}/qac/models/{model['id']}/"
    apply = {"model": model["id"], "embedding": EMBEDDING}

    for client, visible in ((owner_client, True), (colleague_client, True), (stranger_client, False)):
        assert client.get(model_url).status_code == (200 if visible else 404)
        assert client.get(job["url"]).status_code == (200 if visible else 404)
        assert (client.get(f"{API}/qac/models/").json()["count"] == 2) is visible  # the fit, the job's
        assert (client.get(f"{API}/jobs/").json()["count"] == 1) is visible
        assert post_json(client, "qac/apply", apply).status_code == (200 if visible else 404)
    assert stranger_client.post(f"{job['url']}cancel/").status_code == 404
    assert colleague_client.post(f"{job['url']}cancel/").status_code == 200
