import secrets

from django.conf import settings
from django.contrib.auth import get_user_model


def seed(*, stdout) -> None:
    """A development superuser ``admin`` when there is none.

    Its password is VERITAS_ADMIN_PASSWORD, or generated and printed this once.
    """
    User = get_user_model()
    if User.objects.filter(username="admin").exists():
        stdout.write(
            "Superuser 'admin' exists (its password was printed when it was created); to set a new one: "
            ".venv/bin/python manage.py changepassword admin"
        )
        return
    password = settings.VERITAS_ADMIN_PASSWORD or secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="admin@example.com", password=password)
    if settings.VERITAS_ADMIN_PASSWORD:
        stdout.write("Created superuser 'admin' with the password from VERITAS_ADMIN_PASSWORD.")
    else:
        stdout.write(f"Created superuser 'admin' with password: {password}  (shown once; change it in the admin)")
