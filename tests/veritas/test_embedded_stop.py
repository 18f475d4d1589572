"""`make db-stop` sticks: nothing restarts the embedded server but an explicit start."""

import json
import os

import psycopg
import pytest

from tests.helpers import run_manage, run_python
from tests.veritas.embedded_support import connect_through_backend, own_cluster, select_one
from veritas import embedded


@pytest.fixture(scope="module")
def cluster():
    with own_cluster("stop") as cluster:
        yield cluster


@pytest.fixture
def stopped(cluster):
    embedded.start(cluster, "demo", timeout=60)
    embedded.stop(cluster)
    return cluster


def test_a_connection_does_not_restart_a_stopped_server(stopped):
    with pytest.raises(psycopg.OperationalError) as excinfo:
        connect_through_backend(stopped)

    assert "stopped with `make db-stop`" in str(excinfo.value)
    assert "embedded_db start" in str(excinfo.value)
    assert embedded.server_state(stopped) == "stopped"


REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client()
client.cookies["sessionid"] = "a-staff-members-session"  # the admin must read the session table
out = {}
for name, path, headers in [
    ("api", "/api/v1/me/", {"HTTP_AUTHORIZATION": "Bearer vtp_0123456789ab." + "s" * 43}),
    ("admin", "/admin/", {}),
]:
    r = client.get(path, **headers)
    out[name] = {"status": r.status_code, "body": r.content.decode()[:500]}
print(json.dumps(out))
"""


def test_requests_to_a_stopped_server_answer_503(stopped):
    result = run_python(REQUESTS, {"DATABASE_URL": None, "VERITAS_DATA_DIR": str(stopped.data_dir)})

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["api"]["status"] == 503
    assert json.loads(out["api"]["body"])["code"] == "service_unavailable"
    assert out["admin"]["status"] == 503
    assert embedded.server_state(stopped) == "stopped"


def test_an_explicit_start_lifts_the_stop(stopped):
    embedded.start(stopped, "demo", timeout=60)

    assert not stopped.stop_marker.exists()
    with connect_through_backend(stopped) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_stopping_a_server_that_is_not_running_keeps_it_stopped(stopped):
    report = embedded.stop(stopped)

    assert not report.was_running
    assert stopped.stop_marker.exists()


def test_stop_names_the_connections_it_closes(cluster):
    embedded.start(cluster, "demo", timeout=60)
    through_django = connect_through_backend(cluster)
    by_hand = psycopg.connect(
        host=str(cluster.socket_dir), user="postgres", dbname="demo", application_name="nightly report"
    )
    try:
        report = embedded.stop(cluster)
    finally:
        through_django.close()
        by_hand.close()

    assert report.was_running
    closed = "\n".join(report.closed_connections)
    assert "nightly report on database demo" in closed
    assert f"veritas pid {os.getpid()}" in closed


def test_the_command_stops_for_good_and_starts_again(cluster):
    embedded.start(cluster, "demo", timeout=60)
    env = {"DATABASE_URL": None, "VERITAS_DATA_DIR": str(cluster.data_dir), "VERITAS_DB_NAME": "demo"}

    stopped = run_manage("embedded_db", "stop", env=env)
    status = run_manage("embedded_db", "status", env=env)
    started = run_manage("embedded_db", "start", env=env)

    assert stopped.returncode == 0, stopped.stderr
    assert "stays stopped (requests get 503) until `make run`" in stopped.stdout
    assert "stopped with `make db-stop`" in status.stdout
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("ready:")
    assert select_one(cluster) == 1


def test_make_starts_the_embedded_server_only_when_there_is_one():
    external = {"DATABASE_URL": "postgresql://u:p@127.0.0.1:9/db"}

    quiet = run_manage("embedded_db", "start", "--if-embedded", env=external)
    refused = run_manage("embedded_db", "start", env=external)

    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert refused.returncode != 0
    assert "DATABASE_URL is set" in refused.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only under root does the server run as another user")
def test_stop_works_when_a_parent_folder_was_closed_since_the_start(cluster):
    """Under root, pg_ctl runs as pgserver and must reach the data folder; pytest itself,
    for one, closes /tmp/pytest-of-root again (0700) whenever another session starts."""
    embedded.start(cluster, "demo", timeout=60)
    cluster.data_dir.chmod(0o700)

    assert embedded.stop(cluster).was_running
    assert embedded.server_state(cluster) == "stopped"
