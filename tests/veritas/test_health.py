import json
import re
import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from tests.helpers import run_manage, run_python
from veritas import health

UNREACHABLE = {"DATABASE_URL": "postgresql://veritas:x@127.0.0.1:9/veritas", "DB_CONNECT_TIMEOUT": "2"}


def test_live_answers_without_touching_the_database(client):
    # No django_db mark: any query here would raise.
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_latency_versions_and_migrations(client):
    response = client.get("/health/ready")

    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert body["status"] == "ready"
    assert body["latency_ms"] >= 0
    assert body["server_version"].startswith("16")
    assert body["pgvector_version"].startswith("0.")
    assert body["unapplied_migrations"] == []
    assert "database" not in body, "the anonymous probe does not reveal hosts"


def test_ready_only_allows_get(client):
    assert client.post("/health/ready").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_while_a_migration_is_pending(client):
    call_command("migrate", "sessions", "zero", verbosity=0)
    health._migrations_known_applied.clear()
    try:
        response = client.get("/health/ready")
    finally:
        call_command("migrate", "sessions", verbosity=0)

    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "sessions.0001_initial" in response.json()["unapplied_migrations"]
    assert "manage.py migrate" in response.json()["reason"]


REQUESTS_WITHOUT_DATABASE = """
import json, django
django.setup()
from django.test import Client
from veritas.models import PersonalToken
client = Client(raise_request_exception=False)
client.cookies["sessionid"] = "a-staff-members-session"  # the admin must read the session table
out = {}
for name, path, headers in [
    ("ready", "/health/ready", {}),
    ("api", "/api/v1/me/", {"HTTP_AUTHORIZATION": "Bearer vtp_0123456789ab." + "s" * 43}),
    ("admin", "/admin/", {}),
]:
    r = client.get(path, **headers)
    out[name] = {"status": r.status_code, "type": r["Content-Type"], "body": r.content.decode()[:500],
                 "request_id": r.get("X-Request-ID")}
print(json.dumps(out))
"""


def test_with_the_database_unreachable_requests_answer_503_json():
    result = run_python(
        REQUESTS_WITHOUT_DATABASE,
        {
            **UNREACHABLE,
            "DEBUG": "false",
            "SECRET_KEY": "x" * 60,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
        },
    )

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("ready", "api", "admin"):
        assert out[name]["status"] == 503, (name, out[name])
        assert out[name]["type"] == "application/json"
        assert out[name]["request_id"]
    assert json.loads(out["ready"]["body"])["reason"] == "database unreachable (OperationalError)"
    api = json.loads(out["api"]["body"])
    assert api["code"] == "service_unavailable"
    assert api["request_id"] == out["api"]["request_id"]


@pytest.mark.django_db
def test_verify_database_prints_the_report(capsys):
    call_command("verify_database")

    out = capsys.readouterr().out
    assert "server:       PostgreSQL 16" in out
    assert "pgvector:     0." in out
    assert "database ok" in out


def test_verify_database_fails_with_advice_when_unreachable():
    result = run_manage(
        "verify_database", env={**UNREACHABLE, "DATABASE_URL": "postgresql://v:pw-5ecr3t@127.0.0.1:9/v"}
    )

    assert result.returncode != 0
    assert "cannot connect" in result.stderr
    assert "check the URL" in result.stderr
    assert "pw-5ecr3t" not in result.stdout + result.stderr


@pytest.fixture
def fresh_database_name():
    """A database of the embedded server that does not exist yet (as on a first `make run`)."""
    name = f"veritas_fresh_{uuid.uuid4().hex[:8]}"
    yield name
    params = connection.get_connection_params()
    with psycopg.connect(host=params["host"], user=params["user"], dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.mark.django_db
def test_verify_database_reads_clean_on_a_first_run(fresh_database_name):
    if connection.settings_dict["ENGINE"] != "veritas.db":
        pytest.skip("needs the embedded server (it creates the database)")

    result = run_manage("verify_database", "--allow-pending-migrations", env={"VERITAS_DB_NAME": fresh_database_name})

    assert result.returncode == 0, result.stderr
    assert "the first migration installs it" in result.stdout
    assert "not installed" not in result.stdout
    assert re.search(r"migrations:\s+\d+ to apply", result.stdout)
    assert "  - " not in result.stdout, "make's migrate lists them as it applies them: not twice"
