"""The embedded server's life cycle, on a cluster of its own in a temporary folder."""

import os
import signal
import threading
import time

import psycopg
import pytest

from veritas import embedded


def test_the_socket_lives_in_the_data_folder_when_the_path_is_short():
    cluster = embedded.cluster_for("/srv/veritas/.data")

    assert cluster.socket_dir == cluster.pgdata


def test_the_socket_moves_to_tmp_when_the_data_folder_path_is_too_long():
    cluster = embedded.cluster_for("/srv/" + "deep/" * 30 + ".data")

    assert str(cluster.socket_dir).startswith("/tmp/veritas-pg-")
    assert cluster.socket_dir == embedded.cluster_for("/srv/" + "deep/" * 30 + ".data").socket_dir


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = embedded.cluster_for(tmp_path_factory.mktemp("embedded"))
    yield cluster
    embedded.stop(cluster)


def _select_one(cluster, dbname="demo"):
    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname=dbname, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def test_it_initialises_starts_and_creates_the_database(cluster):
    assert embedded.server_state(cluster) == "absent"

    embedded.ensure_ready(cluster, "demo", timeout=60)

    assert embedded.server_state(cluster) == "ready"
    assert _select_one(cluster) == 1


def test_a_second_call_reuses_the_running_server(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    pid_before = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])

    embedded.ensure_ready(cluster, "demo", timeout=60)

    assert int((cluster.pgdata / "postmaster.pid").read_text().split()[0]) == pid_before


def test_data_survives_a_restart(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname="demo", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    assert embedded.stop(cluster)
    assert embedded.server_state(cluster) == "stopped"
    embedded.ensure_ready(cluster, "demo", timeout=60)

    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname="demo") as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == 42


def test_it_recovers_from_a_crash_that_left_a_stale_lock(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    pid = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    while embedded._is_our_postmaster(pid, cluster.pgdata):
        time.sleep(0.05)
    # The pid in the lock file now belongs to a live process that is not PostgreSQL
    # (as after a reboot that reused it): PostgreSQL itself would refuse to start.
    lock = cluster.pgdata / "postmaster.pid"
    lines = lock.read_text().splitlines()
    lines[0] = str(os.getpid())
    lock.write_text("\n".join(lines) + "\n")
    assert embedded.server_state(cluster) == "stale"

    embedded.ensure_ready(cluster, "demo", timeout=60)

    assert embedded.server_state(cluster) == "ready"
    assert _select_one(cluster) == 1


def test_a_server_that_cannot_start_says_why(tmp_path):
    cluster = embedded.cluster_for(tmp_path)
    embedded.ensure_ready(cluster, "demo", timeout=60)
    embedded.stop(cluster)
    (cluster.pgdata / "postgresql.conf").write_text("shared_buffers = 'not a size'\n")

    with pytest.raises(embedded.EmbeddedDatabaseError) as excinfo:
        embedded.ensure_ready(cluster, "demo", timeout=30)

    message = str(excinfo.value)
    assert "did not start" in message
    assert "shared_buffers" in message


def _set_status(cluster, status):
    lock = cluster.pgdata / "postmaster.pid"
    lines = lock.read_text().splitlines()
    lines[7] = status
    lock.write_text("\n".join(lines) + "\n")


def test_a_server_still_recovering_is_waited_for(cluster):
    """A server replaying its WAL says 'starting' in postmaster.pid; pgserver's own start
    would give up after 10 s, Veritas waits until it is ready."""
    embedded.ensure_ready(cluster, "demo", timeout=60)
    _set_status(cluster, "starting")
    timer = threading.Timer(1.5, _set_status, args=(cluster, "ready"))
    timer.start()
    started = time.monotonic()

    embedded.ensure_ready(cluster, "demo", timeout=30)

    timer.join()
    assert time.monotonic() - started >= 1.4
    assert embedded.server_state(cluster) == "ready"


def test_a_recovery_longer_than_the_timeout_says_what_to_do(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    _set_status(cluster, "starting")
    try:
        with pytest.raises(embedded.EmbeddedDatabaseError, match="VERITAS_DB_START_TIMEOUT"):
            embedded.ensure_ready(cluster, "demo", timeout=1)
    finally:
        _set_status(cluster, "ready")
