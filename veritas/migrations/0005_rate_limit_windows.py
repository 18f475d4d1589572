# One row per rate-limited key with a count per window (veritas/ratelimit.py), in place of a
# row per key and window. The counters are transient: the old rows are dropped, not converted.

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("veritas", "0004_actionlog"),
    ]

    operations = [
        migrations.DeleteModel(name="RateLimitCounter"),
        migrations.CreateModel(
            name="RateLimitCounter",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                (
                    "window_starts",
                    django.contrib.postgres.fields.ArrayField(base_field=models.DateTimeField(), size=None),
                ),
                (
                    "counts",
                    django.contrib.postgres.fields.ArrayField(base_field=models.PositiveIntegerField(), size=None),
                ),
                ("admitted", models.BooleanField()),
            ],
        ),
    ]
