"""Running Veritas in a child process, for what one process cannot show
(another DATABASE_URL, production settings, an unreachable database)."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    child_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "veritas.settings", **(env or {})}
    for key, value in list(child_env.items()):
        if value is None:
            del child_env[key]
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=child_env, capture_output=True, text=True, timeout=timeout
    )


def run_manage(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    child_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def settings_in_child(env: dict, expression: str = "settings.DATABASES['default']"):
    """Evaluate ``expression`` on the settings loaded in a child process with ``env``."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
