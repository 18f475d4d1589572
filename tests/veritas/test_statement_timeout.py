from tests.helpers import run_python

SHOW = """
import django
django.setup()
{setup}
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    print(cursor.fetchone()[0])
"""


def test_web_processes_bound_their_statements():
    result = run_python(SHOW.format(setup="import veritas.wsgi"), {"DB_STATEMENT_TIMEOUT_SECONDS": "2.5"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2500ms"


def test_commands_and_workers_are_not_bounded():
    result = run_python(SHOW.format(setup=""), {"DB_STATEMENT_TIMEOUT_SECONDS": "2.5"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"


def test_zero_turns_it_off_for_web_processes_too():
    result = run_python(SHOW.format(setup="import veritas.wsgi"), {"DB_STATEMENT_TIMEOUT_SECONDS": "0"})

    assert result.stdout.strip().splitlines()[-1] == "0"
