# Silence is judged by receipt time (monitoring/selectors.py last_received), kept per rollup
# row by the ingestion transaction.

from django.db import migrations, models

# Rows counted before this migration have no receipt time. Reading the logs' received_at
# would scan the whole log table; a log is received no earlier than its own hour, so the
# end of that hour (capped at now) is a fair estimate for the silence rule, which only asks
# whether the latest receipt is older than an hour or so.
BACKFILL = """
    UPDATE monitoring_logrollup SET last_received_at = least(hour + interval '1 hour', now())
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_health_retired"),
    ]

    operations = [
        migrations.AddField(
            model_name="logrollup",
            name="last_received_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="logrollup",
            name="last_received_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="logrollup",
            index=models.Index(fields=["source", "last_received_at"], name="monrollup_src_received_idx"),
        ),
    ]
