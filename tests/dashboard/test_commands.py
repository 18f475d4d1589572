"""The dashboard's operator commands and prune_actions: happy paths, line-numbered errors
with nothing written, --skip-invalid, --check's exit status, and one audit entry per
command run marked via="command"."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dashboard import performance
from dashboard.models import AssessmentLog, ConceptModule, PerformanceRecord, Student
from tests.helpers import aged_audit_entries, run_manage
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db

STUDENTS_HEADER = "external_id,name,email,is_active\n"
ASSESSMENTS_HEADER = "student,kind,subject,score,max_score,taken_at,concept_modules,comment\n"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def command_entries() -> list[ActionLog]:
    return list(ActionLog.objects.filter(via=ActionLog.Via.COMMAND).order_by("id"))


class TestImportStudents:
    def test_it_imports_and_summarises(self, tmp_path, capsys):
        path = write(
            tmp_path,
            "students.csv",
            STUDENTS_HEADER + "s101,Grace Hopper,grace@example.com,\ns102,Alan Turing,alan@example.com,false\n",
        )

        call_command("import_students", path)

        assert "read 2 rows: 2 students created, 0 invalid" in capsys.readouterr().out
        assert dict(Student.objects.values_list("external_id", "is_active")) == {"s101": True, "s102": False}
        (entry,) = command_entries()
        assert (entry.verb, entry.object_type) == ("import", "dashboard.student")
        assert entry.changes["counts"] == {"rows": 2, "created": 2, "students": 2, "invalid": 0}
        assert entry.actor is None and entry.actor_name.endswith("(manage.py import_students)")

    def test_it_adds_them_to_a_cohort(self, tmp_path, cohort, capsys):
        path = write(tmp_path, "students.csv", STUDENTS_HEADER + "s101,Grace Hopper,grace@example.com,\n")

        call_command("import_students", path, "--cohort", str(cohort.pk))

        assert list(cohort.students.values_list("external_id", flat=True)) == ["s101"]
        assert f"into {cohort}" in capsys.readouterr().out
        assert command_entries()[0].changes["cohort"] == cohort.pk

    def test_an_unknown_cohort_is_refused(self, tmp_path):
        path = write(tmp_path, "students.csv", STUDENTS_HEADER + "s101,Grace Hopper,grace@example.com,\n")

        with pytest.raises(CommandError, match="No cohort with id 999999"):
            call_command("import_students", path, "--cohort", "999999")
        assert not Student.objects.exists()

    def test_bad_lines_are_named_and_nothing_is_imported(self, tmp_path, student, capsys):
        path = write(
            tmp_path,
            "students.csv",
            STUDENTS_HEADER
            + "s101,Grace Hopper,grace@example.com,\n"
            + "s102,Alan Turing,not-an-email,\n"
            + "s001,Someone,someone@example.com,\n"  # the external id is taken
            + "s103,Grace Again,GRACE@example.com,\n",  # repeats line 2's email
        )

        with pytest.raises(CommandError, match="3 invalid rows: nothing was imported"):
            call_command("import_students", path)

        err = capsys.readouterr().err.splitlines()
        assert err == [
            "line 3: email: Enter a valid email address.",
            "line 4: external_id: A student 's001' exists already.",
            "line 5: email: Repeats line 2.",
        ]
        assert list(Student.objects.values_list("external_id", flat=True)) == ["s001"]
        assert not command_entries()

    def test_skip_invalid_imports_the_rest(self, tmp_path, capsys):
        path = write(
            tmp_path,
            "students.csv",
            STUDENTS_HEADER + "s101,Grace Hopper,grace@example.com,\ns102,,alan@example.com,\n",
        )

        call_command("import_students", path, "--skip-invalid")

        captured = capsys.readouterr()
        assert "read 2 rows: 1 students created, 1 invalid (skipped)" in captured.out
        assert captured.err == "line 3: name: Field required\n"  # an empty cell is a missing value
        assert list(Student.objects.values_list("external_id", flat=True)) == ["s101"]
        assert command_entries()[0].changes["counts"]["invalid"] == 1

    def test_it_reads_standard_input(self, monkeypatch):
        stdin = io.TextIOWrapper(io.BytesIO((STUDENTS_HEADER + "s101,Grace,grace@example.com,\n").encode()))
        monkeypatch.setattr("sys.stdin", stdin)

        call_command("import_students", "-")

        assert Student.objects.filter(external_id="s101").exists()
        assert not stdin.closed

    def test_a_missing_file_and_a_file_not_in_utf8_are_errors(self, tmp_path):
        with pytest.raises(CommandError, match="No such file"):
            call_command("import_students", str(tmp_path / "none.csv"))
        latin = tmp_path / "latin.csv"
        latin.write_bytes((STUDENTS_HEADER + "s101,Ren\xe9e,renee@example.com,\n").encode("latin-1"))
        with pytest.raises(CommandError, match="not UTF-8"):
            call_command("import_students", str(latin))
        assert not Student.objects.exists()


@pytest.fixture
def algebra():
    return ConceptModule.objects.create(subject="Math", code="ALG1", name="Algebra")


def assessments_csv(*lines: str) -> str:
    return ASSESSMENTS_HEADER + "".join(line + "\n" for line in lines)


class TestImportAssessments:
    def test_it_imports_keeps_records_exact_and_summarises(self, tmp_path, student, other_student, algebra, capsys):
        path = write(
            tmp_path,
            "assessments.csv",
            assessments_csv(
                "s001,quiz,Math,8,10,2026-09-01T09:00:00Z,ALG1,",
                "s001,Exam,Math,70,,2026-09-03T09:00:00+02:00,,first exam",
                "s900,assignment,Physics,45.5,50,2026-09-02T09:00:00Z,,",
            ),
        )

        call_command("import_assessments", path)

        assert "read 3 rows: 3 created for 2 students, 0 invalid" in capsys.readouterr().out
        assert AssessmentLog.objects.count() == 3
        assert AssessmentLog.objects.get(comment="first exam").kind == "exam"
        assert list(algebra.assessments.values_list("score", flat=True)) == [Decimal(8)]
        assert PerformanceRecord.objects.get(student=student, scope="overall").mean == pytest.approx(75)
        assert performance.differences() == []
        (entry,) = command_entries()
        assert (entry.verb, entry.object_type) == ("import", "dashboard.assessmentlog")
        assert entry.changes["counts"] == {"rows": 3, "created": 3, "students": 2, "invalid": 0}

    def test_a_bad_line_is_named_and_nothing_is_written(self, tmp_path, student, capsys):
        path = write(
            tmp_path,
            "assessments.csv",
            assessments_csv(
                "s001,quiz,Math,8,10,2026-09-01T09:00:00Z,,",
                "s001,quiz,Math,11,10,2026-09-01T09:00:00Z,,",
                "s001,quiz,Math,5,10,2026-09-01T09:00:00,,",
                "s404,quiz,Math,5,10,2026-09-01T09:00:00Z,NOPE,",
            ),
        )

        with pytest.raises(CommandError, match="3 invalid rows: nothing was imported"):
            call_command("import_assessments", path)

        err = capsys.readouterr().err.splitlines()
        assert err[0] == "line 3: row: score 11 is above max_score 10."
        assert err[1].startswith("line 4: taken_at: Input should have timezone info")
        assert err[2:] == [
            "line 5: student: No student 's404' among those you may record assessments for.",
            "line 5: concept_modules: Unknown concept module: NOPE.",
        ]
        assert not AssessmentLog.objects.exists()
        assert not PerformanceRecord.objects.exists()
        assert not command_entries()

    def test_skip_invalid_imports_the_rest(self, tmp_path, student, capsys):
        path = write(
            tmp_path,
            "assessments.csv",
            assessments_csv("s001,quiz,Math,8,10,2026-09-01T09:00:00Z,,", "s001,quiz,Math,x,10,2026-09-01T09:00:00Z,,"),
        )

        call_command("import_assessments", path, "--skip-invalid")

        captured = capsys.readouterr()
        assert "read 2 rows: 1 created for 1 students, 1 invalid (skipped)" in captured.out
        assert captured.err.startswith("line 3: score: ")
        assert AssessmentLog.objects.count() == 1
        assert command_entries()[0].changes["counts"]["invalid"] == 1
        assert performance.differences() == []

    def test_a_file_that_is_not_csv_is_an_error(self, tmp_path):
        path = write(tmp_path, "broken.csv", ASSESSMENTS_HEADER + "s001,quiz," + "M" * 200_000 + ",1\n")

        with pytest.raises(CommandError, match="CSV parse error: field larger than field limit"):
            call_command("import_assessments", path)

    def test_a_file_beyond_the_apis_batch_size_is_imported(self, tmp_path, student, monkeypatch):
        # The API takes at most MAX_ROWS per request; a command's file has no such limit.
        monkeypatch.setattr("dashboard.ingest.MAX_ROWS", 3)
        rows = [f"s001,quiz,Math,{i},10,2026-09-0{i}T09:00:00Z,," for i in range(1, 6)]
        path = write(tmp_path, "assessments.csv", assessments_csv(*rows))

        call_command("import_assessments", path)

        assert AssessmentLog.objects.count() == 5

    def test_it_runs_as_a_command_and_exits_non_zero_on_a_bad_line(self, tmp_path):
        # A child process: the exit status an operator's script sees (it cannot see this
        # test's uncommitted rows, so the file names no student).
        path = write(tmp_path, "assessments.csv", assessments_csv("nobody,quiz,Math,8,10,2026-09-01T09:00:00Z,,"))

        result = run_manage("import_assessments", path, env={"DEBUG": "true"})

        assert result.returncode == 1
        assert "line 2: student: No student 'nobody'" in result.stderr
        assert "nothing was imported" in result.stderr


class TestRecomputePerformance:
    @pytest.fixture
    def records(self, student, other_student, add_assessment, other_teacher):
        add_assessment(student, 70, days=0)
        add_assessment(student, 90, days=2, subject="Physics")
        add_assessment(other_student, 40, actor=other_teacher)
        return PerformanceRecord.objects.count()

    def test_check_says_all_exact(self, records, capsys):
        call_command("recompute_performance", "--check")

        assert f"performance records: all {records} exact" in capsys.readouterr().out
        assert not command_entries()  # a check writes nothing

    def test_check_lists_each_difference_and_fails(self, records, student, capsys):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {PerformanceRecord._meta.db_table} SET mean = mean + 1 "  # noqa: S608
                "WHERE student_id = %s AND subject = 'Physics'",
                [student.pk],
            )
            cursor.execute(
                f"DELETE FROM {PerformanceRecord._meta.db_table} WHERE student_id = %s AND scope = 'overall'",  # noqa: S608
                [student.pk],
            )

        with pytest.raises(CommandError, match="2 performance records differ"):
            call_command("recompute_performance", "--check")

        out = capsys.readouterr().out.splitlines()
        assert out == [
            f"overall record ({student.pk},): missing",
            f"subject record ({student.pk}, 'Physics'): differs",
        ]

    def test_rebuilding_repairs_and_is_audited(self, records, student, capsys):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {PerformanceRecord._meta.db_table} SET count = 99 WHERE student_id = %s",  # noqa: S608
                [student.pk],
            )

        call_command("recompute_performance")

        assert (
            f"performance records rebuilt: {records} in all, 3 written (new or changed), 0 removed"
            in capsys.readouterr().out
        )
        assert performance.differences() == []
        (entry,) = command_entries()
        assert (entry.verb, entry.object_type) == ("rebuild", "dashboard.performancerecord")
        assert entry.changes["counts"] == {"records": records, "written": 3, "removed": 0}

    def test_the_exit_status_in_a_child_process(self):
        # The child sees the committed database: no records there, so nothing differs.
        result = run_manage("recompute_performance", "--check", env={"DEBUG": "true"})

        assert result.returncode == 0, result.stderr
        assert "performance records: all" in result.stdout


class TestPruneActions:
    @pytest.fixture
    def aged(self):
        aged_audit_entries(1, 100, 400, 500)

    @pytest.mark.usefixtures("aged")
    def test_a_dry_run_counts_and_deletes_nothing(self, capsys):
        call_command("prune_actions", "--older-than", "365d", "--dry-run")

        assert "would delete 2 audit entries older than" in capsys.readouterr().out
        assert ActionLog.objects.count() == 4
        assert not command_entries()

    @pytest.mark.usefixtures("aged")
    def test_it_deletes_the_older_entries_and_records_the_prune(self, capsys):
        call_command("prune_actions", "--older-than", "52w")

        assert "deleted 2 audit entries older than" in capsys.readouterr().out
        assert sorted(ActionLog.objects.exclude(via="command").values_list("verb", flat=True)) == ["v1", "v100"]
        (entry,) = command_entries()
        assert (entry.verb, entry.object_type) == ("prune", "veritas.actionlog")
        assert entry.changes["counts"] == {"deleted": 2}
        assert entry.actor_name.endswith("(manage.py prune_actions)")

    @pytest.mark.parametrize("age", ["365", "0d", "-3d", "soon", "1y", "99999999999d"])
    def test_a_bad_age_is_refused(self, age):
        with pytest.raises(CommandError, match="--older-than"):
            call_command("prune_actions", f"--older-than={age}")
        assert not ActionLog.objects.exists()
