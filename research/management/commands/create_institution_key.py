from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from research import services
from research.models import Institution
from veritas import audit


class Command(BaseCommand):
    help = "Issue an API key for the institution SLUG and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="command line", help="What the key is for.")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, slug, name, expires_days, **options):
        institution = Institution.objects.filter(slug=slug).first()
        if institution is None:
            known = ", ".join(Institution.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise CommandError(f"No institution {slug!r} (known: {known}). Add it in the admin first.")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        with audit.command("create_institution_key"):
            key, value = services.issue_key(institution=institution, name=name, expires_at=expires_at)
        self.stderr.write(f"Key {key.prefix} for {institution.name}; it is shown once, store it now:")
        self.stdout.write(value)
