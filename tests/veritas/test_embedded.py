"""The embedded server's life cycle, on a cluster of its own in a temporary folder."""

import os
import signal
import threading
import time

import psutil
import psycopg
import pytest

from tests.veritas.embedded_support import own_cluster, select_one, set_status
from veritas import embedded


def test_the_socket_lives_in_the_data_folder_when_the_path_is_short():
    cluster = embedded.cluster_for("/srv/veritas/.data")

    assert cluster.socket_dir == cluster.pgdata


def test_the_socket_moves_to_tmp_when_the_data_folder_path_is_too_long():
    cluster = embedded.cluster_for("/srv/" + "deep/" * 30 + ".data")

    assert str(cluster.socket_dir).startswith(f"/tmp/veritas-pg-{os.geteuid()}-")
    assert cluster.socket_dir == embedded.cluster_for("/srv/" + "deep/" * 30 + ".data").socket_dir


@pytest.fixture(scope="module")
def cluster():
    # A space in the path: pg_ctl passes the socket folder through a shell.
    with own_cluster("embedded", "data folder") as cluster:
        yield cluster


def test_it_initialises_starts_and_creates_the_database(cluster):
    assert embedded.server_state(cluster) == "absent"

    embedded.ensure_ready(cluster, "demo", timeout=60)

    assert embedded.server_state(cluster) == "ready"
    assert select_one(cluster) == 1


def test_a_data_folder_with_a_space_in_its_path_works(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)

    assert " " in str(cluster.socket_dir)
    assert select_one(cluster) == 1


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

    assert embedded.stop(cluster).was_running
    assert embedded.server_state(cluster) == "stopped"
    embedded.start(cluster, "demo", timeout=60)

    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname="demo") as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == 42


def test_a_server_is_known_by_the_data_folder_it_works_in(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    pid = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])

    assert embedded._identify(pid, cluster.pgdata) == "ours"
    # To another cluster whose stale lock names this pid, it is just some other process.
    assert embedded._identify(pid, cluster.pgdata.with_name("elsewhere")) == "gone"


def test_it_recovers_from_a_crash_that_left_a_stale_lock(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    pid = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    while embedded._identify(pid, cluster.pgdata) == "ours":
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
    assert select_one(cluster) == 1


@pytest.fixture
def another_cluster():
    with own_cluster("another") as cluster:
        yield cluster


def test_a_server_that_cannot_start_says_why(another_cluster):
    cluster = another_cluster
    embedded.ensure_ready(cluster, "demo", timeout=60)
    embedded.stop(cluster)
    (cluster.pgdata / "postgresql.conf").write_text("shared_buffers = 'not a size'\n")

    with pytest.raises(embedded.EmbeddedDatabaseError) as excinfo:
        embedded.start(cluster, "demo", timeout=30)

    message = str(excinfo.value)
    assert "did not start" in message
    assert "shared_buffers" in message


def test_a_server_still_recovering_is_waited_for(cluster):
    """A server replaying its WAL says 'starting' in postmaster.pid; pgserver's own start
    would give up after 10 s, Veritas waits until it is ready."""
    embedded.ensure_ready(cluster, "demo", timeout=60)
    set_status(cluster, "starting")
    timer = threading.Timer(1.5, set_status, args=(cluster, "ready"))
    timer.start()
    started = time.monotonic()

    embedded.ensure_ready(cluster, "demo", timeout=30)

    timer.join()
    assert time.monotonic() - started >= 1.4
    assert embedded.server_state(cluster) == "ready"


def test_a_recovery_longer_than_the_timeout_says_what_to_do(cluster):
    embedded.ensure_ready(cluster, "demo", timeout=60)
    set_status(cluster, "starting")
    try:
        with pytest.raises(embedded.EmbeddedDatabaseError, match="VERITAS_DB_START_TIMEOUT"):
            embedded.ensure_ready(cluster, "demo", timeout=1)
    finally:
        set_status(cluster, "ready")


def test_a_server_whose_socket_is_elsewhere_says_to_restart_it(cluster):
    """A server started by an older Veritas (or by hand) may listen where this one does not look."""
    embedded.ensure_ready(cluster, "demo", timeout=60)
    set_status(cluster, "/tmp/veritas-pg-old", line=4)
    try:
        with pytest.raises(embedded.EmbeddedDatabaseError, match="make db-stop") as excinfo:
            embedded.ensure_ready(cluster, "demo", timeout=5)
    finally:
        set_status(cluster, str(cluster.socket_dir), line=4)

    assert "/tmp/veritas-pg-old" in str(excinfo.value)


class _AnotherUsersProcess:
    """What psutil gives for a live process of another user when /proc hides its details."""

    def __init__(self, pid):
        self.pid = pid

    def status(self):
        return psutil.STATUS_SLEEPING

    def name(self):
        return "postgres"

    def cwd(self):
        raise psutil.AccessDenied(self.pid)

    def cmdline(self):
        raise psutil.AccessDenied(self.pid)


@pytest.fixture
def lock_of_another_user(tmp_path, monkeypatch):
    """A cluster whose postmaster.pid names a live process Veritas may not inspect."""
    cluster = embedded.cluster_for(tmp_path)
    cluster.pgdata.mkdir(parents=True)
    (cluster.pgdata / "PG_VERSION").write_text("16\n")
    (cluster.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{cluster.pgdata}\n0\n5432\n\n\n0 0\nready\n")
    monkeypatch.setattr(psutil, "Process", _AnotherUsersProcess)
    return cluster


def test_a_lock_of_a_process_it_cannot_inspect_is_not_called_stale(lock_of_another_user):
    assert embedded.server_state(lock_of_another_user) == "unknown"


@pytest.mark.parametrize(
    "action",
    [
        lambda cluster: embedded.ensure_ready(cluster, "demo", timeout=5),
        lambda cluster: embedded.stop(cluster),
    ],
    ids=["start", "stop"],
)
def test_a_lock_of_a_process_it_cannot_inspect_is_left_alone(lock_of_another_user, action):
    with pytest.raises(embedded.EmbeddedDatabaseError) as excinfo:
        action(lock_of_another_user)

    assert f"process {os.getpid()}" in str(excinfo.value)
    assert (lock_of_another_user.pgdata / "postmaster.pid").exists()


def test_a_data_folder_pg_ctl_cannot_quote_is_refused_with_advice(tmp_path):
    cluster = embedded.cluster_for(tmp_path / "price$HOME")

    with pytest.raises(embedded.EmbeddedDatabaseError, match="VERITAS_DATA_DIR"):
        embedded.ensure_ready(cluster, "demo", timeout=5)

    assert not (cluster.pgdata / "PG_VERSION").exists()
