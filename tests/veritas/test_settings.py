from tests.helpers import run_python, settings_in_child
from veritas.embedded import cluster_for


def test_without_database_url_it_uses_the_embedded_server_under_the_data_dir(tmp_path):
    db = settings_in_child({"DATABASE_URL": None, "VERITAS_DATA_DIR": str(tmp_path)})

    assert db["ENGINE"] == "veritas.db"
    assert db["NAME"] == "veritas"
    assert db["EMBEDDED_DATA_DIR"] == str(tmp_path)
    assert db["HOST"] == str(cluster_for(tmp_path).socket_dir)
    assert db["OPTIONS"]["connect_timeout"] == 5


def test_loading_settings_starts_nothing(tmp_path):
    settings_in_child({"DATABASE_URL": None, "VERITAS_DATA_DIR": str(tmp_path / "data")})

    assert not (tmp_path / "data").exists()


def test_with_database_url_it_parses_that_server():
    url = "postgresql://alice:s3cret@db.example.com:6543/veritas_prod?sslmode=require&application_name=veritas"

    db = settings_in_child({"DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "1"})

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.example.com", 6543, "veritas_prod", "alice")
    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["OPTIONS"]["application_name"] == "veritas"
    assert db["OPTIONS"]["connect_timeout"] == 1
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True


CONNECT = """
import django
django.setup()
from django.db import connection
from django.db.utils import OperationalError
try:
    connection.ensure_connection()
except OperationalError:
    print("unreachable")
"""


def test_with_database_url_it_never_starts_the_embedded_server(tmp_path):
    # A closed port on this machine: the connection fails at once.
    env = {"DATABASE_URL": "postgresql://alice:x@127.0.0.1:9/veritas_prod", "VERITAS_DATA_DIR": str(tmp_path / "data")}

    result = run_python(CONNECT, env)

    assert "unreachable" in result.stdout
    assert not (tmp_path / "data").exists()


def test_database_url_options_pass_through_for_poolers():
    env = {
        "DATABASE_URL": "postgresql://u:p@pooler.example.com/db",
        "DB_CONN_MAX_AGE": "0",
        "DB_SSL_REQUIRE": "true",
        "DB_DISABLE_SERVER_SIDE_CURSORS": "true",
    }

    db = settings_in_child(env)

    assert db["CONN_MAX_AGE"] == 0
    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_a_malformed_setting_fails_loudly_with_its_name():
    result = run_python("import django; django.setup()", {"DB_CONNECT_TIMEOUT": "soon"})

    assert result.returncode != 0
    assert "soon" in result.stderr


def test_production_requires_a_real_secret_key():
    result = run_python("import django; django.setup()", {"DEBUG": "false", "SECRET_KEY": "short"})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


PRODUCTION = {
    "DEBUG": None,
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "veritas.example.org",
}


def test_debug_is_off_unless_it_is_set():
    assert settings_in_child(PRODUCTION, "settings.DEBUG") is False


def test_production_refuses_to_start_without_a_secret_key():
    result = run_python("import django; django.setup()", {**PRODUCTION, "SECRET_KEY": None})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_secret_key():
    dev_key = "django-insecure-development-only-never-use-in-production"
    result = run_python("import django; django.setup()", {**PRODUCTION, "SECRET_KEY": dev_key})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_python("import django; django.setup()", {**PRODUCTION, "ALLOWED_HOSTS": None})

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_a_malformed_database_url_is_refused_without_its_password():
    result = run_python("import django; django.setup()", {"DATABASE_URL": "postgresql://u:pw-5ecr3t@host:port/db"})

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "pw-5ecr3t" not in result.stderr


def test_debug_pages_never_show_the_database_url_or_its_password():
    env = {"DATABASE_URL": "postgresql://alice:pw-5ecr3t@db.example.com/veritas", "DEBUG": "true"}
    expression = (
        "repr(__import__('django.views.debug', fromlist=['x'])"
        ".get_default_exception_reporter_filter().get_safe_settings())"
    )

    safe_settings = settings_in_child(env, expression)

    assert "pw-5ecr3t" not in safe_settings
    assert "DATABASE_URL" not in safe_settings
    assert "db.example.com" in safe_settings, "the rest of DATABASES is still shown to developers"
