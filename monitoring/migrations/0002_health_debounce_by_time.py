# Debounce by elapsed time (monitoring/services.py apply_assessment): the pending streak keeps
# the least severe proposal's severity instead of counting evaluations.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="systemhealth",
            name="pending_count",
        ),
        migrations.AddField(
            model_name="systemhealth",
            name="pending_severity",
            field=models.FloatField(blank=True, null=True),
        ),
        # A streak counted the old way has no severity: it restarts at the next evaluation.
        migrations.RunSQL(
            "UPDATE monitoring_systemhealth SET pending_status = '', pending_since = NULL WHERE pending_status <> ''",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
