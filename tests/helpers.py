"""Running Veritas in a child process, for what one process cannot show
(another DATABASE_URL, production settings, an unreachable database)."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def child_environment(env: dict | None) -> dict:
    """This process's environment with ``env`` applied; a value of None unsets. The
    developer's ``.env`` is not read (VERITAS_ENV_FILE=""), so defaults are the code's."""
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": "veritas.settings", "VERITAS_ENV_FILE": "", **(env or {})}
    merged.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests for their own process
    return {key: value for key, value in merged.items() if value is not None}


def _run(argv: list[str], env: dict | None, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=BASE_DIR, env=child_environment(env), capture_output=True, text=True, timeout=timeout
    )


def run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", code], env, timeout)


def run_manage(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return _run([sys.executable, "manage.py", *args], env, timeout)


def settings_in_child(env: dict, expression: str = "settings.DATABASES['default']"):
    """Evaluate ``expression`` on the settings loaded in a child process with ``env``."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def aged_audit_entries(*days: int):
    """Audit entries written ``days`` ago (verb ``v<days>``), for the retention tests; returns now."""
    from datetime import timedelta

    from django.utils import timezone

    from veritas.models import ActionLog

    now = timezone.now()
    ActionLog.objects.bulk_create(
        ActionLog(at=now - timedelta(days=d), actor_name="x", via="system", verb=f"v{d}", object_type="a.b")
        for d in days
    )
    return now


def synchronous_commit(cursor) -> str:
    """The session's synchronous_commit setting as the database sees it now."""
    cursor.execute("SHOW synchronous_commit")
    return cursor.fetchone()[0]
