"""Which connection failures make the backend start the embedded server: only "no server there"."""

import psycopg
import pytest

from tests.veritas.embedded_support import connect_through_backend, own_cluster, set_status
from veritas import embedded


@pytest.fixture(scope="module")
def cluster():
    with own_cluster("connect") as cluster:
        embedded.ensure_ready(cluster, "demo", timeout=60)
        with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname="demo", autocommit=True) as conn:
            conn.execute("CREATE ROLE limited LOGIN CONNECTION LIMIT 0")
            conn.execute("CREATE ROLE with_password LOGIN PASSWORD 'right'")
            hba = cluster.pgdata / "pg_hba.conf"
            hba.write_text("local all with_password scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        yield cluster


def test_a_connection_that_finds_no_server_starts_it(cluster):
    embedded.stop(cluster)
    cluster.stop_marker.unlink()  # as after a reboot: not stopped on purpose

    with connect_through_backend(cluster) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    assert embedded.server_state(cluster) == "ready"


def test_a_connection_to_a_missing_database_creates_it(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)

    with connect_through_backend(cluster, NAME="created_on_first_use") as conn:
        assert conn.info.dbname == "created_on_first_use"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"USER": "ghost"}, 'role "ghost" does not exist'),
        ({"USER": "with_password", "PASSWORD": "wrong"}, "password authentication failed"),
        ({"USER": "limited"}, "too many connections"),
    ],
    ids=["unknown-role", "wrong-password", "too-many-connections"],
)
def test_a_server_that_answers_with_an_error_is_not_waited_for(cluster, settings, overrides, message):
    """The server is up (here: still recovering, which would make a start-up wait): its
    answer is the error, at once."""
    embedded.ensure_ready(cluster, "demo", timeout=60)
    settings.VERITAS_DB_START_TIMEOUT = 1
    set_status(cluster, "starting")
    try:
        with pytest.raises(psycopg.OperationalError) as excinfo:
            connect_through_backend(cluster, **overrides)
    finally:
        set_status(cluster, "ready")

    assert message in str(excinfo.value)
    assert "VERITAS_DB_START_TIMEOUT" not in str(excinfo.value)
