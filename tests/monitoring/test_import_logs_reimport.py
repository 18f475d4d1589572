"""import_logs run twice on a file without event_ids: it warns, and --derive-event-ids makes
re-runs idempotent."""

import json

import pytest
from django.core.management import call_command

from monitoring.ingest import LogEntry, derive_event_id
from monitoring.models import LogRollup, MonitoringLog

pytestmark = pytest.mark.django_db
ROWS = [
    {"source": "batch", "level": "info", "message": f"job {i} done", "timestamp": f"2026-11-20T10:0{i}:00Z"}
    for i in range(5)
]


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "logs.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


def import_logs(path, capsys, *options):
    call_command("import_logs", str(path), *options)
    return capsys.readouterr()


def test_a_first_import_does_not_warn(path, capsys):
    assert "warning" not in import_logs(path, capsys).err


def test_importing_the_same_file_again_warns_that_rows_are_doubled(path, capsys):
    import_logs(path, capsys)

    second = import_logs(path, capsys)

    assert "warning: 5 of the first 5 rows without event_id are already stored" in second.err
    assert "use --derive-event-ids" in second.err
    assert MonitoringLog.objects.count() == 10, "a warning, not a refusal"


def test_derived_event_ids_make_a_second_import_insert_nothing(path, capsys):
    import_logs(path, capsys, "--derive-event-ids")

    second = import_logs(path, capsys, "--derive-event-ids")

    assert "read 5 rows: 0 inserted, 5 duplicates" in second.out
    assert "warning" not in second.err
    assert MonitoringLog.objects.count() == 5
    assert sum(LogRollup.objects.values_list("count", flat=True)) == 5
    assert all(event_id.startswith("sha256:") for event_id in MonitoringLog.objects.values_list("event_id", flat=True))


def test_derived_ids_cannot_recognise_rows_imported_without_them(path, capsys):
    import_logs(path, capsys)

    second = import_logs(path, capsys, "--derive-event-ids")

    assert "stored without event_id, so derived ids cannot recognise them" in second.err


def test_it_works_for_csv_too(tmp_path, capsys):
    path = tmp_path / "logs.csv"
    path.write_text("source,level,message,timestamp\nbatch,info,done,2026-11-20T10:00:00Z\n")
    import_logs(path, capsys, "--derive-event-ids")

    assert "0 inserted, 1 duplicates" in import_logs(path, capsys, "--derive-event-ids").out


def test_client_event_ids_are_kept_and_rows_without_a_timestamp_get_none(tmp_path, capsys):
    path = tmp_path / "logs.ndjson"
    rows = [{**ROWS[0], "event_id": "mine"}, {"source": "batch", "level": "info", "message": "now"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    import_logs(path, capsys, "--derive-event-ids")

    assert set(MonitoringLog.objects.values_list("event_id", flat=True)) == {"mine", None}


class TestTheDerivedId:
    def entry(self, **overrides):
        return LogEntry.model_validate_json(json.dumps({**ROWS[0], "metadata": {"a": 1, "b": [2]}, **overrides}))

    def test_the_same_moment_at_another_offset_is_the_same_row(self):
        assert derive_event_id(self.entry()) == derive_event_id(self.entry(timestamp="2026-11-20T12:00:00+02:00"))

    def test_the_order_of_metadata_keys_does_not_matter(self):
        assert derive_event_id(self.entry()) == derive_event_id(self.entry(metadata={"b": [2], "a": 1}))

    @pytest.mark.parametrize(
        "change",
        [
            {"source": "other"},
            {"level": "error"},
            {"message": "x"},
            {"timestamp": "2026-11-20T10:00:01Z"},
            {"metadata": {}},
        ],
    )
    def test_any_other_difference_is_another_row(self, change):
        assert derive_event_id(self.entry()) != derive_event_id(self.entry(**change))

    def test_it_fits_the_event_id_column(self):
        assert len(derive_event_id(self.entry())) <= MonitoringLog._meta.get_field("event_id").max_length
