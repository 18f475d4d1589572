import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import timezone

from monitoring import selectors
from monitoring.ingest import LogEntry, ingest
from monitoring.models import LogRollup, MonitoringLog, MonitoringResult, SystemHealth

pytestmark = pytest.mark.django_db


def ndjson(*rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


GOOD = {"source": "batch", "level": "info", "message": "ok", "timestamp": "2026-11-20T10:00:00Z"}


class TestImportLogs:
    def test_it_imports_ndjson_and_summarises(self, tmp_path, capsys):
        path = tmp_path / "logs.ndjson"
        path.write_text(ndjson(*({**GOOD, "event_id": f"e{i}"} for i in range(25))))

        call_command("import_logs", str(path), "--batch-size", "10")

        assert MonitoringLog.objects.count() == 25
        assert "read 25 rows: 25 inserted, 0 duplicates, 0 invalid" in capsys.readouterr().out

    def test_a_second_import_of_the_same_file_inserts_nothing(self, tmp_path, capsys):
        path = tmp_path / "logs.ndjson"
        path.write_text(ndjson(*({**GOOD, "event_id": f"e{i}"} for i in range(5))))
        call_command("import_logs", str(path))

        call_command("import_logs", str(path))

        assert MonitoringLog.objects.count() == 5
        assert "0 inserted, 5 duplicates" in capsys.readouterr().out.splitlines()[-1]

    def test_it_imports_csv(self, tmp_path):
        path = tmp_path / "logs.csv"
        path.write_text(
            "source,level,message,timestamp,metadata,event_id\n"
            'api,error,"boom, twice",2026-11-20T10:00:00Z,"{""code"": 500}",x1\n'
            "api,info,fine,,,\n"
        )

        call_command("import_logs", str(path))

        logs = {log.message: log for log in MonitoringLog.objects.all()}
        assert logs["boom, twice"].metadata == {"code": 500}
        assert logs["boom, twice"].event_id == "x1"
        assert logs["fine"].event_id is None

    def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported(self, tmp_path, capsys):
        path = tmp_path / "logs.ndjson"
        path.write_text(ndjson(GOOD, GOOD) + "\n" + ndjson({**GOOD, "level": "loud"}) + "{broken\n")

        with pytest.raises(CommandError, match="2 invalid rows: nothing was imported"):
            call_command("import_logs", str(path), "--batch-size", "1")

        err = capsys.readouterr().err
        assert "line 4: level: Input should be" in err
        assert "line 5: row: Not valid JSON." in err
        assert MonitoringLog.objects.count() == 0
        assert LogRollup.objects.count() == 0

    def test_skip_invalid_imports_the_rest(self, tmp_path, capsys):
        path = tmp_path / "logs.ndjson"
        path.write_text(ndjson(GOOD, {**GOOD, "level": "loud"}, GOOD))

        call_command("import_logs", str(path), "--skip-invalid")

        assert MonitoringLog.objects.count() == 2
        assert "1 invalid (skipped)" in capsys.readouterr().out

    def test_it_reads_standard_input(self, monkeypatch):
        stdin = io.TextIOWrapper(io.BytesIO(ndjson(GOOD).encode()))
        monkeypatch.setattr("sys.stdin", stdin)

        call_command("import_logs", "-")

        assert MonitoringLog.objects.count() == 1

    def test_a_missing_file_is_an_error(self):
        with pytest.raises(CommandError, match="No such file"):
            call_command("import_logs", "/nonexistent/logs.ndjson")


class TestPrune:
    @pytest.fixture
    def logs(self):
        now = timezone.now()
        ingest(
            [
                LogEntry(source=s, level=lv, message="m", timestamp=now - timedelta(days=d, minutes=7 * i))
                for d in (1, 50, 100, 200)
                for i, (s, lv) in enumerate([("api", "info"), ("api", "error"), ("db", "warning")] * 4)
            ]
        )
        MonitoringResult.objects.create(
            source="api",
            window_start=now - timedelta(days=120),
            window_end=now - timedelta(days=120),
            counts={},
            total=0,
            error_rate=0,
            severity=0,
            status="NORMAL",
            thresholds={},
            evaluated_at=now - timedelta(days=120),
        )

    @pytest.mark.usefixtures("logs")
    def test_dry_run_deletes_nothing(self, capsys):
        call_command("prune_monitoring", "--older-than", "90d", "--dry-run")

        assert "would delete 24 logs and 1 evaluation results" in capsys.readouterr().out
        assert MonitoringLog.objects.count() == 48

    @pytest.mark.usefixtures("logs")
    def test_it_deletes_in_batches_and_statistics_stay_exact(self, capsys):
        call_command("prune_monitoring", "--older-than", "90d", "--batch-size", "5")

        assert "deleted 24 logs and 1 evaluation results" in capsys.readouterr().out
        assert MonitoringLog.objects.count() == 24
        assert not MonitoringLog.objects.filter(timestamp__lt=timezone.now() - timedelta(days=90)).exists()
        stats = selectors.statistics()
        direct = dict(MonitoringLog.objects.values_list("level").annotate(n=Count("id")).order_by())
        assert stats.total == 24
        assert {k: v for k, v in stats.by_level.items() if v} == direct
        assert not LogRollup.objects.filter(count=0).exists()

    @pytest.mark.parametrize("age", ["90", "0d", "soon", "-3d"])
    def test_a_bad_age_is_refused(self, age):
        with pytest.raises(CommandError, match="positive age"):
            call_command("prune_monitoring", f"--older-than={age}")


class TestEvaluateHealth:
    def test_it_evaluates_and_prints_the_overall_status(self, capsys):
        ingest([LogEntry(source="api", level="info", message="ok", timestamp=datetime.now(UTC)) for _ in range(20)])

        call_command("evaluate_health")

        out = capsys.readouterr().out
        assert "api: UNKNOWN → NORMAL" in out
        assert "overall: NORMAL" in out
        assert SystemHealth.objects.get().status == "NORMAL"

    def test_it_can_enqueue_for_the_worker(self, capsys):
        call_command("evaluate_health", "--enqueue")

        assert "queued task" in capsys.readouterr().out
