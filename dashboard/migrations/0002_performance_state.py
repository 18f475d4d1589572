"""The state that lets a write of new rows extend a performance record without reading the
group's earlier rows (dashboard/performance.py, merge_inserted); and no separate index on
the assessments' student (the composite indexes start with it); room on the records' pages
for their updates."""

from django.db import migrations, models

STATE = {
    "last_id": (models.BigIntegerField, "The latest assessment's id (ties of taken_at go by id)."),
    "pct_sum": (models.FloatField, "Sum of the percentages."),
    "mastery_count": (models.PositiveIntegerField, "How many percentages are at or above the threshold."),
    "mastery_sum": (models.FloatField, "Their sum."),
    "day_sum": (models.FloatField, "Sum of the days (taken_at as days since 1970)."),
    "day_sxx": (models.FloatField, "Centred sum of squares of the days."),
    "day_sxy": (models.FloatField, "Centred sum of products of days and percentages."),
}


def fill_state(apps, schema_editor):
    # Records are derived data: recompute them (state included) from the assessment rows.
    # This calls the code of the version that added the state; only a database that has
    # records runs it.
    if apps.get_model("dashboard", "PerformanceRecord").objects.exists():
        from dashboard import performance

        performance.rebuild()
        # Fire the records' deferred foreign-key checks now: a table with pending trigger
        # events cannot be altered in the same transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]

    operations = [
        # Every write of a group's assessments updates its record, and no indexed column of
        # it: with room on the page, the update is HOT (no index entries, the old version
        # pruned in place) rather than a new tuple elsewhere and one in every index.
        migrations.RunSQL(
            "ALTER TABLE dashboard_performancerecord SET (fillfactor = 50)",
            "ALTER TABLE dashboard_performancerecord RESET (fillfactor)",
        ),
        *(
            migrations.AddField("performancerecord", name, field(null=True, help_text=text))
            for name, (field, text) in STATE.items()
        ),
        migrations.RunPython(fill_state, migrations.RunPython.noop, elidable=True),
        *(
            migrations.AlterField("performancerecord", name, field(help_text=text))
            for name, (field, text) in STATE.items()
        ),
        migrations.AlterField(
            model_name="assessmentlog",
            name="student",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="assessments",
                to="dashboard.student",
            ),
        ),
    ]
