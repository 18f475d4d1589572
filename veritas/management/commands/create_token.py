from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from veritas.models import PersonalToken


class Command(BaseCommand):
    help = "Create a personal API token for USER and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, username, name, expires_days, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}. Create one first (manage.py createsuperuser).") from None
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, value = PersonalToken.issue(user=user, name=name, expires_at=expires_at)
        self.stderr.write(f"Token {token.prefix} for {username}; it is shown once, store it now:")
        self.stdout.write(value)
