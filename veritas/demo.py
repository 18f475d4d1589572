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


class DemoLogins:
    """An app's demo users, each created once with one password: VERITAS_ADMIN_PASSWORD, or
    generated and shown once (``password_note``) when the run created someone."""

    def __init__(self):
        self.password = settings.VERITAS_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        self.created: list[str] = []

    def user(self, username: str, **fields):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username, email=f"{username}@demo.veritas.example", password=self.password, **fields
            )
            self.created.append(username)
        return user

    @property
    def password_note(self) -> str:
        return "VERITAS_ADMIN_PASSWORD" if settings.VERITAS_ADMIN_PASSWORD else f"{self.password}  (shown once)"
