"""The embedded server's socket is reachable by its own OS user only, wherever it lives."""

import os
import pwd
import shutil
import signal
import socket
import stat

import psycopg
import pytest

from tests.veritas.embedded_support import connect_through_backend, own_cluster, select_one
from veritas import embedded

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can act as another local user")
# A data folder whose path is too long for a socket: the socket goes to /tmp.
LONG_DATA_DIR = "deep-" * 20


def _remove(path):
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def long_cluster():
    with own_cluster("long", LONG_DATA_DIR) as cluster:
        yield cluster
    _remove(cluster.socket_dir)


@pytest.fixture
def unstarted_long_cluster():
    with own_cluster("squatted", LONG_DATA_DIR) as cluster:
        yield cluster
    _remove(cluster.socket_dir)
    _remove(_link_target(cluster.socket_dir))


def test_a_socket_in_tmp_is_in_a_folder_private_to_the_servers_user(long_cluster):
    embedded.ensure_ready(long_cluster, "demo", timeout=60)

    info = os.lstat(long_cluster.socket_dir)
    assert str(long_cluster.socket_dir).startswith("/tmp/")
    assert stat.S_ISDIR(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == pwd.getpwnam(embedded.server_user()).pw_uid
    assert select_one(long_cluster) == 1


def test_clients_accept_only_a_server_running_as_the_servers_user(long_cluster):
    embedded.ensure_ready(long_cluster, "demo", timeout=60)

    with connect_through_backend(long_cluster) as conn:
        assert conn.info.get_parameters()["requirepeer"] == embedded.server_user()
    with pytest.raises(psycopg.OperationalError, match="requirepeer"):
        psycopg.connect(host=str(long_cluster.socket_dir), user="postgres", dbname="demo", requirepeer="nobody")


def _open_to_everyone(path):
    path.mkdir()
    path.chmod(0o777)


def _link_target(path):
    return path.with_name(path.name + "-target")


def _a_link_to_a_folder_of_ours(path):
    target = _link_target(path)
    target.mkdir(mode=0o700)
    path.symlink_to(target)


def _another_users_private_folder(path):
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)


@pytest.mark.parametrize(
    "squat",
    [
        _open_to_everyone,
        _a_link_to_a_folder_of_ours,
        pytest.param(_another_users_private_folder, marks=needs_root),
    ],
    ids=["open", "symlink", "another-user"],
)
def test_a_squatted_socket_folder_is_refused_never_opened(unstarted_long_cluster, squat):
    socket_dir = unstarted_long_cluster.socket_dir
    squat(socket_dir)
    before = os.lstat(socket_dir)

    with pytest.raises(embedded.EmbeddedDatabaseError, match=f"rm -r {socket_dir}"):
        embedded.ensure_ready(unstarted_long_cluster, "demo", timeout=5)

    after = os.lstat(socket_dir)
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
    assert not (unstarted_long_cluster.pgdata / "PG_VERSION").exists()


def _listen_as(uid: int, path: str) -> int:
    """A process of user ``uid`` listening on the Unix socket ``path``: an impostor."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.setgid(uid)
            os.setuid(uid)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            server.listen()
            os.write(ready_write, b"1")
            while True:
                server.accept()[0].close()
        finally:
            os._exit(0)
    os.close(ready_write)
    os.read(ready_read, 1)
    os.close(ready_read)
    return pid


@needs_root
# The forked child only changes user and serves a socket before os._exit: none of the
# locks other threads may hold is touched. (No interpreter of this venv is open to nobody.)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_a_socket_of_another_user_is_never_connected_to_nor_replaced(unstarted_long_cluster):
    """Another local user made the socket folder first and listens in it, posing as the database."""
    socket_dir = unstarted_long_cluster.socket_dir
    _open_to_everyone(socket_dir)
    os.chown(socket_dir, 65534, 65534)
    impostor = _listen_as(65534, str(socket_dir / embedded.SOCKET_NAME))
    try:
        with pytest.raises(psycopg.OperationalError, match="requirepeer"):
            connect_through_backend(unstarted_long_cluster)
    finally:
        os.kill(impostor, signal.SIGKILL)
        os.waitpid(impostor, 0)

    assert embedded.server_state(unstarted_long_cluster) == "absent"
